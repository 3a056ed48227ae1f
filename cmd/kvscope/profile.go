package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/internal/progress"
)

// newProfileCmd wires `kvscope profile list|show|predict|fit`.
func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "GPU × model latency profiles: list, show, predict, fit",
		Long: "A profile is a GPU × model × tensor-parallel degree with fitted efficiencies and\n" +
			"overheads; it gives the engine latency model its iteration times and KV capacity.\n" +
			"Names: built-in measured profiles and GPU-MODEL[-tpN] from the catalogue; a path\n" +
			"to a profile JSON file works wherever a name does.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("profile: name a subcommand (list, show, predict, fit)")
		},
	}
	cmd.AddCommand(newProfileListCmd(), newProfileShowCmd(), newProfilePredictCmd(), newProfileFitCmd())
	return cmd
}

// lookupProfile resolves a name; an unknown name is a usage error listing the valid ones.
func lookupProfile(name string) (*gpuprofile.Profile, error) {
	p, err := gpuprofile.Lookup(name)
	var ue *gpuprofile.UnknownProfileError
	if errors.As(err, &ue) {
		return nil, usagef("%w", err)
	}
	return p, err
}

func newProfileListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List built-in profiles with their capacity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			type row struct {
				Name       string `json:"name"`
				GPU        string `json:"gpu"`
				Model      string `json:"model"`
				TP         int    `json:"tp"`
				CacheToks  int    `json:"cache_tokens"`
				KVBytes    int64  `json:"kv_bytes_per_token"`
				Kind       string `json:"kind"`
				Unverified bool   `json:"has_unverified_figures"`
			}
			var rows []row
			for _, n := range gpuprofile.Names() {
				p, err := gpuprofile.Lookup(n)
				if err != nil {
					return err
				}
				kind := "roofline"
				if p.Fit != nil {
					kind = "measured"
				}
				rows = append(rows, row{n, p.GPUName, p.ModelName, p.TP, p.CacheTokens(), p.KVBytesPerToken(), kind,
					len(p.GPU.Unverified)+len(p.Model.Unverified) > 0})
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, rows)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tGPU\tMODEL\tTP\tCACHE_TOKENS\tKV_B/TOK\tKIND\tNOTE")
			for _, r := range rows {
				note := ""
				if r.Unverified {
					note = "unverified figure(s)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Name, r.GPU, r.Model, r.TP, r.CacheToks, r.KVBytes, r.Kind, note)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return cmd
}

func newProfileShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME|FILE",
		Short: "Show a profile: GPU and model figures with sources, efficiencies, capacity",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := lookupProfile(args[0])
			if err != nil {
				return err
			}
			ac, am := p.LBGRPaperCoefficients()
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, map[string]any{
					"profile": p, "gpu_spec": p.GPU, "model_spec": p.Model,
					"params": p.Model.Params(), "active_params": p.Model.ActiveParams(),
					"weight_bytes": p.WeightBytes(), "mem_fraction": p.MemFractionUsed(),
					"kv_bytes_per_token": p.KVBytesPerToken(), "cache_tokens": p.CacheTokens(),
					"lbgr_paper_cached_ms_per_token": ac, "lbgr_paper_miss_ms_per_token": am,
				})
			}
			g, m := p.GPU, p.Model
			fmt.Fprintf(out, "profile %s\n", p.Name)
			if p.Description != "" {
				fmt.Fprintf(out, "  %s\n", p.Description)
			}
			fmt.Fprintf(out, "gpu %s (%s): bf16 dense %.1f TFLOP/s, memory %.0f GiB at %.0f GB/s\n", g.Name, g.Display, g.BF16FLOPS/1e12, g.MemoryGiB, g.MemBandwidth/1e9)
			printSources(out, g.Sources, g.Unverified)
			fmt.Fprintf(out, "model %s (%s): %d layers, hidden %d, %d heads, %d KV heads, head_dim %d, intermediate %d, vocab %d",
				m.Name, m.HFName, m.Layers, m.Hidden, m.Heads, m.KVHeads, m.HeadDim, m.Intermediate, m.Vocab)
			if m.Experts > 0 {
				fmt.Fprintf(out, ", %d experts (%d per token)", m.Experts, m.ExpertsPerToken)
			}
			fmt.Fprintf(out, "\n  parameters %d (active %d), derived from the shape\n", m.Params(), m.ActiveParams())
			printSources(out, m.Sources, m.Unverified)
			fmt.Fprintf(out, "tp %d; efficiencies: compute %.4f, attention %.4f (cached context %.4f), memory %.4f; overhead %.3f ms; min iteration %.3f ms\n",
				p.TP, p.ComputeEfficiency, p.AttentionEfficiency, p.CachedAttentionEfficiency, p.MemoryEfficiency, p.OverheadMS, p.MinIterationMS)
			fmt.Fprintf(out, "capacity: mem_fraction %.3f, weights %.2f GiB, KV %d bytes/token, cache %d tokens\n",
				p.MemFractionUsed(), p.WeightBytes()/(1<<30), p.KVBytesPerToken(), p.CacheTokens())
			fmt.Fprintf(out, "lbgr:preset=paper: a_c %.5f ms per cached token (context 0), a_m %.5f ms per missed token (4096-token prompt)\n", ac, am)
			if f := p.Fit; f != nil {
				fmt.Fprintf(out, "fit: %s, %d points (%d fitted, %d held out), MAPE %.2f%%\n", f.Measurements, f.Points, f.FitPoints, f.HeldOut, f.MAPE)
				for _, r := range gpuprofile.Regimes {
					fmt.Fprintf(out, "  held-out %-15s MAPE %6.2f%%  p90 %6.2f%%\n", r, f.HeldOutMAPE[r], f.HeldOutP90[r])
				}
				if f.Notes != "" {
					fmt.Fprintf(out, "  %s\n", f.Notes)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return cmd
}

func printSources(out io.Writer, sources, unverified []string) {
	for _, s := range sources {
		fmt.Fprintf(out, "  source: %s\n", s)
	}
	if len(unverified) > 0 {
		fmt.Fprintf(out, "  unverified: %s\n", strings.Join(unverified, ", "))
	}
}

func newProfilePredictCmd() *cobra.Command {
	var newTok, cached, batch, context int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "predict NAME|FILE --new N [--cached C] [--batch B] [--context X]",
		Short: "Predict a prefill iteration and a decode step",
		Long: "prefill_ms: one iteration prefilling B sequences of N new tokens on top of C cached.\n" +
			"decode_step_ms: one iteration decoding B sequences with X tokens of context each\n" +
			"(X defaults to C+N, the context those sequences have after their prefill).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("new") {
				return usagef("predict: --new N is required")
			}
			if newTok < 1 {
				return usagef("--new %d: must be at least 1", newTok)
			}
			if cached < 0 {
				return usagef("--cached %d: must not be negative", cached)
			}
			if batch < 1 {
				return usagef("--batch %d: must be at least 1", batch)
			}
			if !cmd.Flags().Changed("context") {
				context = cached + newTok
			}
			if context < 0 {
				return usagef("--context %d: must not be negative", context)
			}
			p, err := lookupProfile(args[0])
			if err != nil {
				return err
			}
			var pre, dec gpuprofile.Iteration
			for i := 0; i < batch; i++ {
				pre.Prefill = append(pre.Prefill, gpuprofile.PrefillChunk{NewTokens: newTok, CachedTokens: cached})
				dec.DecodeContexts = append(dec.DecodeContexts, context)
			}
			pb, db := p.Estimate(pre), p.Estimate(dec)
			need := int64(batch) * int64(cached+newTok)
			res := map[string]any{
				"profile": p.Name, "new": newTok, "cached": cached, "batch": batch, "context": context,
				"prefill_ms": round(pb.TotalMS), "decode_step_ms": round(db.TotalMS),
				"cache_tokens": p.CacheTokens(), "kv_bytes_per_token": p.KVBytesPerToken(),
				"prefill_breakdown": pb, "decode_breakdown": db,
				"fits_in_cache": need <= int64(p.CacheTokens()),
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, res)
			}
			fmt.Fprintf(out, "%s: prefill %d×(%d new + %d cached) %.3f ms; decode step %d×ctx %d %.3f ms\n",
				p.Name, batch, newTok, cached, pb.TotalMS, batch, context, db.TotalMS)
			fmt.Fprintf(out, "cache %d tokens, %d KV bytes/token\n", p.CacheTokens(), p.KVBytesPerToken())
			if need > int64(p.CacheTokens()) {
				fmt.Fprintf(out, "warning: %d tokens of KV exceed the cache of %d tokens\n", need, p.CacheTokens())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&newTok, "new", 0, "new (uncached) prompt tokens per sequence")
	f.IntVar(&cached, "cached", 0, "cached prompt tokens per sequence")
	f.IntVar(&batch, "batch", 1, "sequences in the iteration")
	f.IntVar(&context, "context", 0, "decode context per sequence (default cached+new)")
	f.BoolVar(&asJSON, "json", false, "write JSON")
	return cmd
}

func newProfileFitCmd() *cobra.Command {
	var base, outPath, name, desc string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "fit MEASUREMENTS.csv --base NAME -o PROFILE.json",
		Short: "Fit a profile's efficiencies and overheads to measurements",
		Long: "Least squares (relative errors) on the efficiencies, overhead and floor of the\n" +
			"base profile's GPU × model × TP. Prefill points with more than 8,192 new or cached\n" +
			"tokens and every fifth remaining point per regime are held out before fitting.\n" +
			"The ceilings in the CSV's comment lines (# ceiling_matmul_bf16_tflops=,\n" +
			"# ceiling_copy_gbps=) bound the efficiencies at the share of datasheet they reached.\n" +
			"Prints MAPE overall, per regime and per point.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if base == "" {
				return usagef("fit: --base NAME is required")
			}
			if outPath == "" {
				return usagef("fit: -o PROFILE.json is required")
			}
			bp, err := lookupProfile(base)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			pts, ceil, err := gpuprofile.ReadMeasurementSet(f, args[0])
			if err != nil {
				return err
			}
			rep, err := gpuprofile.Fit(bp, pts, ceil)
			if err != nil {
				return err
			}
			rep.WriteReport(cmd.OutOrStdout(), !quiet)
			if name == "" {
				name = bp.Name + "-fit"
			}
			if desc == "" {
				desc = fmt.Sprintf("fitted to %s on base %s", args[0], bp.Name)
			}
			p, err := rep.Apply(bp, name, desc, args[0])
			if err != nil {
				return err
			}
			b, err := p.MarshalIndent()
			if err != nil {
				return err
			}
			if err := os.WriteFile(outPath, b, 0o644); err != nil {
				return err
			}
			// On stderr, as every command's wrote line; --quiet, which
			// drops the per-point table, drops it too.
			progress.New(cmd.ErrOrStderr(), progress.Never, quiet).Wrote(outPath, "profile "+p.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&base, "base", "", "catalogue profile giving GPU, model and TP (e.g. h200-llama-3.1-8b)")
	f.StringVarP(&outPath, "output", "o", "", "profile JSON to write")
	f.StringVar(&name, "name", "", "name of the fitted profile (default BASE-fit)")
	f.StringVar(&desc, "description", "", "description stored in the profile")
	f.BoolVar(&quiet, "quiet", false, "omit the per-point table and the \"wrote FILE\" line")
	return cmd
}

func round(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
