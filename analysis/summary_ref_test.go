package analysis_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// analysis.Summary checked against figures computed another way, on runs
// built by hand: percentiles by sorting and taking the ⌈p·n/100⌉-th
// value with integer arithmetic, sums and ratios worked out in the
// comments.

// msd is x milliseconds.
func msd(x float64) time.Duration { return time.Duration(math.Round(x * 1e6)) }

// rec is a hand-built record, times in ms. A failed record keeps only its
// arrival (the simulator leaves the other times unset, -1).
type rec struct {
	w                       int
	st                      sim.Status
	fail                    string
	arr, start, first, done float64
}

// handRun builds a run from records in trace order and per-worker samples
// (nil: none); start and end (ms) bound it.
func handRun(workers int, start, end float64, recs []rec, samples [][]sim.Sample) *sim.Run {
	if samples == nil {
		samples = make([][]sim.Sample, workers)
	}
	run := &sim.Run{Scenario: "hand", Workers: workers, Capacity: 64, Unit: "blocks",
		Samples: samples, Start: msd(start), End: msd(end)}
	for i, h := range recs {
		r := sim.Record{Index: int32(i), Worker: int16(h.w), Status: h.st, Fail: h.fail,
			Arrival: msd(h.arr), Start: -1, FirstToken: -1, Done: -1}
		if h.st != sim.Failed {
			r.Start, r.FirstToken, r.Done = msd(h.start), msd(h.first), msd(h.done)
		}
		run.Records = append(run.Records, r)
	}
	return run
}

// same: equal within 1e-12 (relative above 1), NaN equal to NaN.
func same(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
}

func checkF(t *testing.T, name string, got, want float64) {
	t.Helper()
	if !same(got, want) {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

func checkDist(t *testing.T, name string, got, want analysis.Dist) {
	t.Helper()
	checkF(t, name+".p50", got.P50, want.P50)
	checkF(t, name+".p90", got.P90, want.P90)
	checkF(t, name+".p99", got.P99, want.P99)
	checkF(t, name+".mean", got.Mean, want.Mean)
	if got.N != want.N {
		t.Errorf("%s.n = %d, want %d", name, got.N, want.N)
	}
}

var noDist = analysis.Dist{P50: math.NaN(), P90: math.NaN(), P99: math.NaN(), Mean: math.NaN()}

// nearestRank is the p-th percentile (p in percent) by nearest rank: the
// ⌈p·n/100⌉-th smallest, at least the first, in integer arithmetic.
func nearestRank(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	return s[max((p*len(s)+99)/100, 1)-1]
}

func distOf(xs []float64) analysis.Dist {
	if len(xs) == 0 {
		return noDist
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return analysis.Dist{P50: nearestRank(xs, 50), P90: nearestRank(xs, 90), P99: nearestRank(xs, 99),
		Mean: sum / float64(len(xs)), N: len(xs)}
}

// engine is a scenario whose latency model has no max_load_s bound.
var engine = scenario.Scenario{Latency: param.Spec{Name: "engine"}, Seed: 3}

// Three workers, the third idle; seven requests: four completed, one
// bypassed, one failed before routing (oversize) and one failed on
// worker 0. Times in ms.
//
//	req  worker  status     arrival  start  first  done   TTFT  E2E  queue
//	0    0       completed  0        0      10     30     10    30   0
//	1    1       completed  5        5      25     45     20    40   0
//	2    0       completed  10       30     40     50     30    40   20
//	3    –       failed     12       (oversize)
//	4    1       bypassed   20       45     65.5   70     45.5  50   25
//	5    0       failed     21       (does not fit)
//	6    0       completed  30       50     60     100    30    70   20
//
// Served (completed, bypassed included): 5; requests 7 = 5 + 2 failed.
// TTFT sorted 10 20 30 30 45.5: p50 = 3rd (⌈2.5⌉) = 30 (a tie), p90 =
// p99 = 5th = 45.5, mean 135.5/5 = 27.1. E2E 30 40 40 50 70: 40, 70, 70,
// mean 46. Queue 0 0 20 20 25: 20, 25, 25, mean 13.
// Worker 0 (requests 0 2 5 6; served 0 2 6): TTFT 10 30 30: p50 = 2nd =
// 30, p90 = p99 = 3rd = 30, mean 70/3; E2E 30 40 70: 40, 70, 70, 140/3.
// Worker 1 (1 4): TTFT 20 45.5: p50 = 1st = 20, p90 = 2nd = 45.5, mean
// 32.75; E2E 40 50: 40, 50, 50, 45. Worker 2: nothing (NaN, n = 0).
// Last samples: w0 hit 300/1,000 tokens, 3/10 blocks, evicted 4, 1
// phase, busy 60 ms (an earlier sample says otherwise and must not
// count); w1 0/500 tokens, 0/5 blocks, busy 30 ms; w2 none.
// Token hit ratio 300/1,500 = 0.2, block 3/15 = 0.2.
// Loads 0.06 0.03 0 s: max_load_s 0.06, mean 0.03, max/mean 2;
// population σ = √((0.03² + 0 + 0.03²)/3) = √0.0006, cv = √0.0006/0.03 =
// √(2/3); Jain (0.09)²/(3·(0.0036 + 0.0009)) = 0.0081/0.0135 = 0.6.
// Start 0, end 100 ms: makespan 0.1 s, throughput 5/0.1 = 50 req/s.
func TestSummaryHandWorked(t *testing.T) {
	run := handRun(3, 0, 100, []rec{
		{0, sim.Completed, "", 0, 0, 10, 30},
		{1, sim.Completed, "", 5, 5, 25, 45},
		{0, sim.Completed, "", 10, 30, 40, 50},
		{-1, sim.Failed, "oversize: needs 9 blocks, cache holds 8", 12, 0, 0, 0},
		{1, sim.Bypassed, "", 20, 45, 65.5, 70},
		{0, sim.Failed, "does not fit in an empty cache", 21, 0, 0, 0},
		{0, sim.Completed, "", 30, 50, 60, 100},
	}, [][]sim.Sample{
		{
			{T: msd(40), HitTokens: 999, InputTokens: 999, HitBlocks: 9, Blocks: 9, Evicted: 9, Phases: 9, Busy: msd(999)},
			{T: msd(100), HitTokens: 300, InputTokens: 1000, HitBlocks: 3, Blocks: 10, Evicted: 4, Phases: 1, Busy: msd(60)},
		},
		{{T: msd(70), InputTokens: 500, Blocks: 5, Busy: msd(30)}},
		nil,
	})
	m := analysis.Summary(nil, run, engine)
	if m.Requests != 7 || m.Completed != 5 || m.Failed != 2 || m.Bypassed != 1 || m.InFlight != 0 {
		t.Errorf("requests %d completed %d failed %d bypassed %d in flight %d, want 7 5 2 1 0", m.Requests, m.Completed, m.Failed, m.Bypassed, m.InFlight)
	}
	if len(m.FailedReasons) != 2 || m.FailedReasons["oversize: needs 9 blocks, cache holds 8"] != 1 || m.FailedReasons["does not fit in an empty cache"] != 1 {
		t.Errorf("failed reasons %v", m.FailedReasons)
	}
	if m.Seed != 3 || m.Workers != 3 || m.Scenario != "hand" {
		t.Errorf("seed %d workers %d scenario %q", m.Seed, m.Workers, m.Scenario)
	}
	checkDist(t, "ttft", m.TTFT, analysis.Dist{P50: 30, P90: 45.5, P99: 45.5, Mean: 27.1, N: 5})
	checkDist(t, "e2e", m.E2E, analysis.Dist{P50: 40, P90: 70, P99: 70, Mean: 46, N: 5})
	checkDist(t, "queue", m.Queue, analysis.Dist{P50: 20, P90: 25, P99: 25, Mean: 13, N: 5})
	checkF(t, "token hit ratio", m.TokenHitRatio, 0.2)
	checkF(t, "block hit ratio", m.BlockHitRatio, 0.2)
	if m.HitTokens != 300 || m.InputTokens != 1500 || m.HitBlocks != 3 || m.Blocks != 15 || m.Evicted != 4 || m.Phases != 1 {
		t.Errorf("sums: hit tokens %d/%d blocks %d/%d evicted %d phases %d", m.HitTokens, m.InputTokens, m.HitBlocks, m.Blocks, m.Evicted, m.Phases)
	}
	checkF(t, "makespan_s", m.MakespanS, 0.1)
	checkF(t, "throughput", m.ThroughputRPS, 50)
	checkF(t, "max_load_s", m.MaxLoadS, 0.06)
	checkF(t, "max/mean", m.Imbalance.MaxOverMean, 2)
	checkF(t, "cv", m.Imbalance.CV, math.Sqrt(2.0/3))
	checkF(t, "jain", m.Imbalance.Jain, 0.6)
	if m.MaxLoadLowerBoundS != nil || m.MaxLoadRatio != nil {
		t.Errorf("engine model: lower bound %v ratio %v, want none", m.MaxLoadLowerBoundS, m.MaxLoadRatio)
	}
	if len(m.WorkerMetrics) != 3 {
		t.Fatalf("%d workers", len(m.WorkerMetrics))
	}
	w0, w1, w2 := m.WorkerMetrics[0], m.WorkerMetrics[1], m.WorkerMetrics[2]
	if w0.Worker != 0 || w0.Requests != 4 || w0.Completed != 3 || w1.Worker != 1 || w1.Requests != 2 || w1.Completed != 2 || w2.Worker != 2 || w2.Requests != 0 || w2.Completed != 0 {
		t.Errorf("per worker requests/completed: %d/%d %d/%d %d/%d", w0.Requests, w0.Completed, w1.Requests, w1.Completed, w2.Requests, w2.Completed)
	}
	checkDist(t, "w0 ttft", w0.TTFT, analysis.Dist{P50: 30, P90: 30, P99: 30, Mean: 70.0 / 3, N: 3})
	checkDist(t, "w0 e2e", w0.E2E, analysis.Dist{P50: 40, P90: 70, P99: 70, Mean: 140.0 / 3, N: 3})
	checkDist(t, "w1 ttft", w1.TTFT, analysis.Dist{P50: 20, P90: 45.5, P99: 45.5, Mean: 32.75, N: 2})
	checkDist(t, "w1 e2e", w1.E2E, analysis.Dist{P50: 40, P90: 50, P99: 50, Mean: 45, N: 2})
	checkDist(t, "w2 ttft", w2.TTFT, noDist)
	checkDist(t, "w2 e2e", w2.E2E, noDist)
	checkF(t, "w0 token hit", w0.TokenHitRatio, 0.3)
	checkF(t, "w0 block hit", w0.BlockHitRatio, 0.3)
	checkF(t, "w1 token hit", w1.TokenHitRatio, 0)
	checkF(t, "w2 token hit", w2.TokenHitRatio, 0)
	checkF(t, "w0 load", w0.LoadS, 0.06)
	checkF(t, "w1 load", w1.LoadS, 0.03)
	checkF(t, "w2 load", w2.LoadS, 0)
	if w0.Evicted != 4 || w0.Phases != 1 || w0.HitTokens != 300 || w1.InputTokens != 500 {
		t.Errorf("w0 evicted %d phases %d hit tokens %d, w1 input %d", w0.Evicted, w0.Phases, w0.HitTokens, w1.InputTokens)
	}
}

// 100 requests on two workers, TTFT ((37·i) mod 100) div 10 ms: the values
// 0…9, ten of each. ⌈q·n⌉ is exact: p50 is the 50th value, the last 4
// (the 51st would be 5), p90 the 90th, the last 8, p99 the 99th, 9. E2E
// adds i mod 7 ms; queueing is min(i mod 3, TTFT) ms. Every figure is also computed by
// sorting the values here.
func TestSummaryExactRanks(t *testing.T) {
	var recs []rec
	var ttft, e2e, queue [2][]float64
	for i := range 100 {
		w := i % 2
		tt := float64((37 * i % 100) / 10)
		q := math.Min(float64(i%3), tt)
		e := tt + float64(i%7)
		arr := float64(i)
		recs = append(recs, rec{w, sim.Completed, "", arr, arr + q, arr + tt, arr + e})
		ttft[w] = append(ttft[w], tt)
		e2e[w] = append(e2e[w], e)
		queue[w] = append(queue[w], q)
	}
	// Busy 2 s and 3 s: loads 2 3, mean 2.5, max/mean 1.2, σ 0.5, cv 0.2,
	// Jain 25/(2·13) = 25/26.
	run := handRun(2, 0, 200, recs, [][]sim.Sample{{{Busy: 2 * time.Second}}, {{Busy: 3 * time.Second}}})
	m := analysis.Summary(nil, run, engine)
	all := func(x [2][]float64) []float64 { return append(slices.Clone(x[0]), x[1]...) }
	checkDist(t, "ttft", m.TTFT, analysis.Dist{P50: 4, P90: 8, P99: 9, Mean: 4.5, N: 100})
	checkDist(t, "ttft (sorted here)", m.TTFT, distOf(all(ttft)))
	checkDist(t, "e2e", m.E2E, distOf(all(e2e)))
	checkDist(t, "queue", m.Queue, distOf(all(queue)))
	for w := range 2 {
		checkDist(t, "worker ttft", m.WorkerMetrics[w].TTFT, distOf(ttft[w]))
		checkDist(t, "worker e2e", m.WorkerMetrics[w].E2E, distOf(e2e[w]))
	}
	checkF(t, "throughput", m.ThroughputRPS, 500)
	checkF(t, "makespan_s", m.MakespanS, 0.2)
	checkF(t, "max_load_s", m.MaxLoadS, 3)
	checkF(t, "max/mean", m.Imbalance.MaxOverMean, 1.2)
	checkF(t, "cv", m.Imbalance.CV, 0.2)
	checkF(t, "jain", m.Imbalance.Jain, 25.0/26)
}

// Edge cases: a single request; every request failed; a run whose first
// arrival is its last completion.
func TestSummaryEdges(t *testing.T) {
	// One request, one worker: every percentile and the mean are its own
	// figures (TTFT 7.25, E2E 9, queue 1.5 ms); 1 request in 9 ms.
	one := handRun(1, 2, 11, []rec{{0, sim.Completed, "", 2, 3.5, 9.25, 11}}, [][]sim.Sample{{{Busy: msd(7.5)}}})
	m := analysis.Summary(nil, one, engine)
	checkDist(t, "one ttft", m.TTFT, analysis.Dist{P50: 7.25, P90: 7.25, P99: 7.25, Mean: 7.25, N: 1})
	checkDist(t, "one e2e", m.E2E, analysis.Dist{P50: 9, P90: 9, P99: 9, Mean: 9, N: 1})
	checkDist(t, "one queue", m.Queue, analysis.Dist{P50: 1.5, P90: 1.5, P99: 1.5, Mean: 1.5, N: 1})
	checkF(t, "one throughput", m.ThroughputRPS, 1/0.009)
	checkF(t, "one makespan", m.MakespanS, 0.009)
	checkF(t, "one max_load_s", m.MaxLoadS, 0.0075)
	if m.Imbalance != (analysis.Imbalance{MaxOverMean: 1, CV: 0, Jain: 1}) {
		t.Errorf("one worker imbalance %+v", m.Imbalance)
	}

	// Both requests failed, on two workers that did no work: nothing
	// served, no latencies, throughput 0 over a 5 ms span, all-zero
	// loads balanced by convention (1, 0, 1).
	failed := handRun(2, 0, 5, []rec{
		{-1, sim.Failed, "oversize: needs 9 blocks, cache holds 8", 0, 0, 0, 0},
		{1, sim.Failed, "oversize: needs 9 blocks, cache holds 8", 5, 0, 0, 0},
	}, nil)
	m = analysis.Summary(nil, failed, engine)
	if m.Requests != 2 || m.Completed != 0 || m.Failed != 2 || m.FailedReasons["oversize: needs 9 blocks, cache holds 8"] != 2 {
		t.Errorf("all failed: requests %d completed %d failed %d reasons %v", m.Requests, m.Completed, m.Failed, m.FailedReasons)
	}
	checkDist(t, "failed ttft", m.TTFT, noDist)
	checkDist(t, "failed queue", m.Queue, noDist)
	checkF(t, "failed throughput", m.ThroughputRPS, 0)
	checkF(t, "failed makespan", m.MakespanS, 0.005)
	checkF(t, "failed max_load_s", m.MaxLoadS, 0)
	if m.Imbalance != (analysis.Imbalance{MaxOverMean: 1, CV: 0, Jain: 1}) {
		t.Errorf("idle imbalance %+v", m.Imbalance)
	}
	if m.WorkerMetrics[1].Requests != 1 || m.WorkerMetrics[0].Requests != 0 {
		t.Errorf("routed failure counts on its worker: %d %d", m.WorkerMetrics[0].Requests, m.WorkerMetrics[1].Requests)
	}

	// First arrival = last completion (a zero span): no throughput or
	// makespan rather than a division by zero.
	flat := handRun(1, 4, 4, []rec{{0, sim.Completed, "", 4, 4, 4, 4}}, nil)
	m = analysis.Summary(nil, flat, engine)
	if m.ThroughputRPS != 0 || m.MakespanS != 0 || m.TTFT.P50 != 0 || m.TTFT.N != 1 {
		t.Errorf("zero span: throughput %v makespan %v ttft %+v", m.ThroughputRPS, m.MakespanS, m.TTFT)
	}
}

// The linear model's lower bound on max_load_s (SPEC §9), worked by hand:
// cached_ms 0.01, miss_ms 0.1, out_ms 1, two workers, 512-token blocks.
// Requests (ids, input, output) in trace order:
//
//	0  [0 1]      1024  10   arrives 0
//	1  [0 1 2]    1536   5   arrives 20
//	2  [0 1 2 3]  1600   0   arrives 10 (before 1: run order counts)
//	3  [4]         512   2   failed: left out
//	4  [0 1]      1024   4   bypassed: nothing counted as cached
//
// In arrival order, with the longest prefix seen before as cached:
// 0: nothing seen, c = 0.1·1024 + 10 = 112.4 ms; 2: 0 1 seen (1024
// tokens), c = 0.01·1024 + 0.1·576 = 67.84; 1: all seen (1536), c =
// 15.36 + 5 = 20.36; 4: bypassed, c = 102.4 + 4 = 106.4. Σ = 307, Σ/2 =
// 153.5 > max 112.4: the bound is 0.1535 s; with busiest load 0.2 s the
// ratio is 0.2/0.1535.
func TestSummaryLinearLowerBound(t *testing.T) {
	tr, err := trace.LoadBytes("hand.jsonl", []byte(`{"timestamp": 0, "input_length": 1024, "output_length": 10, "hash_ids": [0, 1]}
{"timestamp": 1, "input_length": 1536, "output_length": 5, "hash_ids": [0, 1, 2]}
{"timestamp": 2, "input_length": 1600, "output_length": 0, "hash_ids": [0, 1, 2, 3]}
{"timestamp": 3, "input_length": 512, "output_length": 2, "hash_ids": [4]}
{"timestamp": 4, "input_length": 1024, "output_length": 4, "hash_ids": [0, 1]}
`), trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	run := handRun(2, 0, 300, []rec{
		{0, sim.Completed, "", 0, 0, 100, 110},
		{1, sim.Completed, "", 20, 20, 40, 45},
		{1, sim.Completed, "", 10, 10, 20, 20},
		{-1, sim.Failed, "oversize: needs 2 blocks, cache holds 1", 30, 0, 0, 0},
		{0, sim.Bypassed, "", 40, 110, 210, 214},
	}, [][]sim.Sample{{{Busy: msd(200)}}, {{Busy: msd(100)}}})
	lin, err := param.Parse("linear:cached_ms=0.01,miss_ms=0.1,out_ms=1")
	if err != nil {
		t.Fatal(err)
	}
	m := analysis.Summary(tr, run, scenario.Scenario{Latency: lin})
	if m.MaxLoadLowerBoundS == nil || m.MaxLoadRatio == nil {
		t.Fatal("linear model: no lower bound")
	}
	checkF(t, "lower bound", *m.MaxLoadLowerBoundS, 0.1535)
	checkF(t, "ratio", *m.MaxLoadRatio, 0.2/0.1535)
	// keep_outputs voids the bound (a turn may hit an earlier reply).
	if m := analysis.Summary(tr, run, scenario.Scenario{Latency: lin, KeepOutputs: true}); m.MaxLoadLowerBoundS != nil {
		t.Errorf("keep_outputs: lower bound %v, want none", *m.MaxLoadLowerBoundS)
	}
}
