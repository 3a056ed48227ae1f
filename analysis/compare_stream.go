package analysis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// A streamed comparison (CompareStream) is Compare for a trace that does
// not fit in memory: every run opens the trace anew and simulates it as it
// reads (SummaryStream), so a run holds what its simulation needs (the
// caches, the routers' state, the requests in flight) and the comparison
// holds each run's summary. What differs from Compare, and why:
//
//   - No competitive ratios. ratio_vs_opt, ratio_vs_belady and SPEC §6's
//     per-worker bounds replay each worker's whole sequence with the
//     offline optimum, which needs that sequence's future; they are left
//     out (NaN, "–" in the tables) and the comparison's Notes say so.
//   - Percentiles are exact by default: each run's TTFT, E2E and queueing
//     values (24 bytes a request) are spilled, sorted, to an unlinked
//     temporary file past 64 MB and merged back (Tally.SpillValues), so
//     they equal Compare's to the bit. With Sketch they come from DDSketch
//     sketches within SketchRelativeAccuracy, and a Note says so.
//   - The charts are Compare's to the bit: a charted run (each scenario's
//     first) writes its workers' samples to a states spill set in a
//     temporary directory (96 bytes a sample) and the series read it back
//     (the spilled explorer's code); the TTFT CDF comes from the tally
//     (Tally.TTFTCDF).
//   - Where a run recycles block ids (sim.StreamOptions.IDLimit) under a
//     policy that draws by id, or forgets ids its max_load bound needs, a
//     Note names the run and what may differ.
//   - Runs run in parallel (CompareOptions.Parallel), each with its own
//     reading of the trace: memory is one run's times the parallelism.
//   - A reading error (a bad record, a truncated file) is the whole
//     comparison's error, as it is when Compare's caller loads the trace.
//   - Per-request records (KeepRecords, the CSV report) go to an unlinked
//     temporary file per run (SpilledRows, 64 bytes a request) and
//     WriteCSV reads them back: the same bytes. Comparison.Close releases
//     them.
//   - A sweep spread over machines runs the same cells (ComparePlan.
//     SetStream) and MergeSweep assembles the same comparison, notes
//     included, taking the trace's description from the cells' runs.

// StreamCompareOptions are CompareStream's choices beyond CompareOptions.
type StreamCompareOptions struct {
	// Sketch takes percentiles from sketches instead of every request's
	// values.
	Sketch bool
	// TempDir holds the exact percentiles' spilled values and the charted
	// runs' states ("": the system's temporary directory). Nothing is left
	// in it.
	TempDir string
	// IDLimit bounds each run's block table (sim.StreamOptions.IDLimit).
	IDLimit int
}

// tally is a streamed run's tally: sketched, or exact with its values
// spilled to TempDir past the default budget.
func (so StreamCompareOptions) tally(workers int) *Tally {
	if so.Sketch {
		return NewSketchTally(workers)
	}
	t := NewTally(workers)
	t.SpillValues(so.TempDir, 0)
	return t
}

// OpenFunc opens the trace anew for a run of sc (whose router may need the
// trace's own block ids: trace.ReadOptions.KeepIDs).
type OpenFunc func(sc scenario.Scenario) (*trace.Stream, error)

// StreamedNote is the Note of every streamed comparison.
const StreamedNote = "streamed: every run read the trace anew and held only what its simulation needs; competitive ratios (vs opt, vs Belady) and SPEC §6's per-worker bounds need each worker's whole sequence and are not computed"

// StreamStatsNote is the last Note of every streamed comparison and plan:
// their reports have no trace statistics (no one holds the trace).
const StreamStatsNote = "the trace's statistics are left out: they count every unique block (`kvscope trace stats` gives them)"

// ExactSpilledNote is the percentiles Note of a streamed comparison
// without sketches.
const ExactSpilledNote = "percentiles are exact: every request's values, spilled sorted to a temporary file past 64 MB and merged back"

// CompareStream is Compare reading the trace through open once per run
// (see the note above for what differs). It fails for a canceled context,
// no entries, or a trace that cannot be opened or read; a scenario that
// cannot run carries its error in its result. Close the comparison when
// done with it.
func CompareStream(ctx context.Context, open OpenFunc, entries []Entry, opt CompareOptions, so StreamCompareOptions) (*Comparison, error) {
	cp, err := PlanCompare(entries, opt)
	if err != nil {
		return nil, err
	}
	cp.SetStream(open, so)
	start := time.Now()
	jobs := cp.p.jobs
	results := make([]jobResult, len(jobs))
	infos := make([]trace.Info, len(jobs))
	err = forEach(ctx, len(jobs), cp.opt.Parallel, func(i int) {
		results[i], infos[i] = runOneStream(ctx, open, jobs[i], cp.opt.Points, so)
	}, cp.opt.Progress)
	fail := func(err error) (*Comparison, error) {
		for i := range results {
			if r := results[i].rows; r != nil {
				r.Close()
			}
		}
		return nil, err
	}
	if err != nil {
		return fail(fmt.Errorf("compare: %w", err))
	}
	for i := range results {
		var ie *sim.InputError
		if errors.As(results[i].err, &ie) {
			return fail(ie.Err)
		}
	}
	info := infos[0]
	if i, ok := firstRun(results); ok {
		info = results[i].m.Trace
	}
	return cp.streamed(info, results, Timing{Wall: time.Since(start), Runs: len(jobs)}), nil
}

// SetStream makes the plan's cells streamed runs, as CompareStream makes
// them, reading the trace through open (nil where the plan only merges
// results: MergeSweep then assembles the streamed comparison, its notes
// included).
func (cp *ComparePlan) SetStream(open OpenFunc, so StreamCompareOptions) {
	cp.open, cp.so = open, &so
}

// firstRun is the index of the first run that succeeded.
func firstRun(results []jobResult) (int, bool) {
	for i := range results {
		if results[i].err == nil {
			return i, true
		}
	}
	return 0, false
}

// streamed assembles a streamed comparison (SetStream) with its notes:
// the streamed one, the percentiles' and, per run of the main scenarios,
// its id recycling and an approximate max_load bound.
func (cp *ComparePlan) streamed(info trace.Info, results []jobResult, timing Timing) *Comparison {
	cmp := cp.assemble(info, results, timing)
	cmp.Notes = append(cmp.Notes, StreamedNote)
	if cp.so.Sketch {
		cmp.Notes = append(cmp.Notes, SketchNote+"; the TTFT CDF's values too")
	} else {
		cmp.Notes = append(cmp.Notes, ExactSpilledNote)
	}
	for i, pl := range cp.main {
		for k, j := range pl.jobs {
			m := &results[j].m
			who := fmt.Sprintf("%s, seed %d: ", cmp.Scenarios[i].Label, pl.seeds[k])
			if m.IDRecycling != nil {
				cmp.Notes = append(cmp.Notes, who+m.IDRecycling.String())
			}
			if m.MaxLoadLowerBoundNote != "" {
				cmp.Notes = append(cmp.Notes, who+"max_load lower bound "+m.MaxLoadLowerBoundNote)
			}
		}
	}
	cmp.Notes = append(cmp.Notes, StreamStatsNote)
	return cmp
}

// runOneStream runs one job of a streamed comparison on a reading of its
// own, and returns the trace's information as read.
func runOneStream(ctx context.Context, open OpenFunc, j job, points int, so StreamCompareOptions) (res jobResult, info trace.Info) {
	defer func() {
		// As runOne: a panic in one run must not take the others down.
		if p := recover(); p != nil {
			res = jobResult{err: sim.Recovered(j.sc.String(), p)}
		}
	}()
	s, err := open(j.sc)
	if err != nil {
		return jobResult{err: &sim.InputError{Err: err}}, info
	}
	defer func() {
		info = s.Info()
		s.Close()
	}()
	t := so.tally(j.sc.Workers)
	defer t.Close()
	sopt := sim.StreamOptions{IDLimit: so.IDLimit}
	if j.keep {
		rows, err := newSpilledRows(so.TempDir)
		if err != nil {
			return jobResult{err: err}, info
		}
		defer func() {
			if res.err != nil || res.rows == nil {
				rows.Close()
			}
		}()
		sopt.OnRecord = rows.add
		res.rows = rows
	}
	var ch *streamCharts
	if j.charts {
		if ch, err = newStreamCharts(so.TempDir, j, t, &sopt); err != nil {
			return jobResult{err: fmt.Errorf("charts: %w", err)}, info
		}
		defer ch.remove()
	}
	m, err := SummaryStream(ctx, s, j.sc, sopt, t)
	if err != nil {
		return jobResult{err: err}, info
	}
	if res.rows != nil {
		if err := res.rows.finish(); err != nil {
			return jobResult{err: err}, info
		}
	}
	res.m = m
	if ch != nil {
		if res.charts, err = ch.data(points); err != nil {
			return jobResult{err: fmt.Errorf("charts: %w", err)}, info
		}
	}
	return res, info
}

// streamCharts collects a streamed run's charts: its workers' samples in a
// states spill set, its span and its TTFT CDF, taken from the tally when
// the run ends (before Metrics releases a spilled tally's values).
type streamCharts struct {
	dir    string
	seed   uint64
	states *sim.StateWriter
	run    *sim.Run
	cdf    Series
	err    error
}

func newStreamCharts(tmp string, j job, t *Tally, opt *sim.StreamOptions) (*streamCharts, error) {
	dir, err := os.MkdirTemp(tmp, "kvscope-states-*")
	if err != nil {
		return nil, err
	}
	sw, err := sim.CreateStates(dir, j.sc.Workers, j.key)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &streamCharts{dir: dir, seed: j.sc.Seed, states: sw}
	opt.OnSample = sw.Add
	opt.OnEnd = func(r *sim.Run) {
		c.run = r
		c.cdf, c.err = t.TTFTCDF(cdfPoints)
	}
	return c, nil
}

// data closes the states set and reads the series back at points
// instants of the run's span, as Compare draws them from the run.
func (c *streamCharts) data(points int) (*ChartData, error) {
	if c.err != nil {
		return nil, c.err
	}
	if err := c.states.Close(); err != nil {
		return nil, err
	}
	c.states = nil
	sf, err := sim.OpenStates(c.dir)
	if err != nil {
		return nil, err
	}
	defer sf.Close()
	src := fileStates{f: sf, start: c.run.Start, end: c.run.End}
	hit, err := hitRatioSeries(src, points)
	if err != nil {
		return nil, err
	}
	queue, err := queueSeries(src, c.run.Workers, points)
	if err != nil {
		return nil, err
	}
	return &ChartData{Seed: c.seed, HitRatio: hit, Queue: queue, TTFTCDF: c.cdf}, nil
}

// remove drops the states set, written or not.
func (c *streamCharts) remove() {
	if c.states != nil {
		c.states.Abort()
	}
	os.RemoveAll(c.dir)
}
