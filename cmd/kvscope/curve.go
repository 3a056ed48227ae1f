package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/spf13/cobra"
)

func newCurveCmd() *cobra.Command {
	var (
		rf                readerFlags
		workers, seeds    int
		router, evictSpec string
		unit, model       string
		oversize          string
		at, optAt, rltAt  string
		sample            float64
		seed              uint64
		asJSON            bool
		output            string
	)
	timingFree := route.TimingFree()
	var models []string
	for _, m := range gpuprofile.Models() {
		models = append(models, m.Name)
	}
	cmd := &cobra.Command{
		Use:   "curve TRACE [--workers N --router R] [--sample RATE] [--at C1,C2,...] [--json] [-o curve.html|.md|.csv|.json]",
		Short: "Hit ratio of tree-LRU at every cache size, in one pass (capacity planning)",
		Long: "curve computes the block and token hit ratios that `kvscope replay --evict lru` would report\n" +
			"at every cache size, exactly, from one pass over the trace (stack distances with the\n" +
			"output allowance and tail tokens reserved per request, as replay does). It starts at L,\n" +
			"the largest request, below which replay stops or skips requests. It marks the KV capacity\n" +
			"of each catalogue GPU × TP for --model, the knees (smallest sizes reaching 50%, 80% and\n" +
			"90% of the unbounded hit ratio), and replays opt (with the Belady bound) at --opt-at and\n" +
			"rlt at --rlt-at over --seeds seeds. --sample RATE estimates the curve from a SHARDS\n" +
			"sample of the block ids. Below L, --oversize fail or bypass (as replay) gives the points\n" +
			"asked for (--at, GPU capacities, --opt-at, --rlt-at) by one more pass each.\n\n" +
			"Output: Markdown on stdout, --json on stdout, or -o FILE by extension (.md, .html, .json,\n" +
			".csv; written atomically). JSON and CSV list every size where the ratio changes (or\n" +
			"exactly --at's). Routers (no timing): " + strings.Join(timingFree, ", ") + ".",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := curve.Config{Workers: workers, Seed: seed, Sample: sample, Oversize: oversize}
			switch oversize {
			case "error", "fail", "bypass":
			default:
				return usagef("--oversize %q: want error, fail or bypass", oversize)
			}
			switch unit {
			case "blocks":
				cfg.Unit = kvcache.Blocks
			case "tokens":
				cfg.Unit = kvcache.Tokens
			default:
				return usagef("--unit %q: want blocks or tokens", unit)
			}
			if workers < 1 || workers > 4096 {
				return usagef("--workers %d: must be in [1, 4096]", workers)
			}
			if !(sample >= 0 && sample <= 1) {
				return usagef("--sample %g: want a rate in (0, 1] (0: exact)", sample)
			}
			if seeds < 1 {
				return usagef("--seeds %d: must be at least 1", seeds)
			}
			var err error
			if cfg.Evict, err = param.Parse(evictSpec); err != nil {
				return usagef("--evict: %v", err)
			}
			if cfg.Router, err = param.Parse(router); err != nil {
				return usagef("--router: %v", err)
			}
			if _, ok := route.Lookup(cfg.Router.Name); !ok {
				return usagef("--router: unknown router %q (curve takes %s)", cfg.Router.Name, strings.Join(timingFree, ", "))
			}
			if model != "" {
				if _, err := gpuprofile.LookupModel(model); err != nil {
					return usagef("--model: %v", err)
				}
			}
			var opt analysis.CurveOptions
			opt.Model, opt.Seeds = model, seeds
			for _, l := range []struct {
				flag, val string
				dst       *[]int64
			}{{"at", at, &opt.At}, {"opt-at", optAt, &opt.OptAt}, {"rlt-at", rltAt, &opt.RLTAt}} {
				if *l.dst, err = parseCapacities(l.flag, l.val); err != nil {
					return err
				}
			}
			format := analysis.FormatMarkdown
			switch {
			case output != "" && asJSON:
				return usagef("give --json (stdout) or -o FILE, not both")
			case output != "":
				if format, err = analysis.FormatOf(output); err != nil {
					return usageError{err}
				}
				if err := probeWritable(output); err != nil {
					return err
				}
			case asJSON:
				format = analysis.FormatJSON
			}
			rf.seed = seed
			ropt, err := rf.options()
			if err != nil {
				return err
			}
			p := newPrinter(cmd)
			defer p.Clear()
			tr, err := loadTrace(cmd, p, args[0], ropt)
			if err != nil {
				return err
			}
			p.Final(func() string { return "curve: replaying " + progress.Count(int64(len(tr.Requests))) + " requests…" })
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			rep, err := analysis.NewCurveReport(ctx, tr, cfg, opt)
			p.Clear()
			var below *curve.BelowMinError
			switch {
			case errors.As(err, &below), errors.Is(err, curve.ErrNotExact):
				return usageError{fmt.Errorf("curve: %w", err)}
			case err != nil:
				return fmt.Errorf("curve: %w", err)
			}
			rep.Command, rep.Version = curveCommand(cmd, args[0]), version
			if output == "" {
				return rep.Write(cmd.OutOrStdout(), format)
			}
			if err := rep.WriteFile(output, format); err != nil {
				return fmt.Errorf("report %s: %w", output, err)
			}
			p.Wrote(output)
			return nil
		},
	}
	rf.addNoSeed(cmd, "block size of formats that do not record it (Azure default 16, Mooncake 512, Qwen-Bailian 16)")
	f := cmd.Flags()
	f.IntVar(&workers, "workers", scenario.DefaultWorkers, "number of workers (the capacity is per worker; the default is every command's)")
	f.StringVar(&router, "router", curve.Router, "router needing no timing: "+strings.Join(timingFree, ", "))
	f.StringVar(&evictSpec, "evict", curve.Policy, "eviction policy: only "+curve.Policy+" has a one-pass curve (others: --rlt-at, --opt-at, kvscope replay)")
	f.StringVar(&unit, "unit", "blocks", "capacity unit: blocks (paged, one trace block a page) or tokens")
	f.Float64Var(&sample, "sample", 0, "SHARDS sampling rate in (0, 1] for traces too large to pass exactly (0: exact)")
	f.StringVar(&oversize, "oversize", "error", "below L, the largest request: error (replay stops: no point), fail or bypass (one more pass per capacity asked)")
	f.StringVar(&at, "at", "", "list exactly these capacities (comma-separated, in --unit, each ≥ L) instead of every step")
	f.StringVar(&model, "model", "llama-3.1-8b", "catalogue model for the KV GiB axis and the GPU × TP capacities (\"\" for none): "+strings.Join(models, ", "))
	f.StringVar(&optAt, "opt-at", "", "capacities at which to replay opt and the Belady bound (comma-separated)")
	f.StringVar(&rltAt, "rlt-at", "", "capacities at which to replay rlt over --seeds seeds (comma-separated)")
	f.IntVar(&seeds, "seeds", 5, "rlt seeds 1..N at each --rlt-at capacity")
	f.Uint64Var(&seed, "seed", 1, "scenario seed (router stream, sample hash, reader)")
	f.BoolVar(&asJSON, "json", false, "print the JSON report on stdout")
	f.StringVarP(&output, "output", "o", "", "write the report to FILE (.md, .html, .json or .csv), atomically")
	addOutputFlags(cmd, true)
	return cmd
}

// parseCapacities reads "C1,C2,..." (positive integers, kept in order).
func parseCapacities(flag, s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int64
	for _, part := range strings.Split(s, ",") {
		c, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil || c < 1 {
			return nil, usagef("--%s %q: %q is not a positive integer capacity", flag, s, part)
		}
		out = append(out, c)
	}
	return out, nil
}

// curveCommand is the command line that reproduces the report: the trace
// and every flag that was set, in name order.
func curveCommand(cmd *cobra.Command, tracePath string) string {
	return analysis.ShellQuote(append([]string{"kvscope", "curve", tracePath}, flagArgs(cmd, false)...))
}
