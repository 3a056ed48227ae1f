package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

func newPlanCmd() *cobra.Command {
	var (
		rf         readerFlags
		sf         scenarioFlags
		slo        string
		gpus       []string
		model      string
		tp         int
		cost       string
		maxWorkers int
		seeds      int
		parallel   int
		asJSON     bool
		output     string
		stats      bool
		stream     streamFlags
	)
	var gpuNames []string
	for _, g := range gpuprofile.GPUs() {
		gpuNames = append(gpuNames, g.Name)
	}
	cmd := &cobra.Command{
		Use:   "plan TRACE --slo METRIC=DURATION[,...] -s SCENARIO ... [--profile P | --gpu G1,G2,... --model M --tp N] [--cost G=PRICE,...] [--max-workers K] [--json] [-o REPORT]",
		Short: "Find the smallest fleet (workers, and the cheapest GPU) that meets latency SLOs",
		Long: "plan answers, for each -s scenario, how many workers the trace needs: the smallest count up to\n" +
			"--max-workers whose SLO metrics, averaged over the scenario's seeds (randomized scenarios run\n" +
			"seeds 1..--seeds), meet every --slo bound. It searches by simulation: 1, 2, 4, ... until a count\n" +
			"meets, then bisection, so the answer and answer−1 are both run; where a metric gets worse with\n" +
			"more workers between probed counts at or below the answer, the counts between are scanned one\n" +
			"by one. Non-monotone curves are reported.\n\n" +
			"SLO metrics (the targets are durations, e.g. ttft_p90=2s,e2e_p99=30s):\n" +
			"  " + strings.Join(analysis.SLOMetrics[:8], ", ") + ",\n" +
			"  " + strings.Join(analysis.SLOMetrics[8:], ", ") + "\n" +
			"(tpot: time per output token after the first; itl is not measured by the simulator).\n\n" +
			"With --gpu G1,G2 each scenario runs on the catalogue profile G-MODEL[-tpN] of each GPU (its KV\n" +
			"capacity unless --cache-* gives one, and its iteration times under --latency engine), and the\n" +
			"answer is the cheapest by workers × TP × price per GPU-hour: --cost G=PRICE, else the default\n" +
			"table below. With --profile P every scenario runs on P, and P's GPU and TP price the fleet.\n" +
			"GPUs: " + strings.Join(gpuNames, ", ") + ".\n\n" +
			"Output: the answer table on stdout (or --json), and -o REPORT by extension (.md, .html, .json,\n" +
			".csv; written atomically) with the margins at the answer and one worker below it and every\n" +
			"probed count. A scenario that no fleet meets says so, with by how much the best one misses.\n\n" +
			"--stream reads TRACE anew for every run instead of loading it (a trace larger than memory):\n" +
			"the same answers, without the trace's statistics; the report's notes say how it ran.\n\n" +
			"Default prices (US$ per GPU-hour; list prices of one provider, for comparing GPUs; yours differ):\n" + priceTable(),
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t0 := time.Now()
			if !cmd.Flags().Changed("slo") {
				return usagef("plan: give the SLOs with --slo METRIC=DURATION[,...] (e.g. ttft_p90=2s)")
			}
			slos, err := analysis.ParseSLOs(slo)
			if err != nil {
				return usageError{err}
			}
			if len(sf.specs) == 0 {
				return usagef("plan: give the scenarios with -s ROUTER+EVICT (repeat for several)")
			}
			if changed(cmd.Flags(), "workers") {
				return usagef("plan: --workers is what plan searches; bound it with --max-workers")
			}
			for _, s := range sf.specs {
				if specSets(s, "workers") {
					return usagef("plan: scenario %q sets workers, which plan searches; bound it with --max-workers", s)
				}
				if (len(gpus) > 0 || changed(cmd.Flags(), "profile")) && specSets(s, "profile") {
					return usagef("plan: scenario %q sets a profile while --gpu or --profile gives it: use one", s)
				}
			}
			if maxWorkers < 1 || maxWorkers > 4096 {
				return usagef("--max-workers %d: must be in [1, 4096]", maxWorkers)
			}
			if seeds < 1 {
				return usagef("--seeds %d: must be at least 1", seeds)
			}
			costs, err := analysis.ParseCosts(cost)
			if err != nil {
				return usageError{err}
			}
			var planGPUs []analysis.PlanGPU
			switch {
			case len(gpus) > 0 && changed(cmd.Flags(), "profile"):
				return usagef("give --profile or --gpu, not both")
			case len(gpus) == 0 && changed(cmd.Flags(), "model", "tp"):
				return usagef("--model and --tp choose the profile of each --gpu: give --gpu too (or --profile)")
			case len(gpus) > 0:
				if tp < 1 {
					return usagef("--tp %d: must be at least 1", tp)
				}
				if planGPUs, err = analysis.PlanGPUs(gpus, model, tp, costs); err != nil {
					return usageError{err}
				}
				if len(planGPUs) > 1 {
					for _, g := range planGPUs {
						if !g.PriceKnown() {
							return usagef("--gpu %s: no default price to compare GPUs by: give --cost %s=PRICE (US$ per GPU-hour)", g.Name, g.Name)
						}
					}
				}
			case sf.profile != "":
				// One profile: its GPU and TP price the fleet.
				if planGPUs, err = analysis.PlanProfiles([]string{sf.profile}, costs); err != nil {
					return usageError{err}
				}
			case cost != "":
				return usagef("--cost prices the GPUs of --gpu or --profile: give one of them too")
			}
			if len(planGPUs) > 0 {
				// The base scenario needs a size to parse; Plan sets each
				// GPU's profile in turn.
				sf.profile = planGPUs[0].Profile
			}
			scs, err := sf.scenarios(cmd)
			if err != nil {
				return err
			}
			entries := make([]analysis.Entry, len(scs))
			for i, sc := range scs {
				if _, err := sim.Resolve(sc); err != nil {
					return usagef("scenario %q: %w", sf.specs[i], err)
				}
				entries[i] = analysis.Entry{Label: sf.specs[i], Scenario: sc}
			}
			format := analysis.FormatMarkdown
			if output != "" {
				if format, err = analysis.FormatOf(output); err != nil {
					return usageError{err}
				}
				if err := probeWritable(output); err != nil {
					return err
				}
			}
			opt, err := rf.options()
			if err != nil {
				return err
			}
			opt.Seed = sf.seed
			if err := stream.check(cmd, args[0]); err != nil {
				return err
			}
			p := newPrinter(cmd)
			defer p.Clear()
			stderr := cmd.ErrOrStderr()
			popt := analysis.PlanOptions{
				SLOs: slos, MaxWorkers: maxWorkers, Seeds: seeds, Parallel: parallel, GPUs: planGPUs,
				Progress: countProgress(p, "plan", "runs", 0),
			}
			var (
				tr     *trace.Trace
				info   trace.Info
				runner *analysis.StreamPlanRunner
			)
			if stream.on {
				// Every run reads the trace anew: here only its
				// header, for the block size the scenarios are sized in.
				if info, err = streamInfo(args[0], opt); err != nil {
					return err
				}
				runner = &analysis.StreamPlanRunner{Open: stream.open(args[0], opt, nil), Parallel: parallel,
					Options: stream.options(), Progress: popt.Progress}
				popt.Runner, popt.BlockSize, popt.Progress = runner.Run, info.BlockSize, nil
			} else {
				if tr, err = loadTrace(cmd, p, args[0], opt); err != nil {
					return err
				}
				info = tr.Info
			}
			if n := trace.NoPrefixNote(info.Format); n != "" {
				p.Clear()
				fmt.Fprintf(stderr, "note: %s\n", n)
			}
			tLoad := time.Now()
			res, err := analysis.Plan(cmd.Context(), tr, entries, popt)
			p.Clear()
			if err != nil {
				return err
			}
			rep := &analysis.PlanReport{Command: planCommand(cmd, args[0]), Version: version, PlanResult: res}
			if runner != nil {
				res.Trace = runner.Info()
				res.Notes = runner.Notes()
			} else {
				rep.Stats = trace.StatsOf(tr)
			}
			if asJSON {
				err = rep.WriteJSON(cmd.OutOrStdout())
			} else {
				err = rep.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if output != "" {
				if err := rep.WriteFile(output, format); err != nil {
					return fmt.Errorf("report %s: %w", output, err)
				}
				p.Wrote(output)
			}
			if stats {
				fmt.Fprintf(stderr, "load %.3fs  search %.3fs (%d runs in %d rounds, GOMAXPROCS %d)  total %.3fs\n",
					tLoad.Sub(t0).Seconds(), res.Wall.Seconds(), res.Runs, res.Rounds, runtime.GOMAXPROCS(0), time.Since(t0).Seconds())
			}
			if fails := res.Failures(); len(fails) > 0 {
				for _, f := range fails {
					fmt.Fprintf(stderr, "kvscope: scenario %s\n", f)
				}
				return fmt.Errorf("plan: %d of %d scenario(s) failed", len(fails), len(res.Scenarios))
			}
			return nil
		},
	}
	rf.addNoSeed(cmd, "tokens per block for traces without prefix data (Azure; default 16)")
	sf.add(cmd, true, "round_robin")
	fl := cmd.Flags()
	_ = fl.MarkHidden("workers")
	_ = fl.MarkHidden("router")
	_ = fl.MarkHidden("evict")
	fl.StringVar(&slo, "slo", "", "SLO bounds METRIC=DURATION[,...]: "+strings.Join(analysis.SLOMetrics, ", "))
	fl.StringSliceVar(&gpus, "gpu", nil, "catalogue GPUs to choose from (comma-separated): "+strings.Join(gpuNames, ", "))
	fl.StringVar(&model, "model", "llama-3.1-8b", "catalogue model of the --gpu profiles")
	fl.IntVar(&tp, "tp", 1, "tensor-parallel GPUs per worker of the --gpu profiles")
	fl.StringVar(&cost, "cost", "", "US$ per GPU-hour overriding the default table: GPU=PRICE[,...]")
	fl.IntVar(&maxWorkers, "max-workers", 64, "largest fleet searched")
	fl.IntVar(&seeds, "seeds", 5, "randomized scenarios run with seeds 1..N at every probed count")
	fl.IntVar(&parallel, "parallel", 0, "runs at once (default: GOMAXPROCS)")
	fl.BoolVar(&asJSON, "json", false, "print the JSON report on stdout instead of the table")
	fl.StringVarP(&output, "output", "o", "", "also write the report to FILE (.md, .html, .json or .csv), atomically")
	fl.BoolVar(&stats, "stats", false, "print the search's wall time and run count to stderr")
	_ = fl.MarkHidden("stats")
	stream.add(cmd)
	addOutputFlags(cmd, true)
	return cmd
}

// priceTable lists the default GPU prices with their sources.
func priceTable() string {
	var b strings.Builder
	for _, p := range analysis.DefaultGPUPrices {
		u := ""
		if p.Unverified {
			u = " (unverified)"
		}
		fmt.Fprintf(&b, "  %-10s $%.3f%s  %s\n", p.GPU, p.Price, u, p.Source)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// specSets reports whether a scenario string sets key after its head.
func specSets(spec, key string) bool {
	parts := strings.Split(spec, ";")
	for _, kv := range parts[1:] {
		k, _, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.TrimSpace(k) == key {
			return true
		}
	}
	return false
}

// planCommand reproduces the report: the trace, every -s in order, then
// every other flag that was set, in name order.
func planCommand(cmd *cobra.Command, tracePath string) string {
	args := []string{"kvscope", "plan", tracePath}
	specs, _ := cmd.Flags().GetStringArray("scenario")
	for _, s := range specs {
		args = append(args, "-s", s)
	}
	args = append(args, flagArgs(cmd, false, "scenario", "stats", "parallel", "json", "spill-dir")...)
	return analysis.ShellQuote(args)
}
