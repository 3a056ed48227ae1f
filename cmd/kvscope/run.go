package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	var (
		rf       readerFlags
		sf       scenarioFlags
		vsOpt    bool
		asJSON   bool
		idLimit  int
		pct      string
		spill    string
		spillDir string
		detail   bool
	)
	cmd := &cobra.Command{
		Use:   "run TRACE",
		Short: "Replay a trace through a modeled cluster in simulated time (routers, queues, TTFT, load)",
		Long: "run replays TRACE through modeled workers under one scenario (kvscope help scenario): arrivals at the\n" +
			"trace's timestamps, the router deciding per request, each worker's prefix cache and\n" +
			"latency model. It prints hit ratios, TTFT/E2E percentiles, queueing, throughput,\n" +
			"max_load_s against its lower bound, imbalance and per-worker figures. TRACE - is\n" +
			"standard input. Ctrl-C stops it with exit status 130, writing nothing (a second one\n" +
			"ends it at once).",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			scs, err := sf.scenarios(cmd)
			if err != nil {
				return err
			}
			if len(scs) != 1 {
				return usagef("run takes one scenario (use `kvscope compare` for several)")
			}
			sc := scs[0]
			if _, err := sim.Resolve(sc); err != nil {
				return usageError{err}
			}
			opt, err := rf.options()
			if err != nil {
				return err
			}
			opt.Seed = sc.Seed
			p := newPrinter(cmd)
			defer p.Clear()
			if pct != "exact" && pct != "sketch" {
				return usagef("--percentiles: %q: exact or sketch", pct)
			}
			// Ctrl-C (or SIGTERM) stops the run: a partial trace's figures
			// are not the trace's, so nothing is written, and --spill's
			// files are dropped. After the first, the default handling is
			// back: a second one ends the process at once (loading a whole
			// trace does not look at ctx).
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			context.AfterFunc(ctx, stop)
			cmd.SetContext(ctx)
			if detail && spill == "" {
				return usagef("--spill-detail adds to --spill's run: give --spill DIR")
			}
			m, err := simulateRun(cmd, p, args[0], opt, sc, runOutputs{vsOpt: vsOpt, idLimit: idLimit, sketch: pct == "sketch", spill: spill, spillDir: spillDir, detail: detail})
			if err != nil && ctx.Err() != nil {
				return interruptedError{errors.New("run: interrupted: no report written (its figures need the whole trace), nor --spill's files")}
			}
			if err != nil {
				return err
			}
			p.Clear()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(m)
			}
			printRunMetrics(cmd.OutOrStdout(), &m)
			return nil
		},
	}
	rf.addNoSeed(cmd, "tokens per block for traces without prefix data (Azure; default 16)")
	sf.add(cmd, false, "round_robin")
	cmd.Flags().BoolVar(&vsOpt, "vs-opt", false, "per worker, replay its prefill-start-ordered sequence with opt and the Belady bound and report competitive ratios")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&pct, "percentiles", "exact", "exact: from every request's values (24 bytes a request, held up to 64 MB, then spilled sorted to a temporary file in --spill-dir); sketch: from DDSketch sketches, within 1% of the exact values, in constant memory")
	cmd.Flags().StringVar(&spill, "spill", "", "write the run to this directory as it goes (every request's record and its own fields from the trace, the event log, each worker's states and the router's loads: 410–470 bytes a request, 370–430 measured before the 40 of requests.kvq), for `kvscope inspect`")
	cmd.Flags().BoolVar(&detail, "spill-detail", false, "with --spill: also every worker's router score and true cached prefix per request (8 bytes a worker a request, one cache match per worker per request; `kvscope inspect` prints them)")
	cmd.Flags().StringVar(&spillDir, "spill-dir", "", "directory for the exact percentiles' spilled values (default: the system's temporary directory); the file is unlinked once created")
	cmd.Flags().IntVar(&idLimit, "id-limit", 0, "block ids held before unused ones are recycled, when the trace is streamed (0: as `kvscope replay --id-limit`; -1: never, and memory grows with the trace's unique blocks)")
	addOutputFlags(cmd, true)
	return cmd
}

// runOutputs are run's choices beyond the scenario: competitive ratios,
// the streamed block table's limit, sketched percentiles, the directory
// the run is spilled to (with its detail file or not) and where exact
// percentiles spill.
type runOutputs struct {
	vsOpt           bool
	idLimit         int
	sketch          bool
	spill, spillDir string
	detail          bool
}

// simulateRun replays the trace at path under sc and summarises it:
// streamed (analysis.SummaryStream: memory follows the caches and the
// requests in flight, not the trace; the progress line counts bytes read)
// unless --vs-opt (each worker's whole sequence), session_timing=closed
// or keep_outputs (a request's later turns) need the whole trace.
func simulateRun(cmd *cobra.Command, p *progress.Printer, path string, opt trace.ReadOptions, sc scenario.Scenario, o runOutputs) (m analysis.RunMetrics, err error) {
	t := analysis.NewTally(sc.Workers)
	if o.sketch {
		t = analysis.NewSketchTally(sc.Workers)
	}
	var sw *sim.SpillWriter
	var spilled *sim.Run // the finished run, for the spill's footer
	if o.spill != "" {
		if sw, err = sim.CreateSpill(o.spill, sc); err != nil {
			return m, fmt.Errorf("--spill: %w", err)
		}
		defer func() {
			if err != nil {
				sw.Abort()
			} else if err = sw.Close(spilled); err != nil {
				err = fmt.Errorf("--spill: %w", err)
			}
		}()
	}
	if !o.vsOpt && sim.CanStream(sc) {
		// The bound hears of the ids it needs as they come and go.
		opt = keepingIDs(opt, route.TraceIDs(sc.Router.Name))
		var s *trace.Stream
		if s, err = openTrace(cmd, p, path, opt); err != nil {
			return m, err
		}
		defer s.Close()
		t.SpillValues(o.spillDir, 0)
		defer t.Close()
		so := sim.StreamOptions{IDLimit: o.idLimit}
		if sw != nil {
			sw.Hook(&so)
			so.OnEnd = func(r *sim.Run) { spilled = r }
			if o.detail {
				if err = sw.Detail(&so); err != nil {
					return m, fmt.Errorf("--spill-detail: %w", err)
				}
			}
		}
		m, err = analysis.SummaryStream(cmd.Context(), s, sc, so, t)
		var ie *sim.InputError
		if errors.As(err, &ie) {
			return m, ie.Err
		}
		if err == nil {
			err = cmd.Context().Err() // the input may have ended because of the interrupt
		}
		return m, err
	}
	tr, err := loadTrace(cmd, p, path, opt)
	if err != nil {
		return m, err
	}
	run, err := sim.Simulate(cmd.Context(), tr, sc, sim.Options{Progress: countProgress(p, "replaying", "requests", len(tr.Requests)), RequestDetail: o.detail})
	if err == nil {
		err = cmd.Context().Err()
	}
	if err != nil {
		return m, err
	}
	if sw != nil {
		if o.detail {
			if err = sw.Detail(nil); err != nil {
				return m, fmt.Errorf("--spill-detail: %w", err)
			}
		}
		sw.WriteRun(run, tr)
		spilled = run
	}
	m = analysis.SummaryTally(tr, run, sc, t)
	if o.vsOpt {
		rs, err := analysis.RatiosProgress(cmd.Context(), tr, run, sc, countProgress(p, "opt and Belady", "request passes", 0))
		if err != nil {
			return m, err
		}
		m.SetRatios(rs)
	}
	return m, nil
}

func f3(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.3f", x)
}

func f1(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.1f", x)
}

func printRunMetrics(w io.Writer, m *analysis.RunMetrics) {
	fmt.Fprintf(w, "scenario  %s\n", m.Scenario)
	fmt.Fprintf(w, "trace     %s (%s, block size %d)\n", m.Trace.Source, m.Trace.Format, m.Trace.BlockSize)
	if n := trace.NoPrefixNote(m.Trace.Format); n != "" {
		fmt.Fprintf(w, "note      %s\n", n)
	}
	fmt.Fprintf(w, "requests  %d: %d completed (%d bypassed), %d failed, %d lines skipped\n",
		m.Requests, m.Completed, m.Bypassed, m.Failed, m.SkippedLines)
	for _, r := range m.FailureReasons() {
		fmt.Fprintf(w, "          failed %d× %s\n", m.FailedReasons[r], r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nhit ratio\ttokens %s\tblocks %s\n", f3(m.TokenHitRatio), f3(m.BlockHitRatio))
	fmt.Fprintf(tw, "TTFT ms\tp50 %s\tp90 %s\tp99 %s\tmean %s\n", f1(m.TTFT.P50), f1(m.TTFT.P90), f1(m.TTFT.P99), f1(m.TTFT.Mean))
	fmt.Fprintf(tw, "E2E ms\tp50 %s\tp90 %s\tp99 %s\tmean %s\n", f1(m.E2E.P50), f1(m.E2E.P90), f1(m.E2E.P99), f1(m.E2E.Mean))
	fmt.Fprintf(tw, "queue ms\tp50 %s\tp90 %s\tp99 %s\tmean %s\n", f1(m.Queue.P50), f1(m.Queue.P90), f1(m.Queue.P99), f1(m.Queue.Mean))
	lb := "–"
	if m.MaxLoadLowerBoundS != nil {
		lb = fmt.Sprintf("%s (×%s)", f3(*m.MaxLoadLowerBoundS), f3(*m.MaxLoadRatio))
	}
	fmt.Fprintf(tw, "load\tmax_load_s %s\tlower bound %s\tmakespan_s %s\tthroughput %s req/s\n", f3(m.MaxLoadS), lb, f3(m.MakespanS), f3(m.ThroughputRPS))
	fmt.Fprintf(tw, "imbalance\tmax/mean %s\tcv %s\tjain %s\n", f3(m.Imbalance.MaxOverMean), f3(m.Imbalance.CV), f3(m.Imbalance.Jain))
	fmt.Fprintf(tw, "cache\tevicted %d %s\tphases %d\n", m.Evicted, m.Unit, m.Phases)
	tw.Flush()
	if m.PercentilesNote != "" {
		fmt.Fprintf(w, "note      %s\n", m.PercentilesNote)
	}
	if m.MaxLoadLowerBoundNote != "" {
		fmt.Fprintf(w, "note      lower bound %s\n", m.MaxLoadLowerBoundNote)
	}
	if m.IDRecycling != nil {
		fmt.Fprintf(w, "note      %s\n", m.IDRecycling)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := []string{"worker", "requests", "token hit", "block hit", "TTFT p50", "TTFT p99", "load s", "evicted"}
	withRatios := len(m.WorkerMetrics) > 0 && m.WorkerMetrics[0].Ratios != nil
	if withRatios {
		hdr = append(hdr, "vs opt", "vs Belady", "k", "rlt bound")
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	for _, wm := range m.WorkerMetrics {
		row := []string{fmt.Sprint(wm.Worker), fmt.Sprint(wm.Requests), f3(wm.TokenHitRatio), f3(wm.BlockHitRatio),
			f1(wm.TTFT.P50), f1(wm.TTFT.P99), f3(wm.LoadS), fmt.Sprint(wm.Evicted)}
		if withRatios {
			row = append(row, ratioCells(wm.Ratios)...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
}

// ratioCells formats a worker's competitive ratios for the table.
func ratioCells(r *seq.WorkerRatios) []string {
	opt := func(p *float64) string {
		if p == nil {
			return "n/a"
		}
		return f3(*p)
	}
	k := "n/a"
	if r.Bounds.K != nil {
		k = fmt.Sprint(*r.Bounds.K)
	}
	return []string{opt(r.RatioVsOpt), opt(r.RatioVsBelady), k, opt(r.Bounds.RLTBound)}
}
