package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

func newCompareCmd() *cobra.Command {
	var (
		cf       compareFlags
		output   string
		parallel int
		stats    bool
		stream   streamFlags
	)
	cmd := &cobra.Command{
		Use:   "compare TRACE -s SCENARIO -s SCENARIO ... -o REPORT",
		Short: "Compare scenarios on one trace over seeds and write a report (md, html, json, csv)",
		Long: "compare replays TRACE under every -s scenario (kvscope help scenario; flags fill the keys a\n" +
			"scenario leaves out). Randomized scenarios run with seeds 1..N (--seeds; their own seed\n" +
			"key is replaced) and show the mean with a 95% Student-t interval; deterministic ones run\n" +
			"once and say \"no interval (deterministic)\". Every run also replays each worker's\n" +
			"sequence with opt and the Belady bound for competitive ratios. --sweep KEY=A,B,C (KEY:\n" +
			"cache_blocks, cache_tokens, rate, workers) adds curves over that key; a cache-size sweep\n" +
			"also gives the size when no flag does (the tables then use its first value). TRACE -\n" +
			"is standard input.\n\n" +
			"The report format follows -o's extension: .md (text charts), .html (one self-contained\n" +
			"file with SVG charts), .json (versioned, complete), .csv (one row per request per\n" +
			"scenario per seed). It is written atomically; a scenario that fails is named in the\n" +
			"report and on stderr while the others still report (exit status 1).\n\n" +
			"--stream reads TRACE anew for every run instead of loading it, so memory follows each\n" +
			"run's caches, routers and requests in flight, not the trace (times --parallel): for\n" +
			"traces larger than memory. Its report has no competitive ratios (they replay each\n" +
			"worker's whole sequence) and no trace statistics (`kvscope trace stats` gives them);\n" +
			"it says so, and what else differs, in its notes. A .csv report's rows go to a temporary\n" +
			"file per run (in --spill-dir), 64 bytes a request.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t0 := time.Now()
			if output == "" {
				return usagef("compare: give the report path with -o (extension .md, .html, .json or .csv)")
			}
			format, err := analysis.FormatOf(output)
			if err != nil {
				return usageError{err}
			}
			entries, sw, err := cf.setup(cmd)
			if err != nil {
				return err
			}
			// Fail before any work when the report cannot be written.
			if err := probeWritable(output); err != nil {
				return err
			}
			opt, err := cf.readOptions()
			if err != nil {
				return err
			}
			if err := stream.check(cmd, args[0]); err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			p := newPrinter(cmd)
			defer p.Clear()
			if stream.on {
				return compareStreamed(cmd, p, args[0], opt, entries, sw, parallel, cf.seeds, stream, output, format)
			}

			tr, err := loadTrace(cmd, p, args[0], opt)
			if err != nil {
				return err
			}
			st := trace.StatsOf(tr)
			if n := trace.NoPrefixNote(tr.Info.Format); n != "" {
				p.Clear()
				fmt.Fprintf(stderr, "note: %s\n", n)
			}
			tLoad := time.Now()

			cp := newCompareProgress(p)
			cpu0 := processCPU()
			cmp, err := analysis.Compare(cmd.Context(), tr, entries, analysis.CompareOptions{
				Seeds: cf.seeds, Parallel: parallel, Sweep: sw,
				KeepRecords: format == analysis.FormatCSV,
				Progress:    cp.runs,
				Work:        cp.work,
			})
			p.Clear()
			if err != nil {
				return err
			}
			tReplay := time.Now()
			cpu1 := processCPU()

			rep := &analysis.Report{
				Command:    reproduceCommand(cmd, args[0]),
				Version:    version,
				Stats:      st,
				Comparison: cmp,
			}
			if err := rep.WriteFile(output, format); err != nil {
				return fmt.Errorf("report %s: %w", output, err)
			}
			p.Wrote(output)
			tEnd := time.Now()
			if stats {
				replayWall := tReplay.Sub(tLoad)
				fmt.Fprintf(stderr, "stage load+stats  wall %.3fs\n", tLoad.Sub(t0).Seconds())
				if cpu0 >= 0 && cpu1 >= 0 {
					cpu := cpu1 - cpu0
					fmt.Fprintf(stderr, "stage replay      wall %.3fs  cpu %.3fs  cpu/wall %.2f  (%d runs, GOMAXPROCS %d)\n",
						replayWall.Seconds(), cpu.Seconds(), cpu.Seconds()/replayWall.Seconds(), cmp.Timing.Runs, runtime.GOMAXPROCS(0))
				} else {
					fmt.Fprintf(stderr, "stage replay      wall %.3fs  cpu n/a on %s  (%d runs)\n", replayWall.Seconds(), runtime.GOOS, cmp.Timing.Runs)
				}
				fmt.Fprintf(stderr, "stage report      wall %.3fs\n", tEnd.Sub(tReplay).Seconds())
				fmt.Fprintf(stderr, "total             wall %.3fs\n", tEnd.Sub(t0).Seconds())
			}
			return reportFailures(stderr, rep, output)
		},
	}
	cf.add(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&output, "output", "o", "", "report path; the extension picks the format: .md, .html, .json, .csv")
	fl.IntVar(&parallel, "parallel", 0, "runs at once (default: GOMAXPROCS)")
	fl.BoolVar(&stats, "stats", false, "print stage timings (wall, CPU, CPU/wall of the replay stage) to stderr")
	_ = fl.MarkHidden("stats")
	stream.add(cmd)
	addOutputFlags(cmd, true)
	return cmd
}

// compareFlags are the flags that define a comparison (compare's, and
// sweep plan's, which cuts the same comparison into cells).
type compareFlags struct {
	rf    readerFlags
	sf    scenarioFlags
	seeds int
	sweep string
}

func (f *compareFlags) add(cmd *cobra.Command) {
	f.rf.addNoSeed(cmd, "tokens per block for traces without prefix data (Azure; default 16)")
	f.sf.add(cmd, true, "round_robin")
	fl := cmd.Flags()
	fl.IntVar(&f.seeds, "seeds", 5, "randomized scenarios run with seeds 1..N")
	fl.StringVar(&f.sweep, "sweep", "", "also run every scenario at each value of one key: KEY=A,B,C (cache_blocks, cache_tokens, rate, workers)")
}

// setup checks the flags and returns the comparison's entries and sweep.
func (f *compareFlags) setup(cmd *cobra.Command) ([]analysis.Entry, *analysis.Sweep, error) {
	if f.seeds < 1 {
		return nil, nil, usagef("--seeds %d: must be at least 1", f.seeds)
	}
	var sw *analysis.Sweep
	if f.sweep != "" {
		s, err := analysis.ParseSweep(f.sweep)
		if err != nil {
			return nil, nil, usageError{err}
		}
		sw = &s
	}
	sizeFromSweep(cmd, &f.sf, sw)
	scs, err := f.sf.scenarios(cmd)
	if err != nil {
		return nil, nil, err
	}
	labels := f.sf.specs
	if len(labels) == 0 {
		labels = []string{f.sf.router + "+" + f.sf.evict}
	}
	entries := make([]analysis.Entry, len(scs))
	for i, sc := range scs {
		if _, err := sim.Resolve(sc); err != nil {
			return nil, nil, usagef("scenario %q: %w", labels[i], err)
		}
		entries[i] = analysis.Entry{Label: labels[i], Scenario: sc}
	}
	return entries, sw, nil
}

// readOptions are the trace reader's options (seeded by --seed).
func (f *compareFlags) readOptions() (trace.ReadOptions, error) {
	opt, err := f.rf.options()
	if err != nil {
		return opt, err
	}
	opt.Seed = f.sf.seed
	return opt, nil
}

// reportFailures names every failed scenario of a written report on
// stderr and returns the command's error (nil when all ran).
func reportFailures(stderr io.Writer, rep *analysis.Report, output string) error {
	fails := rep.Failures()
	if len(fails) == 0 {
		return nil
	}
	for _, f := range fails {
		fmt.Fprintf(stderr, "kvscope: scenario %s\n", f)
	}
	if len(fails) == len(rep.Scenarios) {
		return fmt.Errorf("compare: every scenario failed (the report %s says why)", output)
	}
	return fmt.Errorf("compare: %d of %d scenario(s) failed (the report %s has the others)", len(fails), len(rep.Scenarios), output)
}

// sizeFromSweep makes a cache-size sweep's first value the default size
// when no flag gives one (--cache-tokens, --cache-blocks or --profile), so
// that `--sweep cache_blocks=…` alone is enough: the curves run at every
// value, the tables at the first (the report's scenario strings say so),
// and a -s that sets its own size keeps it.
func sizeFromSweep(cmd *cobra.Command, sf *scenarioFlags, sw *analysis.Sweep) {
	if sw == nil || changed(cmd.Flags(), "cache-tokens", "cache-blocks", "profile") {
		return
	}
	// ParseSweep checked the value against the key's rules.
	n, _ := strconv.Atoi(sw.Values[0])
	switch sw.Key {
	case "cache_blocks":
		sf.cacheBlocks = n
	case "cache_tokens":
		sf.cacheTokens = n
	}
}

// probeWritable checks that a file can be created beside path (and that
// path is not a directory) by creating and removing a temporary file.
func probeWritable(path string) error { return probeWritableAs("report", path) }

// probeWritableAs is probeWritable for a file named as what in errors.
func probeWritableAs(what, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s %s: is a directory", what, path)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".kvscope-probe-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s %s: cannot write in %s: %w", what, path, dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// reproduceCommand writes the command line that reproduces the report:
// the trace, every -s in order, then every other flag that was set, in
// name order, and -o.
func reproduceCommand(cmd *cobra.Command, tracePath string) string {
	out, _ := cmd.Flags().GetString("output")
	return compareCommand(cmd, tracePath, out)
}

// compareCommand writes the compare command of cmd's comparison flags
// with report out (sweep merge writes the one of the sweep it merges).
func compareCommand(cmd *cobra.Command, tracePath, out string) string {
	args := []string{"kvscope", "compare", tracePath}
	specs, _ := cmd.Flags().GetStringArray("scenario")
	for _, s := range specs {
		args = append(args, "-s", s)
	}
	args = append(args, flagArgs(cmd, false, "scenario", "stats", "parallel", "output", "records", "spill-dir")...)
	args = append(args, "-o", out)
	return analysis.ShellQuote(args)
}

// compareProgress is compare's progress line: runs done and the share of
// the work done (requests simulated and through the ratio step, over every
// run), which moves while long runs are still going, and the time so far:
// "compare: 3 of 12 runs · 45% of the work · 14 s".
type compareProgress struct {
	p                   *progress.Printer
	start               time.Time
	runsDone, runsTotal int
	workDone, workTotal int64
}

func newCompareProgress(p *progress.Printer) *compareProgress {
	p.Final(func() string { return "compare…" })
	return &compareProgress{p: p, start: time.Now()}
}

// runs and work are analysis.CompareOptions' Progress and Work (called
// serialised).
func (c *compareProgress) runs(done, total int) {
	c.runsDone, c.runsTotal = done, total
	update := c.p.Update
	if done >= total {
		update = c.p.Final
	}
	update(c.line)
}

func (c *compareProgress) work(done, total int64) {
	c.workDone, c.workTotal = done, total
	c.p.Update(c.line)
}

func (c *compareProgress) line() string {
	var parts []string
	if c.runsTotal > 0 { // known once the first run ends
		parts = append(parts, progress.Count(int64(c.runsDone))+" of "+progress.Count(int64(c.runsTotal))+" runs")
	}
	if c.workTotal > 0 {
		pc := c.workDone * 100 / c.workTotal
		if c.runsTotal == 0 || c.runsDone < c.runsTotal {
			pc = min(pc, 99)
		}
		parts = append(parts, fmt.Sprintf("%d%% of the work", pc))
	}
	return "compare: " + strings.Join(parts, " · ") + fmt.Sprintf(" · %.0f s", time.Since(c.start).Seconds())
}

// processCPU returns the process's user+system CPU time from
// /proc/self/stat (all threads, clock ticks of 10 ms), or -1 where there
// is no /proc (the figure is then reported as n/a).
func processCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	// Fields after the command: state(0) ... utime(11) stime(12).
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	stt, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(ut+stt) * time.Second / ticksPerSecond
}
