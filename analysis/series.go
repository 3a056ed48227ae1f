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

// grid returns n instants spanning the run (n ≥ 2), as durations.
func grid(run *sim.Run, n int) []time.Duration {
	n = max(n, 2)
	out := make([]time.Duration, n)
	span := run.End - run.Start
	for i := range out {
		out[i] = run.Start + time.Duration(float64(span)*float64(i)/float64(n-1))
	}
	return out
}

func secs(run *sim.Run, t time.Duration) float64 { return (t - run.Start).Seconds() }

// HitRatioSeries is the cluster's cumulative token hit ratio over time
// (hits counted at prefill start), at n instants.
func HitRatioSeries(run *sim.Run, n int) Series {
	var s Series
	for _, t := range grid(run, n) {
		st := run.StateAt(t)
		var hit, in int64
		for _, w := range st.Workers {
			hit += w.HitTokens
			in += w.InputTokens
		}
		s.T = append(s.T, secs(run, t))
		s.V = append(s.V, ratio(hit, in))
	}
	return s
}

// QueueSeries is each worker's waiting-queue length over time, at n
// instants: one Series per worker.
func QueueSeries(run *sim.Run, n int) []Series {
	out := make([]Series, run.Workers)
	for _, t := range grid(run, n) {
		st := run.StateAt(t)
		for w, ws := range st.Workers {
			out[w].T = append(out[w].T, secs(run, t))
			out[w].V = append(out[w].V, float64(ws.Queue))
		}
	}
	return out
}

// InFlightSeries is the cluster's requests in flight (queued or running,
// all workers) over time, at n instants: what a live run's driver counts
// as in flight (sent, not ended), so the two can be drawn together.
func InFlightSeries(run *sim.Run, n int) Series {
	var s Series
	for _, t := range grid(run, n) {
		st := run.StateAt(t)
		var v int64
		for _, w := range st.Workers {
			v += int64(w.Queue) + int64(w.Running)
		}
		s.T = append(s.T, secs(run, t))
		s.V = append(s.V, float64(v))
	}
	return s
}

// TTFTSeries is the median TTFT (ms) of the requests whose first token came
// in each of n−1 equal windows, plotted at the window's end; NaN for an
// empty window.
func TTFTSeries(run *sim.Run, n int) Series {
	g := grid(run, n)
	buckets := make([][]float64, len(g))
	for i := range run.Records {
		r := &run.Records[i]
		if r.Status == sim.Failed {
			continue
		}
		j, _ := slices.BinarySearch(g, r.FirstToken)
		j = min(max(j, 1), len(g)-1)
		buckets[j] = append(buckets[j], msOf(r.TTFT()))
	}
	var s Series
	for j := 1; j < len(g); j++ {
		v := math.NaN()
		if len(buckets[j]) > 0 {
			slices.Sort(buckets[j])
			v = Percentile(buckets[j], 0.5)
		}
		s.T = append(s.T, secs(run, g[j]))
		s.V = append(s.V, v)
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
	var failedBy map[int32]bool // failures logged by t
	if len(run.Events) > 0 {
		failedBy = map[int32]bool{}
		for _, e := range run.Events[:run.EventIndex(t+1)] {
			if e.Kind == sim.LogFail {
				failedBy[e.Req] = true
			}
		}
	}
	cut := *run
	cut.Records = make([]sim.Record, 0, len(run.Records))
	var flying []int16 // the workers of requests in flight
	for i := range run.Records {
		r := &run.Records[i]
		if r.Arrival > t {
			continue
		}
		ended := r.Done >= 0 && r.Done <= t
		if r.Status == sim.Failed {
			ended = failedBy == nil || failedBy[r.Index]
		}
		if !ended {
			flying = append(flying, r.Worker)
			continue
		}
		cut.Records = append(cut.Records, *r)
	}
	st := run.StateAt(t)
	cut.Samples = make([][]sim.Sample, run.Workers)
	for w, s := range st.Workers {
		cut.Samples[w] = []sim.Sample{s}
	}
	if t < cut.End {
		cut.End = t
	}
	m := Metrics(&cut, seed, math.NaN())
	m.InFlight = len(flying)
	m.Requests += m.InFlight
	for _, w := range flying {
		if w >= 0 {
			m.WorkerMetrics[w].Requests++
		}
	}
	return m
}
