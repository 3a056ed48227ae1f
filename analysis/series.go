package analysis

import (
	"math"
	"slices"
	"time"

	"github.com/kvscope/kvscope/replay/sim"
)

// Series is a time series sampled at evenly spaced instants: T in seconds
// since the run's first arrival, V the values. Panes and report charts draw
// the same series.
type Series struct {
	T []float64
	V []float64
}

// states is what the series drawn on a grid of instants read: a run's
// span (first arrival, last completion) and its state at an instant. A
// run in memory (runStates) never fails; a spilled run (spilledStates)
// reads its states files and may.
type states interface {
	span() (start, end time.Duration)
	stateAt(t time.Duration) (sim.State, error)
}

// runStates is a run in memory as states.
type runStates struct{ run *sim.Run }

func (r runStates) span() (time.Duration, time.Duration) { return r.run.Start, r.run.End }

func (r runStates) stateAt(t time.Duration) (sim.State, error) { return r.run.StateAt(t), nil }

// grid returns n instants spanning start … end (n ≥ 2), as durations.
func grid(start, end time.Duration, n int) []time.Duration {
	n = max(n, 2)
	out := make([]time.Duration, n)
	span := end - start
	for i := range out {
		out[i] = start + time.Duration(float64(span)*float64(i)/float64(n-1))
	}
	return out
}

// onGrid calls fn with the state at each of n instants spanning src, and
// the instant in seconds since its start; it stops at the first error.
func onGrid(src states, n int, fn func(sec float64, st sim.State)) error {
	start, end := src.span()
	for _, t := range grid(start, end, n) {
		st, err := src.stateAt(t)
		if err != nil {
			return err
		}
		fn((t - start).Seconds(), st)
	}
	return nil
}

// mustSeries returns v from a series over a run in memory, which cannot
// fail.
func mustSeries[T any](v T, err error) T {
	if err != nil {
		panic(err) // runStates.stateAt never fails
	}
	return v
}

// HitRatioSeries is the cluster's cumulative token hit ratio over time
// (hits counted at prefill start), at n instants.
func HitRatioSeries(run *sim.Run, n int) Series {
	return mustSeries(hitRatioSeries(runStates{run}, n))
}

func hitRatioSeries(src states, n int) (Series, error) {
	var s Series
	err := onGrid(src, n, func(sec float64, st sim.State) {
		s.T = append(s.T, sec)
		s.V = append(s.V, hitRatioOf(st))
	})
	return s, err
}

// hitRatioOf is the cluster's token hit ratio in st.
func hitRatioOf(st sim.State) float64 {
	var hit, in int64
	for _, w := range st.Workers {
		hit += w.HitTokens
		in += w.InputTokens
	}
	return ratio(hit, in)
}

// QueueSeries is each worker's waiting-queue length over time, at n
// instants: one Series per worker.
func QueueSeries(run *sim.Run, n int) []Series {
	return mustSeries(queueSeries(runStates{run}, run.Workers, n))
}

func queueSeries(src states, workers, n int) ([]Series, error) {
	out := make([]Series, workers)
	err := onGrid(src, n, func(sec float64, st sim.State) {
		for w, ws := range st.Workers {
			out[w].T = append(out[w].T, sec)
			out[w].V = append(out[w].V, float64(ws.Queue))
		}
	})
	return out, err
}

// InFlightSeries is the cluster's requests in flight (queued or running,
// all workers) over time, at n instants: what a live run's driver counts
// as in flight (sent, not ended), so the two can be drawn together.
func InFlightSeries(run *sim.Run, n int) Series {
	return mustSeries(inFlightSeries(runStates{run}, n))
}

func inFlightSeries(src states, n int) (Series, error) {
	var s Series
	err := onGrid(src, n, func(sec float64, st sim.State) {
		s.T = append(s.T, sec)
		s.V = append(s.V, inFlightOf(st))
	})
	return s, err
}

// inFlightOf is the cluster's requests queued or running in st.
func inFlightOf(st sim.State) float64 {
	var v int64
	for _, w := range st.Workers {
		v += int64(w.Queue) + int64(w.Running)
	}
	return float64(v)
}

// TTFTSeries is the median TTFT (ms) of the requests whose first token came
// in each of n−1 equal windows, plotted at the window's end; NaN for an
// empty window.
func TTFTSeries(run *sim.Run, n int) Series {
	g := grid(run.Start, run.End, n)
	buckets := make([][]float64, len(g))
	for i := range run.Records {
		r := &run.Records[i]
		if j, ok := ttftWindow(g, r); ok {
			buckets[j] = append(buckets[j], msOf(r.TTFT()))
		}
	}
	return windowSeries(g, func(j int) float64 {
		if len(buckets[j]) == 0 {
			return math.NaN()
		}
		slices.Sort(buckets[j])
		return Percentile(buckets[j], 0.5)
	})
}

// ttftWindow is the window of TTFTSeries' grid g (1 … len(g)−1, window j
// ending at g[j]) that r's first token falls in; false for a failed
// request, which has none.
func ttftWindow(g []time.Duration, r *sim.Record) (int, bool) {
	if r.Status == sim.Failed {
		return 0, false
	}
	j, _ := slices.BinarySearch(g, r.FirstToken)
	return min(max(j, 1), len(g)-1), true
}

// windowSeries is v(j) for each window j of the grid g, plotted at its
// end, in seconds since g[0].
func windowSeries(g []time.Duration, v func(j int) float64) Series {
	var s Series
	for j := 1; j < len(g); j++ {
		s.T = append(s.T, (g[j] - g[0]).Seconds())
		s.V = append(s.V, v(j))
	}
	return s
}

// TTFTCDF returns the sorted TTFTs (ms) of completed requests and their
// cumulative fractions, for a CDF chart.
func TTFTCDF(run *sim.Run) (ms, frac []float64) {
	for i := range run.Records {
		if r := &run.Records[i]; r.Status != sim.Failed {
			ms = append(ms, msOf(r.TTFT()))
		}
	}
	slices.Sort(ms)
	frac = make([]float64, len(ms))
	for i := range ms {
		frac[i] = float64(i+1) / float64(len(ms))
	}
	return ms, frac
}

// MetricsAt summarises a run up to simulated time t: requests that arrived
// by t, latencies of those finished by t, hits and loads as of t. It is what
// the explorer's compare pane shows at its cursor.
//
// Every request that arrived by t is in Requests and in exactly one of
// Completed (completed or bypassed, last token by t), Failed (its failure,
// the event log's fail entry, by t; at its arrival for a run without an
// event log) and InFlight (the rest), so Completed + Failed + InFlight =
// Requests. Per worker, Requests counts those routed there by t, in flight
// included. Requests in flight have a state of their own: they are never
// passed through Metrics as failures, so no failure reason can be taken for
// them.
func MetricsAt(run *sim.Run, seed uint64, t time.Duration) RunMetrics {
	return metricsAt(run, seed, t, NewTally(run.Workers))
}

// metricsAt is MetricsAt with the ended requests counted by tally (a new
// one, NewTally or NewSketchTally).
func metricsAt(run *sim.Run, seed uint64, t time.Duration, tally *Tally) RunMetrics {
	var failedBy map[int32]bool // failures logged by t
	if len(run.Events) > 0 {
		failedBy = map[int32]bool{}
		for _, e := range run.Events[:run.EventIndex(t+1)] {
			if e.Kind == sim.LogFail {
				failedBy[e.Req] = true
			}
		}
	}
	c := newCursorTally(t, run.Workers, tally)
	for i := range run.Records {
		r := &run.Records[i]
		c.add(r, failedBy == nil || failedBy[r.Index])
	}
	return c.metrics(*run, run.StateAt(t), seed)
}

// cursorTally splits the requests that arrived by an instant t as
// MetricsAt does: those ended by t into a Tally, the others counted as in
// flight, by worker. It holds what the Tally holds and a count per worker.
type cursorTally struct {
	t        time.Duration
	tally    *Tally
	inFlight int
	flying   []int // per worker, the requests in flight routed there
}

func newCursorTally(t time.Duration, workers int, tally *Tally) *cursorTally {
	return &cursorTally{t: t, tally: tally, flying: make([]int, workers)}
}

// add takes r, if it arrived by t; failedBy says, for a failed request,
// whether its failure came by t.
func (c *cursorTally) add(r *sim.Record, failedBy bool) {
	if r.Arrival > c.t {
		return
	}
	ended := r.Done >= 0 && r.Done <= c.t
	if r.Status == sim.Failed {
		ended = failedBy
	}
	if !ended {
		c.inFlight++
		if r.Worker >= 0 {
			c.flying[r.Worker]++
		}
		return
	}
	c.tally.Add(r)
}

// metrics summarises what was added: cut carries the run's shape
// (scenario, trace, workers, capacity, unit, start and end; its records,
// events and samples are not read) and st is the run's state at t.
func (c *cursorTally) metrics(cut sim.Run, st sim.State, seed uint64) RunMetrics {
	cut.Samples = make([][]sim.Sample, cut.Workers)
	for w, s := range st.Workers {
		cut.Samples[w] = []sim.Sample{s}
	}
	if c.t < cut.End {
		cut.End = c.t
	}
	m := c.tally.Metrics(&cut, seed, math.NaN())
	m.InFlight = c.inFlight
	m.Requests += m.InFlight
	for w, n := range c.flying {
		m.WorkerMetrics[w].Requests += n
	}
	return m
}
