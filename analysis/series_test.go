package analysis_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/sim"
)

func checkSeries(t *testing.T, name string, got analysis.Series, wantT, wantV []float64) {
	t.Helper()
	if len(got.T) != len(wantT) || len(got.V) != len(wantV) {
		t.Fatalf("%s: %d times %d values, want %d %d", name, len(got.T), len(got.V), len(wantT), len(wantV))
	}
	for i := range wantT {
		if !same(got.T[i], wantT[i]) || !same(got.V[i], wantV[i]) {
			t.Errorf("%s point %d: (%v, %v), want (%v, %v)", name, i, got.T[i], got.V[i], wantT[i], wantV[i])
		}
	}
}

// seriesRun: two workers over 0…100 ms; with n = 5 the instants are 0,
// 25, 50, 75 and 100 ms. Samples (cumulative hit/input tokens, queue):
//
//	w0  at 0: 0/100 q1   at 30: 50/200 q2   at 100: 150/300 q0
//	w1  at 25: 10/100 q3, then at 25 again: 20/200 q4   at 80: 20/400 q1
//
// A state at t is the last sample at or before t (after every sample at
// exactly t); a worker before its first sample is all zeros.
func seriesRun() *sim.Run {
	return handRun(2, 0, 100, []rec{
		{0, sim.Completed, "", 0, 0, 10, 11},   // TTFT 10, first token in (0, 25]
		{0, sim.Completed, "", 20, 20, 25, 26}, // 5, first token at 25: still (0, 25]
		{1, sim.Completed, "", 20, 20, 26, 27}, // 6, (25, 50]
		{1, sim.Completed, "", 0, 0, 30, 31},   // 30
		{0, sim.Completed, "", 25, 25, 27, 28}, // 2
		{-1, sim.Failed, "oversize: needs 9 blocks, cache holds 8", 40, 0, 0, 0},
		{1, sim.Completed, "", 60, 60, 95, 100}, // 35, (75, 100]
		{0, sim.Bypassed, "", 40, 40, 90, 95},   // 50
		{1, sim.Completed, "", 0, 0, 0, 1},      // 0, first token at the first instant: counted in the first window
	}, [][]sim.Sample{
		{{T: 0, HitTokens: 0, InputTokens: 100, Queue: 1}, {T: msd(30), HitTokens: 50, InputTokens: 200, Queue: 2}, {T: msd(100), HitTokens: 150, InputTokens: 300}},
		{{T: msd(25), HitTokens: 10, InputTokens: 100, Queue: 3}, {T: msd(25), HitTokens: 20, InputTokens: 200, Queue: 4}, {T: msd(80), HitTokens: 20, InputTokens: 400, Queue: 1}},
	})
}

var seriesT = []float64{0, 0.025, 0.05, 0.075, 0.1}

// Cluster hit ratio: at 0, 0/100 (w1 has no sample yet); at 25, 0/100 +
// 20/200 (the later sample at 25) = 20/300; at 50 and 75, 50/200 + 20/200
// = 70/400; at 100, 150/300 + 20/400 = 170/700.
func TestHitRatioSeries(t *testing.T) {
	run := seriesRun()
	checkSeries(t, "hit ratio", analysis.HitRatioSeries(run, 5), seriesT, []float64{0, 20.0 / 300, 70.0 / 400, 70.0 / 400, 170.0 / 700})
	// Fewer than two points still spans the run: its start and its end.
	checkSeries(t, "hit ratio n=1", analysis.HitRatioSeries(run, 1), []float64{0, 0.1}, []float64{0, 170.0 / 700})
}

// Queues: w0 1 1 2 2 0; w1 0 (no sample yet) 4 4 4 1.
func TestQueueSeries(t *testing.T) {
	qs := analysis.QueueSeries(seriesRun(), 5)
	if len(qs) != 2 {
		t.Fatalf("%d series", len(qs))
	}
	checkSeries(t, "w0 queue", qs[0], seriesT, []float64{1, 1, 2, 2, 0})
	checkSeries(t, "w1 queue", qs[1], seriesT, []float64{0, 4, 4, 4, 1})
}

// TTFT medians (nearest rank) per window of first tokens, plotted at the
// window's end: (0, 25] with the first instant itself: 10 5 0 → 0 5 10, the
// 2nd: 5; (25, 50]: 6 30 2 → 2 6 30: 6; (50, 75]: none, NaN; (75, 100]:
// 35 50: the 1st, 35. The failed request has no TTFT.
func TestTTFTSeries(t *testing.T) {
	checkSeries(t, "ttft", analysis.TTFTSeries(seriesRun(), 5), seriesT[1:], []float64{5, 6, math.NaN(), 35})
}

func TestTTFTCDF(t *testing.T) {
	ms, frac := analysis.TTFTCDF(seriesRun())
	want := []float64{0, 2, 5, 6, 10, 30, 35, 50}
	if !slices.Equal(ms, want) {
		t.Errorf("cdf ms %v, want %v", ms, want)
	}
	for i := range frac {
		if !same(frac[i], float64(i+1)/8) {
			t.Errorf("cdf fraction %d = %v, want %v", i, frac[i], float64(i+1)/8)
		}
	}
	if len(frac) != 8 {
		t.Errorf("%d fractions", len(frac))
	}
}

// cursorRun: six requests on two workers, times in ms; d's real failure
// reason is the text MetricsAt once used to mark requests in flight.
//
//	req  worker  status     arrival  first  done  failed at
//	a    0       completed  0        10     20
//	b    1       completed  5        30     60
//	c    –       failed     10                    10 (oversize, at arrival)
//	d    0       failed     15                    40
//	e    0       bypassed   30       50     80
//	f    1       completed  50       70     100
func cursorRun() *sim.Run {
	run := handRun(2, 0, 100, []rec{
		{0, sim.Completed, "", 0, 0, 10, 20},
		{1, sim.Completed, "", 5, 5, 30, 60},
		{-1, sim.Failed, "oversize: needs 9 blocks, cache holds 8", 10, 0, 0, 0},
		{0, sim.Failed, "in flight at cursor", 15, 0, 0, 0},
		{0, sim.Bypassed, "", 30, 40, 50, 80},
		{1, sim.Completed, "", 50, 60, 70, 100},
	}, [][]sim.Sample{
		{{T: 0, InputTokens: 100}, {T: msd(20), InputTokens: 100, Busy: msd(20)}, {T: msd(80), InputTokens: 300, Busy: msd(60)}},
		{{T: msd(5), HitTokens: 10, InputTokens: 100}, {T: msd(60), HitTokens: 10, InputTokens: 100, Busy: msd(55)}, {T: msd(100), HitTokens: 60, InputTokens: 200, Busy: msd(95)}},
	})
	run.Events = []sim.Event{
		{T: msd(10), Req: 2, Worker: -1, Kind: sim.LogFail},
		{T: msd(20), Req: 0, Worker: 0, Kind: sim.LogComplete},
		{T: msd(40), Req: 3, Worker: 0, Kind: sim.LogFail},
		{T: msd(60), Req: 1, Worker: 1, Kind: sim.LogComplete},
		{T: msd(80), Req: 4, Worker: 0, Kind: sim.LogComplete},
		{T: msd(100), Req: 5, Worker: 1, Kind: sim.LogComplete},
	}
	return run
}

func checkCounts(t *testing.T, at string, m analysis.RunMetrics, requests, completed, failed, inFlight int, reasons map[string]int) {
	t.Helper()
	if m.Requests != requests || m.Completed != completed || m.Failed != failed || m.InFlight != inFlight {
		t.Errorf("%s: requests %d completed %d failed %d in flight %d, want %d %d %d %d", at, m.Requests, m.Completed, m.Failed, m.InFlight, requests, completed, failed, inFlight)
	}
	if len(m.FailedReasons) != len(reasons) {
		t.Errorf("%s: failed reasons %v, want %v", at, m.FailedReasons, reasons)
	}
	for k, v := range reasons {
		if m.FailedReasons[k] != v {
			t.Errorf("%s: failed reasons %v, want %v", at, m.FailedReasons, reasons)
			break
		}
	}
}

func TestMetricsAtCursor(t *testing.T) {
	run := cursorRun()
	oversize := "oversize: needs 9 blocks, cache holds 8"

	// At 35 ms: a b c d e arrived; a done; c failed (at 10); b, d (fails
	// at 40) and e in flight. Worker 0 was given a d e, worker 1 b.
	// Latencies over a alone: TTFT 10, E2E 20, queue 0. One served in 35
	// ms. State at 35: w0 0/100 tokens, busy 20 ms; w1 10/100, busy 0:
	// hit ratio 10/200.
	m := analysis.MetricsAt(run, 9, msd(35))
	checkCounts(t, "35 ms", m, 5, 1, 1, 3, map[string]int{oversize: 1})
	if m.WorkerMetrics[0].Requests != 3 || m.WorkerMetrics[1].Requests != 1 || m.WorkerMetrics[0].Completed != 1 || m.WorkerMetrics[1].Completed != 0 {
		t.Errorf("35 ms per worker requests %d %d completed %d %d", m.WorkerMetrics[0].Requests, m.WorkerMetrics[1].Requests, m.WorkerMetrics[0].Completed, m.WorkerMetrics[1].Completed)
	}
	checkDist(t, "35 ms ttft", m.TTFT, analysis.Dist{P50: 10, P90: 10, P99: 10, Mean: 10, N: 1})
	checkDist(t, "35 ms e2e", m.E2E, analysis.Dist{P50: 20, P90: 20, P99: 20, Mean: 20, N: 1})
	checkDist(t, "35 ms queue", m.Queue, analysis.Dist{P50: 0, P90: 0, P99: 0, Mean: 0, N: 1})
	checkF(t, "35 ms throughput", m.ThroughputRPS, 1/0.035)
	checkF(t, "35 ms makespan", m.MakespanS, 0.035)
	checkF(t, "35 ms hit ratio", m.TokenHitRatio, 0.05)
	checkF(t, "35 ms max_load_s", m.MaxLoadS, 0.02)
	if m.Seed != 9 {
		t.Errorf("seed %d", m.Seed)
	}

	// At 40 ms d's failure is logged: a real failure whose reason is the
	// old in-flight text counts as a failure, not as in flight.
	checkCounts(t, "40 ms", analysis.MetricsAt(run, 9, msd(40)), 5, 1, 2, 2, map[string]int{oversize: 1, "in flight at cursor": 1})

	// Without an event log a failure counts from its arrival.
	bare := cursorRun()
	bare.Events = nil
	checkCounts(t, "35 ms, no event log", analysis.MetricsAt(bare, 9, msd(35)), 5, 1, 2, 2, map[string]int{oversize: 1, "in flight at cursor": 1})

	// Before the first arrival: nothing.
	m = analysis.MetricsAt(run, 9, -1)
	checkCounts(t, "before", m, 0, 0, 0, 0, nil)
	checkDist(t, "before ttft", m.TTFT, noDist)

	// At and after the end, MetricsAt is the whole run's summary.
	full := analysis.Metrics(run, 9, math.NaN())
	checkCounts(t, "full", full, 6, 4, 2, 0, map[string]int{oversize: 1, "in flight at cursor": 1})
	for _, at := range []time.Duration{run.End, run.End + time.Second} {
		m := analysis.MetricsAt(run, 9, at)
		checkCounts(t, "end", m, full.Requests, full.Completed, full.Failed, 0, full.FailedReasons)
		if m.Bypassed != 1 || full.Bypassed != 1 {
			t.Errorf("bypassed %d, full %d, want 1", m.Bypassed, full.Bypassed)
		}
		checkDist(t, "end ttft", m.TTFT, full.TTFT)
		checkDist(t, "end e2e", m.E2E, full.E2E)
		checkDist(t, "end queue", m.Queue, full.Queue)
		checkF(t, "end throughput", m.ThroughputRPS, full.ThroughputRPS)
		checkF(t, "end makespan", m.MakespanS, full.MakespanS)
		checkF(t, "end hit ratio", m.TokenHitRatio, full.TokenHitRatio)
		checkF(t, "end max_load_s", m.MaxLoadS, full.MaxLoadS)
		for w := range full.WorkerMetrics {
			if m.WorkerMetrics[w].Requests != full.WorkerMetrics[w].Requests || m.WorkerMetrics[w].Completed != full.WorkerMetrics[w].Completed {
				t.Errorf("end worker %d: %d/%d, full %d/%d", w, m.WorkerMetrics[w].Requests, m.WorkerMetrics[w].Completed, full.WorkerMetrics[w].Requests, full.WorkerMetrics[w].Completed)
			}
		}
	}
}

// At every millisecond of the run, counted here from the records and the
// failure times: arrived = completed + failed + in flight, each by its own
// rule.
func TestMetricsAtAccounts(t *testing.T) {
	run := cursorRun()
	failAt := map[int32]time.Duration{2: msd(10), 3: msd(40)}
	for ms := -1.0; ms <= 101; ms++ {
		at := msd(ms)
		var arrived, done, failed int
		for i, r := range run.Records {
			if r.Arrival > at {
				continue
			}
			arrived++
			switch {
			case r.Status == sim.Failed:
				if failAt[int32(i)] <= at {
					failed++
				}
			case r.Done <= at:
				done++
			}
		}
		m := analysis.MetricsAt(run, 1, at)
		if m.Requests != arrived || m.Completed != done || m.Failed != failed || m.InFlight != arrived-done-failed {
			t.Errorf("%v ms: requests %d completed %d failed %d in flight %d, counted %d %d %d %d", ms, m.Requests, m.Completed, m.Failed, m.InFlight, arrived, done, failed, arrived-done-failed)
		}
	}
}
