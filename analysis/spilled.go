package analysis

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// SpilledRun is a spilled run (sim.OpenSpill) with the figures of its
// shape that its series and metrics need: what sim.Run holds beside its
// records, events and samples, which SpilledRunOf takes from the records
// footer (first arrival, last completion, each worker's B and its unit).
//
// Its readers share the spill files' buffers (sim.Spilled): one goroutine
// at a time may use a SpilledRun, or anything built on it (SpilledMetrics
// included); another goroutine opens the run again.
type SpilledRun struct {
	Sp         *sim.Spilled
	Scenario   string
	Trace      trace.Info
	Workers    int
	Capacity   int64
	Unit       string
	Start, End time.Duration
}

// SpilledRunOf is sp with the scenario, trace information and worker
// count of its records footer.
func SpilledRunOf(sp *sim.Spilled) SpilledRun {
	f := sp.Records.Footer()
	return SpilledRun{Sp: sp, Scenario: f.Scenario, Trace: f.Trace, Workers: f.Workers,
		Capacity: f.Capacity, Unit: f.Unit, Start: f.Start, End: f.End}
}

func (r SpilledRun) span() (time.Duration, time.Duration) { return r.Start, r.End }

func (r SpilledRun) stateAt(t time.Duration) (sim.State, error) { return r.Sp.States.StateAt(t) }

// shape is the run's shape as a sim.Run without records, events or
// samples (cursorTally.metrics).
func (r SpilledRun) shape() sim.Run {
	return sim.Run{Scenario: r.Scenario, Trace: r.Trace, Workers: r.Workers,
		Capacity: r.Capacity, Unit: r.Unit, Start: r.Start, End: r.End}
}

// HitRatioSeries is HitRatioSeries over the spilled run: the same values,
// to the bit, from n reads of its states (StateFile.StateAt). A read's
// error is returned.
func (r SpilledRun) HitRatioSeries(n int) (Series, error) { return hitRatioSeries(r, n) }

// QueueSeries is QueueSeries over the spilled run (one Series per worker;
// SumSeries adds them up), as HitRatioSeries.
func (r SpilledRun) QueueSeries(n int) ([]Series, error) { return queueSeries(r, r.Workers, n) }

// InFlightSeries is InFlightSeries over the spilled run, as
// HitRatioSeries.
func (r SpilledRun) InFlightSeries(n int) (Series, error) { return inFlightSeries(r, n) }

// SumSeries adds series sampled at the same instants (QueueSeries' per
// worker, say) into one, and returns its largest value (0 for none).
// The T of the result is the first series'; nil series give an empty
// Series.
func SumSeries(ss []Series) (sum Series, maxV float64) {
	if len(ss) == 0 {
		return Series{}, 0
	}
	sum.T = ss[0].T
	sum.V = make([]float64, len(ss[0].V))
	for _, s := range ss {
		for i, v := range s.V {
			sum.V[i] += v
		}
	}
	for _, v := range sum.V {
		maxV = max(maxV, v)
	}
	return sum, maxV
}

// TTFTSeries is TTFTSeries over the spilled run, in memory bounded by n:
// one Sketch per window instead of every TTFT, filled by one scan of the
// records file. Each median is within SketchRelativeAccuracy of
// TTFTSeries' exact one (Sketch's bound) and NaN exactly where that is;
// the instants are the same. A read's error is returned.
func (r SpilledRun) TTFTSeries(n int) (Series, error) {
	g := grid(r.Start, r.End, n)
	sk := make([]Sketch, len(g))
	err := r.Sp.Records.Scan(func(rec *sim.Record) error {
		if j, ok := ttftWindow(g, rec); ok {
			sk[j].Add(rec.TTFT())
		}
		return nil
	})
	if err != nil {
		return Series{}, err
	}
	return windowSeries(g, func(j int) float64 { return sk[j].Quantile(0.5) }), nil
}

// SpilledMetrics is MetricsAt over a spilled run, in memory bounded by
// the workers, the sketches and the run's failures, not by its requests
// (NewSpilledMetrics). Like SpilledRun, one goroutine at a time may use
// it.
type SpilledMetrics struct {
	run SpilledRun
	// logged: the run has an event log; failAt then holds each failed
	// request's first LogFail instant (MetricsAt's failure time).
	logged bool
	failAt map[int32]time.Duration
	// sorted is whether the records' arrivals never decrease (0 unknown,
	// 1 yes, -1 no), learnt by At's first whole scan: a scan of sorted
	// records stops at the first arrival after the cursor.
	sorted int8
}

// NewSpilledMetrics reads r's event log once, keeping the instant of
// every failure it logs: a map of one entry per failed request (about
// 40 bytes each: 38 measured for a million), the only thing it holds
// that grows with the run.
func NewSpilledMetrics(r SpilledRun) (*SpilledMetrics, error) {
	m := &SpilledMetrics{run: r, logged: r.Sp.Events.Len() > 0, failAt: map[int32]time.Duration{}}
	err := r.Sp.Events.Scan(func(_ int, e sim.Event) error {
		if e.Kind == sim.LogFail {
			if _, ok := m.failAt[e.Req]; !ok { // events are in time order: the first is the earliest
				m.failAt[e.Req] = e.T
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Failures is the number of failure instants held: the failed requests
// the event log records.
func (m *SpilledMetrics) Failures() int { return len(m.failAt) }

// At is MetricsAt(run, seed, t) over the spilled run: one scan of the
// records file into a NewSketchTally, and the counters of
// StateFile.StateAt(t). Every count (requests, completed, failed, in
// flight, bypassed, failure reasons, per-worker requests and completions),
// the hit tokens and blocks, the loads, imbalance, makespan and
// throughput equal MetricsAt's exactly; TTFT, E2E and queueing
// percentiles come from sketches, within SketchRelativeAccuracy of
// MetricsAt's exact ones (their means and counts exact), and
// PercentilesNote says so. A read's error is returned, never a shortened
// summary.
func (m *SpilledMetrics) At(seed uint64, t time.Duration) (RunMetrics, error) {
	return m.AtContext(context.Background(), seed, t)
}

// errPastCursor stops a scan of sorted records at the first request
// arriving after the cursor.
var errPastCursor = errors.New("past the cursor")

// AtContext is At, given up (with ctx's error) when ctx is done: a cursor
// that moved on need not wait for a scan of a long run.
func (m *SpilledMetrics) AtContext(ctx context.Context, seed uint64, t time.Duration) (RunMetrics, error) {
	r := m.run
	c := newCursorTally(t, r.Workers, NewSketchTally(r.Workers))
	sorted := m.sorted
	var prev time.Duration
	if sorted == 0 {
		sorted = 1
		prev = math.MinInt64
	}
	n := 0
	err := r.Sp.Records.Scan(func(rec *sim.Record) error {
		if n++; n%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch {
		case m.sorted == 1 && rec.Arrival > t:
			return errPastCursor
		case m.sorted == 0:
			if rec.Arrival < prev {
				sorted = -1
			}
			prev = rec.Arrival
		}
		failed := false
		if rec.Status == sim.Failed {
			at, ok := m.failAt[rec.Index]
			failed = !m.logged || ok && at <= t
		}
		c.add(rec, failed)
		return nil
	})
	switch {
	case errors.Is(err, errPastCursor):
	case err != nil:
		return RunMetrics{}, err
	default:
		m.sorted = sorted // a whole scan saw every arrival
	}
	if err := ctx.Err(); err != nil {
		return RunMetrics{}, err
	}
	st, err := r.Sp.States.StateAt(t)
	if err != nil {
		return RunMetrics{}, err
	}
	return c.metrics(r.shape(), st, seed), nil
}
