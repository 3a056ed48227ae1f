package main

import (
	"io"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/internal/atomicfile"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Predict a measured benchmark run with the vllm model and compare",
		Long: "validate simulates a benchmark run with the vllm latency model and puts the prediction\n" +
			"beside the run's own measurements. Subcommand: inference-perf.",
		Args: exactArgs(0),
	}
	cmd.AddCommand(newValidateInferencePerfCmd())
	return cmd
}

func newValidateInferencePerfCmd() *cobra.Command {
	var (
		o      analysis.ValidateOptions
		asJSON bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "inference-perf DIR [DIR...] [--profile P | --gpu G [--model M] [--tp N]] [--latency vllm[:key=value,...]] [--json] [-o REPORT]",
		Short: "Simulate an inference-perf run folder and compare with its lifecycle metrics",
		Long: "inference-perf DIR simulates the run in DIR (results/config.yaml, or DIR/config.yaml) on\n" +
			"one vLLM worker: the configured workload and stages, the server settings of\n" +
			"exp-config.yaml beside results/ (model, tensor_parallelism, max_model_len,\n" +
			"max_num_batched_tokens, max_num_seqs; flags override), the hardware of --gpu (or\n" +
			"--profile), and the vllm latency model with kvscope's calibration (analysis.VLLMCalibration:\n" +
			"step_ms, memory_efficiency, frontend_ms) and timeout_s=300; --latency's keys override\n" +
			"any of them. It prints, per stage and for the summary, the predicted ttft_ms, itl_ms,\n" +
			"e2e_ms (mean, p50, p90, p99), throughput_rps, completed and failed and, where DIR holds\n" +
			"inference-perf's lifecycle metrics, the measured ones and the signed errors\n" +
			"100 × (predicted − measured) / measured. itl_ms is per output token of the configured\n" +
			"output length: (E2E − TTFT) / (output − 1); measured, (mean E2E − mean TTFT) /\n" +
			"(output − 1). --json prints JSON (stages[], summary; each predicted, measured,\n" +
			"error_pct); -o writes .md, .html, .json or .csv.\n\n" +
			"With several DIRs it prints one line per experiment (failed shares, summary mean\n" +
			"errors) and the median |error| of the E2E, TTFT and ITL means over the measured\n" +
			"experiments with fewer than 10% failed requests (--json: experiments[], included,\n" +
			"median_abs_error_pct); -o is for one DIR.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				if output != "" {
					return usagef("-o: give one DIR (several DIRs print a table, or JSON with --json)")
				}
				set, err := analysis.ValidateAll(cmd.Context(), args, o)
				if err != nil {
					return err
				}
				if asJSON {
					return set.WriteJSON(cmd.OutOrStdout())
				}
				return set.WriteText(cmd.OutOrStdout())
			}
			var format analysis.Format
			if output != "" {
				f, err := analysis.FormatOf(output)
				if err != nil {
					return usageError{err}
				}
				format = f
			}
			if o.TP < 0 {
				return usagef("--tp %d: must be at least 1", o.TP)
			}
			rep, err := analysis.Validate(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if output != "" {
				if err := atomicfile.Write(output, func(w io.Writer) error { return rep.Write(w, format) }); err != nil {
					return err
				}
				newPrinter(cmd).Wrote(output)
				return nil
			}
			if asJSON {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteText(cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Profile, "profile", "", "GPU profile name or file (instead of --gpu, --model, --tp)")
	fl.StringVar(&o.GPU, "gpu", "", "catalogue GPU the run used (h100-sxm for the inference-sim runs)")
	fl.StringVar(&o.Model, "model", "", "catalogue or Hugging Face model name (default: exp-config.yaml's)")
	fl.IntVar(&o.TP, "tp", 0, "tensor-parallel degree (default: exp-config.yaml's, else 1)")
	fl.StringVar(&o.Latency, "latency", "", "vllm[:key=value,...]: keys override exp-config.yaml's and the calibration")
	fl.Uint64Var(&o.Seed, "seed", 1, "seed of the workload's draws (as kvscope gen inference-perf --seed)")
	fl.BoolVar(&asJSON, "json", false, "print JSON instead of tables")
	fl.StringVarP(&output, "output", "o", "", "write the report to this file (.md, .html, .json or .csv)")
	addOutputFlags(cmd, false)
	return cmd
}
