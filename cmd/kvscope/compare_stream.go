package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

// streamFlags are the flags of a command whose runs read the trace anew
// instead of loading it: compare (analysis.CompareStream), plan
// (analysis.StreamPlanRunner) and sweep plan (ComparePlan.SetStream).
type streamFlags struct {
	on       bool
	pct      string
	spillDir string
	idLimit  int
}

func (f *streamFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.on, "stream", false, "read TRACE anew for every run instead of loading it: memory follows each run, not the trace (no trace statistics; compare: no competitive ratios)")
	fl.StringVar(&f.pct, "percentiles", "exact", "with --stream: exact (every request's values, spilled sorted to --spill-dir past 64 MB) or sketch (DDSketch, within 1%, constant memory)")
	fl.StringVar(&f.spillDir, "spill-dir", "", "with --stream: directory for the exact percentiles' values (and compare's charted runs' states and CSV rows; default: the system's temporary directory); nothing is left in it")
	fl.IntVar(&f.idLimit, "id-limit", 0, "with --stream: block ids a run holds before unused ones are recycled (0: as `kvscope run --id-limit`; -1: never)")
}

// check refuses what a streamed run cannot do, and its flags without
// --stream.
func (f *streamFlags) check(cmd *cobra.Command, path string) error {
	if !f.on {
		if changed(cmd.Flags(), "percentiles", "spill-dir", "id-limit") {
			return usagef("--percentiles, --spill-dir and --id-limit need --stream")
		}
		return nil
	}
	switch {
	case f.pct != "exact" && f.pct != "sketch":
		return usagef("--percentiles: %q: exact or sketch", f.pct)
	case path == "-":
		return usagef("--stream reads TRACE once per run: give a file, not standard input")
	case changed(cmd.Flags(), "sort"):
		return usagef("--sort needs the whole trace: --stream reads it in file order")
	}
	return checkDir(f.spillDir)
}

// open opens the trace at path for one streamed run of sc, keeping the
// trace's own block ids where the run needs them (keepingIDs).
func (f *streamFlags) open(path string, opt trace.ReadOptions, wrap func(io.Reader, int64) io.Reader) analysis.OpenFunc {
	return func(sc scenario.Scenario) (*trace.Stream, error) {
		return trace.OpenWith(path, keepingIDs(opt, route.TraceIDs(sc.Router.Name)), wrap)
	}
}

// streamInfo opens the trace at path and returns its information before
// any request is read (format, block size, reader options).
func streamInfo(path string, opt trace.ReadOptions) (trace.Info, error) {
	s, err := trace.Open(path, opt)
	if err != nil {
		return trace.Info{}, err
	}
	defer s.Close()
	return s.Info(), nil
}

// options are the streamed runs' options.
func (f *streamFlags) options() analysis.StreamCompareOptions {
	return analysis.StreamCompareOptions{Sketch: f.pct == "sketch", TempDir: f.spillDir, IDLimit: f.idLimit}
}

// compareStreamed is compare with --stream: every run reads the trace at
// path anew (analysis.CompareStream); the progress line counts the bytes
// read over every run.
func compareStreamed(cmd *cobra.Command, p *progress.Printer, path string, opt trace.ReadOptions, entries []analysis.Entry,
	sw *analysis.Sweep, parallel, seeds int, sf streamFlags, output string, format analysis.Format) error {
	stderr := cmd.ErrOrStderr()
	// The trace's header, before any run: its format's note, and a file
	// that cannot be read fails here.
	info, err := streamInfo(path, opt)
	if err != nil {
		return err
	}
	if n := trace.NoPrefixNote(info.Format); n != "" {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	copt := analysis.CompareOptions{Seeds: seeds, Parallel: parallel, Sweep: sw, KeepRecords: format == analysis.FormatCSV}
	plan, err := analysis.PlanCompare(entries, copt)
	if err != nil {
		return err
	}
	runs := int64(len(plan.Cells()))
	cp := newCompareProgress(p)
	copt.Progress = cp.runs
	var (
		mu   sync.Mutex
		read int64
	)
	open := func(sc scenario.Scenario) (*trace.Stream, error) {
		last := int64(0)
		return sf.open(path, opt, func(r io.Reader, size int64) io.Reader {
			return progress.NewReader(r, size, func(n, _ int64) {
				mu.Lock()
				read += n - last
				last = n
				cp.work(read, size*runs)
				mu.Unlock()
			})
		})(sc)
	}
	cmp, err := analysis.CompareStream(cmd.Context(), open, entries, copt, sf.options())
	p.Clear()
	if err != nil {
		return err
	}
	defer cmp.Close()
	rep := &analysis.Report{Command: reproduceCommand(cmd, path), Version: version, Comparison: cmp}
	if err := rep.WriteFile(output, format); err != nil {
		return fmt.Errorf("report %s: %w", output, err)
	}
	p.Wrote(output)
	return reportFailures(stderr, rep, output)
}

// checkDir checks that --spill-dir names a directory before any run.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--spill-dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--spill-dir %s: not a directory", dir)
	}
	return nil
}
