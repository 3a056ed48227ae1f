package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

func newReplayCmd() *cobra.Command {
	var (
		rf      readerFlags
		sf      scenarioFlags
		vsOpt   bool
		asJSON  bool
		idLimit int
	)
	timingFree := route.TimingFree()
	cmd := &cobra.Command{
		Use:   "replay TRACE (-s router+evict[;key=value...] | --evict E[:k=v,...]) [--cache-tokens B | --cache-blocks N]",
		Short: "Hit-only sequential replay of a trace through per-worker prefix caches",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(sf.specs) == 0 {
				// --evict has a default for run; a replay names its policy.
				if !changed(cmd.Flags(), "evict") {
					return usagef("replay: give --evict (one of %s) or -s router+evict", strings.Join(evict.Names(), ", "))
				}
			}
			scs, err := sf.scenarios(cmd)
			if err != nil {
				return err
			}
			if len(scs) != 1 {
				return usagef("replay takes one scenario")
			}
			cfg, err := hitOnlyConfig(scs[0], timingFree)
			if err != nil {
				return err
			}
			cfg.VsOpt = vsOpt
			rf.seed = cfg.Seed
			opt, err := rf.options()
			if err != nil {
				return err
			}
			p := newPrinter(cmd)
			defer p.Clear()
			res, err := runReplay(cmd, p, args[0], opt, scs[0], cfg, idLimit)
			p.Clear()
			if err != nil {
				var oe *seq.OversizeError
				var ie *seq.InputError
				switch {
				case errors.As(err, &oe):
					return err
				case errors.As(err, &ie):
					return ie.Err
				}
				return fmt.Errorf("replay: %w", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			writeReplayTable(out, res)
			return nil
		},
	}
	rf.addNoSeed(cmd, "block size of formats that do not record it (Azure default 16, Mooncake 512, Qwen-Bailian 16)")
	sf.add(cmd, false, "round_robin")
	// After sf.add, which appends the timed components: a hit-only replay
	// takes only the routers that need no timing (and opt).
	cmd.Long = withComponents("Replay a trace in arrival order through each worker's prefix KV cache, one request at a\n"+
		"time (match, pin with the output allowance reserved, insert, unpin): hit ratios, evictions\n"+
		"and, with --vs-opt, misses against the offline optimum and the Belady bound with the\n"+
		"competitive-ratio bounds of the paper (kvscope help bounds). The scenario is run's (-s or the\n"+
		"flags); hit-only replay uses its router, evict, workers, cache size, seed and oversize.\n"+
		"TRACE - is standard input.", false)
	// The timed keys mean nothing to a hit-only replay: hidden, and refused
	// when set (hitOnlyConfig).
	for _, n := range []string{"profile", "latency", "rate", "time-scale", "keep-outputs", "session-timing"} {
		_ = cmd.Flags().MarkHidden(n) // errs only for a flag that does not exist

	}
	// run defaults --evict to lru; a replay is asked which policy.
	if f := cmd.Flags().Lookup("evict"); f != nil {
		f.DefValue, f.Usage = "", "eviction policy[:k=v,...], required when no -s is given: "+strings.Join(evict.Names(), ", ")
	}
	cmd.Flags().BoolVar(&vsOpt, "vs-opt", false, "also run opt and the Belady bound on each worker's sequence and report competitive ratios")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().IntVar(&idLimit, "id-limit", 0, "block ids held before unused ones are recycled (0: 8 × workers × cache size in blocks, at least 1,507,328, or for policies whose choices never depend on ids 2^27 / (32 × workers + 12), at least 65,536: about 500,000 for 8 workers; -1: never: ties break exactly as in a whole-trace replay, and memory grows with the trace's unique blocks)")
	addOutputFlags(cmd, true)
	return cmd
}

// runReplay replays the trace at path under cfg: streamed (seq.RunStream,
// memory following the caches, not the trace; the progress line counts
// bytes read) unless --vs-opt, an offline policy or --sort needs the whole
// trace (seq.Run: each worker's whole sequence, or the whole file).
func runReplay(cmd *cobra.Command, p *progress.Printer, path string, opt trace.ReadOptions, sc scenario.Scenario, cfg seq.Config, idLimit int) (*seq.Result, error) {
	if seq.CanStream(cfg) && !opt.Sort {
		opt = keepingIDs(opt, route.TraceIDs(cfg.Router.Name))
		s, err := openTrace(cmd, p, path, opt)
		if err != nil {
			return nil, &seq.InputError{Err: err}
		}
		defer s.Close()
		defaultSize(sc, &cfg, s.Info().BlockSize)
		return seq.RunStream(s, cfg, idLimit)
	}
	tr, err := loadTrace(cmd, p, path, opt)
	if err != nil {
		return nil, &seq.InputError{Err: err}
	}
	cfg.Progress = countProgress(p, "replaying", "requests", len(tr.Requests))
	defaultSize(sc, &cfg, tr.Info.BlockSize)
	return seq.Run(tr, cfg)
}

// defaultSize gives cfg the shared default cache size, in whole blocks of
// the trace (block size bs), when the scenario names none.
func defaultSize(sc scenario.Scenario, cfg *seq.Config, bs int) {
	if sc.DefaultSize() {
		cfg.Capacity, cfg.Unit = int64(sc.Sized(bs).Capacity), kvcache.Blocks
	}
}

// hitOnlyConfig turns a scenario into a hit-only replay's configuration,
// refusing what needs simulated time (a router that does, or a timed key
// away from its default). A scenario without a cache size keeps capacity 0:
// the caller sizes it once the trace's block size is known.
func hitOnlyConfig(sc scenario.Scenario, timingFree []string) (seq.Config, error) {
	def := scenario.Default(param.Spec{}, param.Spec{})
	for _, k := range []struct {
		key   string
		isSet bool
	}{
		{"profile", sc.Profile != ""},
		{"latency", sc.Latency.Name != def.Latency.Name || len(sc.Latency.Params) > 0},
		{"rate", sc.Rate != def.Rate},
		{"time_scale", sc.TimeScale != def.TimeScale},
		{"keep_outputs", sc.KeepOutputs != def.KeepOutputs},
		{"session_timing", sc.SessionTiming != def.SessionTiming},
	} {
		if k.isSet {
			return seq.Config{}, usagef("replay: %s needs simulated time; hit-only replay takes router, evict, workers, cache_tokens or cache_blocks, seed and oversize (use kvscope run)", k.key)
		}
	}
	cfg := seq.Config{Workers: sc.Workers, Router: sc.Router, Evict: sc.Evict, Unit: kvcache.Blocks,
		Capacity: int64(sc.Capacity), Seed: sc.Seed, Oversize: sc.Oversize}
	if sc.Unit == scenario.Tokens {
		cfg.Unit = kvcache.Tokens
	}
	if _, err := evict.Resolve(cfg.Evict); err != nil {
		return cfg, usagef("--evict: %v", err)
	}
	if _, ok := route.Lookup(cfg.Router.Name); !ok {
		return cfg, usagef("--router: unknown router %q (hit-only replay takes %s)", cfg.Router.Name, strings.Join(timingFree, ", "))
	}
	if route.NeedsTiming(cfg.Router.Name) {
		return cfg, usagef("--router %s needs simulated time and completion feedback: hit-only replay takes %s (use kvscope run for timed routers)",
			cfg.Router.Name, strings.Join(timingFree, ", "))
	}
	if _, err := route.Resolve(cfg.Router); err != nil {
		return cfg, usagef("--router: %v", err)
	}
	return cfg, nil
}

func fmtOpt(p *float64, prec int) string {
	if p == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*p, 'f', prec, 64)
}

func writeReplayTable(out io.Writer, res *seq.Result) {
	fmt.Fprintf(out, "scenario  %s\n", res.Scenario)
	fmt.Fprintf(out, "trace     %s (%s, block size %d)", res.Trace.Source, res.Trace.Format, res.Trace.BlockSize)
	if res.SkippedLines > 0 {
		fmt.Fprintf(out, ", %d lines skipped", res.SkippedLines)
	}
	fmt.Fprintln(out)
	if n := trace.NoPrefixNote(res.Trace.Format); n != "" {
		fmt.Fprintf(out, "note      %s\n", n)
	}
	if res.IDs != nil {
		fmt.Fprintf(out, "note      %s\n", res.IDs)
	}
	fmt.Fprintf(out, "requests  %d: %d completed (%d bypassed), %d failed\n\n", res.Requests, res.Completed, res.Bypassed, res.Failed.Count)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := "worker\trequests\ttoken hit\tblock hit\thit blocks\thit tokens\tinput tokens\tevicted (" + res.Unit + ")\tphases\t"
	if res.Ratios != nil {
		hdr += "missed\topt missed\tbelady\tvs opt\tvs belady\tk\t"
	}
	fmt.Fprintln(tw, hdr)
	row := func(name string, s *seq.Stats) {
		line := fmt.Sprintf("%s\t%d\t%.4f\t%.4f\t%d\t%d\t%d\t%d\t%d\t", name, s.Requests, s.TokenHitRatio, s.BlockHitRatio,
			s.HitBlocks, s.HitTokens, s.InputTokens, s.Evicted, s.Phases)
		if s.Ratios != nil {
			k := "n/a"
			if s.Bounds.K != nil {
				k = strconv.FormatInt(*s.Bounds.K, 10)
			}
			line += fmt.Sprintf("%d\t%d\t%d\t%s\t%s\t%s\t", s.Missed, s.OptMissed, s.BeladyMissed,
				fmtOpt(s.RatioVsOpt, 3), fmtOpt(s.RatioVsBelady, 3), k)
		}
		fmt.Fprintln(tw, line)
	}
	if len(res.Workers) > 1 {
		for i := range res.Workers {
			row(strconv.Itoa(i), &res.Workers[i].Stats)
		}
	}
	row("all", &res.Stats)
	tw.Flush()
	if r := res.Ratios; r != nil {
		fmt.Fprintf(out, "\nopt is the %s; the bound is the %s.\n", r.OptLabel, r.BeladyLabel)
		b := r.Bounds
		if b.K == nil {
			fmt.Fprintf(out, "bounds: k = B - L + 1 < 1 (L = %d): n/a\n", b.Longest)
		} else {
			fmt.Fprintf(out, "bounds (%s): k = %d (L = %d), lru = k = %d, rlt = 2·H_k = %.3f, any randomized ≥ H_k = %.3f\n",
				b.Note, *b.K, b.Longest, *b.K, *b.RLTBound, *b.HarmonicK)
		}
	}
}
