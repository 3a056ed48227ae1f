package analysis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// A streamed plan is Plan with no trace and StreamPlanRunner as its
// Runner: every cell opens the trace anew and simulates it as it reads
// (RunPlanCellStream), so a run holds what its simulation needs, and the
// plan the cells' SLO metrics. With exact percentiles the figures are
// RunPlanCell's to the bit: TTFT, E2E and queueing through the tally
// (spilled past 64 MB), TPOT from every completed request's value held in
// memory (8 bytes a request of more than one output token); with sketches
// all four come from DDSketch sketches within SketchRelativeAccuracy and
// nothing is held per request. The plan needs no competitive ratios, so
// nothing else differs, but where a run recycles block ids under a policy
// that draws by id (sim.StreamOptions.IDLimit), which the runner reports.

// StreamedPlanNote is the Note of every streamed plan.
const StreamedPlanNote = "streamed: every run read the trace anew and held only what its simulation needs"

// RunPlanCellStream is RunPlanCell reading the trace through open; it
// also returns the trace's information as the run read it, and whether
// the run recycled block ids where that could change its choices. A
// reading error comes back as a *sim.InputError.
func RunPlanCellStream(ctx context.Context, open OpenFunc, sc scenario.Scenario, so StreamCompareOptions) (res PlanCellResult, info trace.Info, recycled bool, err error) {
	defer func() {
		// As RunPlanCell: a panic must not take the plan down.
		if p := recover(); p != nil {
			res, err = PlanCellResult{Error: sim.Recovered(sc.String(), p).Error()}, nil
		}
	}()
	s, err := open(sc)
	if err != nil {
		return res, info, false, &sim.InputError{Err: err}
	}
	defer func() {
		info = s.Info()
		s.Close()
	}()
	t := so.tally(sc.Workers)
	defer t.Close()
	var (
		tpot   []float64
		tpotSk Sketch
	)
	sopt := sim.StreamOptions{IDLimit: so.IDLimit, OnRecord: func(r *sim.Record, q *trace.Request) {
		if r.Status == sim.Failed || q.Output < 2 {
			return
		}
		if so.Sketch {
			tpotSk.Add((r.Done - r.FirstToken) / time.Duration(q.Output-1))
			return
		}
		tpot = append(tpot, msOf(r.Done-r.FirstToken)/float64(q.Output-1))
	}}
	m, err := SummaryStream(ctx, s, sc, sopt, t)
	var ie *sim.InputError
	if errors.As(err, &ie) {
		return res, info, false, err
	}
	if err != nil {
		return PlanCellResult{Error: err.Error()}, info, false, nil
	}
	tp := tpotSk.Dist()
	if !so.Sketch {
		tp = Summarize(tpot)
	}
	return planCellOf(m, tp), info, m.IDRecycling != nil, nil
}

// StreamPlanRunner is a PlanOptions.Runner that runs each cell with
// RunPlanCellStream, par at a time (GOMAXPROCS when ≤ 0), reporting
// progress as Plan's own pool does. After Plan, Info is the trace's
// information as the runs read it and Notes the plan's notes (the
// streamed note, the percentiles' and, once, any run's id recycling).
type StreamPlanRunner struct {
	Open     OpenFunc
	Parallel int
	Options  StreamCompareOptions
	Progress func(done, total int)

	mu          sync.Mutex
	done, total int
	info        trace.Info
	recycled    int
}

// Run runs one round's cells (PlanOptions.Runner).
func (r *StreamPlanRunner) Run(ctx context.Context, cells []PlanCell) ([]PlanCellResult, error) {
	out := make([]PlanCellResult, len(cells))
	errs := make([]error, len(cells))
	base := r.done
	r.total += len(cells)
	var progress func(int, int)
	if r.Progress != nil {
		progress = func(d, _ int) { r.Progress(base+d, r.total) }
	}
	err := forEach(ctx, len(cells), r.Parallel, func(i int) {
		res, info, recycled, err := RunPlanCellStream(ctx, r.Open, cells[i].Run, r.Options)
		out[i], errs[i] = res, err
		r.mu.Lock()
		defer r.mu.Unlock()
		if err == nil {
			r.info = info
		}
		if recycled {
			r.recycled++
		}
	}, progress)
	r.done += len(cells)
	if err != nil {
		return nil, err
	}
	for _, e := range errs {
		if e != nil {
			var ie *sim.InputError
			if errors.As(e, &ie) {
				return nil, ie.Err
			}
			return nil, e
		}
	}
	return out, nil
}

// Info is the trace's information as the last run read it.
func (r *StreamPlanRunner) Info() trace.Info { return r.info }

// Notes are the plan's notes after its runs, for PlanResult.Notes.
func (r *StreamPlanRunner) Notes() []string {
	notes := []string{StreamedPlanNote}
	if r.Options.Sketch {
		notes = append(notes, SketchNote+"; TPOT's too")
	} else {
		notes = append(notes, ExactSpilledNote+"; TPOT's held in memory")
	}
	if r.recycled > 0 {
		notes = append(notes, fmt.Sprintf("%d run(s) recycled block ids: %s", r.recycled, seq.RecycledNote))
	}
	return append(notes, StreamStatsNote)
}
