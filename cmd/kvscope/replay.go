package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

func newReplayCmd() *cobra.Command {
	var (
		rf          readerFlags
		workers     int
		router      string
		cacheTokens int64
		cacheBlocks int64
		evictSpec   string
		seed        uint64
		oversize    string
		vsOpt       bool
		asJSON      bool
	)
	var timingFree []string
	for _, n := range route.Names() {
		if !route.NeedsTiming(n) {
			timingFree = append(timingFree, n)
		}
	}
	cmd := &cobra.Command{
		Use:   "replay TRACE (--cache-tokens B | --cache-blocks N) --evict E[:k=v,...]",
		Short: "Hit-only sequential replay of a trace through per-worker prefix caches",
		Long: "Replay a trace in arrival order through each worker's prefix KV cache, one request at a\n" +
			"time (match, pin with the output allowance reserved, insert, unpin): hit ratios, evictions\n" +
			"and, with --vs-opt, misses against the offline optimum and the Belady bound with the\n" +
			"competitive-ratio bounds of the paper.\n\n" + componentsHelp(false),
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			cfg := seq.Config{Workers: workers, Seed: seed, Oversize: oversize, VsOpt: vsOpt}
			switch {
			case fl.Changed("cache-tokens") && fl.Changed("cache-blocks"):
				return usagef("give --cache-tokens or --cache-blocks, not both")
			case fl.Changed("cache-tokens"):
				cfg.Unit, cfg.Capacity = kvcache.Tokens, cacheTokens
			case fl.Changed("cache-blocks"):
				cfg.Unit, cfg.Capacity = kvcache.Blocks, cacheBlocks
			default:
				return usagef("replay: give the cache size: --cache-tokens B or --cache-blocks N")
			}
			if cfg.Capacity < 1 {
				return usagef("cache size %d: must be a positive integer", cfg.Capacity)
			}
			if workers < 1 || workers > 4096 {
				return usagef("--workers %d: must be in [1, 4096]", workers)
			}
			switch oversize {
			case "error", "fail", "bypass":
			default:
				return usagef("--oversize %q: want error, fail or bypass", oversize)
			}
			if evictSpec == "" {
				return usagef("replay: give --evict (one of %s)", strings.Join(evict.Names(), ", "))
			}
			var err error
			if cfg.Evict, err = param.Parse(evictSpec); err != nil {
				return usagef("--evict: %v", err)
			}
			if _, err := evict.Resolve(cfg.Evict); err != nil {
				return usagef("--evict: %v", err)
			}
			if cfg.Router, err = param.Parse(router); err != nil {
				return usagef("--router: %v", err)
			}
			if _, ok := route.Lookup(cfg.Router.Name); !ok {
				return usagef("--router: unknown router %q (hit-only replay takes %s)", cfg.Router.Name, strings.Join(timingFree, ", "))
			}
			if route.NeedsTiming(cfg.Router.Name) {
				return usagef("--router %s needs simulated time and completion feedback: hit-only replay takes %s (use kvscope run for timed routers)",
					cfg.Router.Name, strings.Join(timingFree, ", "))
			}
			if _, err := route.Resolve(cfg.Router); err != nil {
				return usagef("--router: %v", err)
			}
			rf.seed = seed
			opt, err := rf.options()
			if err != nil {
				return err
			}
			tr, err := trace.Load(args[0], opt)
			if err != nil {
				return err
			}
			res, err := seq.Run(tr, cfg)
			if err != nil {
				var oe *seq.OversizeError
				if errors.As(err, &oe) {
					return err
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
	f := cmd.Flags()
	f.StringVar(&rf.format, "format", "", "input format: auto-detected from the content, or one of "+formatList())
	f.BoolVar(&rf.skipBad, "skip-bad", false, "skip (and count) records that do not parse instead of stopping")
	f.BoolVar(&rf.sort, "sort", false, "put requests in arrival order (otherwise an out-of-order arrival is an error)")
	f.IntVar(&rf.blockSize, "block-size", 0, "block size of formats that do not record it (Azure default 16, Mooncake 512, Qwen-Bailian 16)")
	f.StringVar(&rf.sessionStart, "session-start", "", "kv-cache-tester session starts: zero (default), poisson:rate=R or stagger:s=S")
	f.IntVar(&workers, "workers", 1, "number of workers")
	f.StringVar(&router, "router", "round_robin", "router needing no timing: "+strings.Join(timingFree, ", "))
	f.Int64Var(&cacheTokens, "cache-tokens", 0, "cache capacity per worker in tokens (a block weighs its token count)")
	f.Int64Var(&cacheBlocks, "cache-blocks", 0, "cache capacity per worker in blocks (every block weighs 1)")
	f.StringVar(&evictSpec, "evict", "", "eviction policy name[:key=value,...]: "+strings.Join(evict.Names(), ", "))
	f.Uint64Var(&seed, "seed", 1, "scenario seed (router and per-worker eviction streams)")
	f.StringVar(&oversize, "oversize", "error", "a request larger than the cache: error (stop before any work), fail, or bypass (serve uncached)")
	f.BoolVar(&vsOpt, "vs-opt", false, "also run opt and the Belady bound on each worker's sequence and report competitive ratios")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
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
