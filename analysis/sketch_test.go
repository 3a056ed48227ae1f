package analysis

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// sketchQuantiles are the ranks every check queries: the ends, the report's
// three and the far tail.
var sketchQuantiles = []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1}

// roundingSlack is the floating-point slack allowed beyond α (the bucket
// index is computed with math.Log; see Sketch).
const roundingSlack = 1e-12

// sketchOf feeds ns to a new Sketch in order.
func sketchOf(ns []int64) *Sketch {
	var s Sketch
	for _, v := range ns {
		s.AddNs(v)
	}
	return &s
}

// sketchViolations checks s, fed ns, against the exact figures: every
// quantile of sketchQuantiles and Dist's p50/p90/p99 within α·|exact| of
// Percentile of the same values in ms (float64(ns)/1e6, as Summary
// converts), the count equal and the mean within 1e-12 (relative) of
// Summarize's. It returns one line per violation.
func sketchViolations(s *Sketch, ns []int64) []string {
	ms := msOfNs(ns)
	exact := Summarize(ms) // sorts ms, which Percentile needs
	var bad []string
	check := func(what string, q, got float64) {
		want := Percentile(ms, q)
		if d := math.Abs(got - want); !(d <= SketchRelativeAccuracy*math.Abs(want)*(1+roundingSlack)) {
			bad = append(bad, fmt.Sprintf("%s (q=%v): sketch %.9g, exact %.9g: relative error %.5g > α=%v",
				what, q, got, want, d/math.Abs(want), SketchRelativeAccuracy))
		}
	}
	for _, q := range sketchQuantiles {
		check("Quantile", q, s.Quantile(q))
	}
	d := s.Dist()
	check("Dist.P50", 0.50, d.P50)
	check("Dist.P90", 0.90, d.P90)
	check("Dist.P99", 0.99, d.P99)
	if d.N != exact.N || s.N() != int64(len(ns)) {
		bad = append(bad, fmt.Sprintf("N %d (Dist %d), want %d", s.N(), d.N, exact.N))
	}
	if e := math.Abs(d.Mean - exact.Mean); !(e <= 1e-12*math.Abs(exact.Mean)) {
		bad = append(bad, fmt.Sprintf("mean %.17g, Summarize's %.17g", d.Mean, exact.Mean))
	}
	return bad
}

// checkSketch fails t with each violation of sketchViolations.
func checkSketch(t *testing.T, name string, s *Sketch, ns []int64) {
	t.Helper()
	for _, b := range sketchViolations(s, ns) {
		t.Errorf("%s: %s", name, b)
	}
}

// msOfNs converts ns to ms as Summary does (float64(ns)/1e6).
func msOfNs(ns []int64) []float64 {
	ms := make([]float64, len(ns))
	for i, v := range ns {
		ms[i] = float64(v) / 1e6
	}
	return ms
}

// sameDist reports whether a and b are the same Dist bit for bit (NaNs
// equal).
func sameDist(a, b Dist) bool {
	eq := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }
	return eq(a.P50, b.P50) && eq(a.P90, b.P90) && eq(a.P99, b.P99) && eq(a.Mean, b.Mean) && a.N == b.N
}

// checkMergeAndOrder: the Sketch of ns equals, bit for bit, the merge of
// sketches of its two halves (and of its thirds, merged in another order),
// and a Sketch of ns shuffled.
func checkMergeAndOrder(t *testing.T, name string, ns []int64) {
	t.Helper()
	all := sketchOf(ns).Dist()
	h := len(ns) / 2
	a, b := sketchOf(ns[:h]), sketchOf(ns[h:])
	a.Merge(b)
	if got := a.Dist(); !sameDist(got, all) {
		t.Errorf("%s: merge of halves %+v, one sketch %+v", name, got, all)
	}
	var m Sketch // the zero value as the receiver
	k := len(ns) / 3
	for _, part := range [][]int64{ns[2*k:], ns[:k], ns[k : 2*k]} {
		m.Merge(sketchOf(part))
	}
	if got := m.Dist(); !sameDist(got, all) {
		t.Errorf("%s: merge of thirds %+v, one sketch %+v", name, got, all)
	}
	sh := slices.Clone(ns)
	rand.New(rand.NewPCG(7, 8)).Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
	if got := sketchOf(sh).Dist(); !sameDist(got, all) {
		t.Errorf("%s: shuffled %+v, in order %+v", name, got, all)
	}
}

// heavyTailed is n latencies in ns, deterministic: Pareto (shape 1.1, so
// the mean barely exists) scaled to 1 ms, times a lognormal, with a tenth
// of them 0 and a few at the ends of the range (1 ns, 10^15 ns).
func heavyTailed(n int) []int64 {
	rng := rand.New(rand.NewPCG(1, 2))
	ns := make([]int64, n)
	for i := range ns {
		switch {
		case i%10 == 0:
			ns[i] = 0
		case i%997 == 0:
			ns[i] = 1
		case i%1009 == 0:
			ns[i] = 1e15
		default:
			pareto := math.Pow(1-rng.Float64(), -1/1.1)
			ns[i] = int64(1e6 * pareto * math.Exp(rng.NormFloat64()))
		}
	}
	return ns
}

func TestSketchHeavyTailed(t *testing.T) {
	ns := heavyTailed(200_000)
	checkSketch(t, "heavy-tailed", sketchOf(ns), ns)
	checkMergeAndOrder(t, "heavy-tailed", ns)
	// Small samples: the rank arithmetic at every n from 1 to 300.
	for n := 1; n <= 300; n++ {
		checkSketch(t, fmt.Sprintf("heavy-tailed[:%d]", n), sketchOf(ns[1:n+1]), ns[1:n+1])
	}
}

// TestSketchRealRun: the TTFT, E2E and queueing of every served request of
// a simulated run of the Mooncake conversation trace, summarised by a
// Sketch, are within the bound of Summarize's; per-worker sketches merged
// give the all-requests sketch exactly.
func TestSketchRealRun(t *testing.T) {
	dir := testenv.SharedTraces(t)
	tr, err := trace.Load(filepath.Join(dir, "mooncake", "conversation_trace.jsonl"), trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{
		// Overloaded: queueing dominates (minutes).
		"cache_aware+lru;workers=4;cache_blocks=4000",
		// Served in milliseconds, with output tokens: TTFT and E2E differ.
		"lbgr+rlt;workers=16;cache_blocks=4000;latency=linear:miss_ms=0.15,out_ms=2",
	} {
		checkSketchRun(t, tr, spec)
	}
}

// checkSketchRun simulates spec on tr and checks Sketches of its latencies.
func checkSketchRun(t *testing.T, tr *trace.Trace, spec string) {
	t.Helper()
	sc, err := scenario.Parse(spec, scenario.Default(param.Spec{}, param.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	run, err := sim.Simulate(context.Background(), tr, sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ttft, e2e, queue []int64
	perWorker := make([]Sketch, run.Workers)
	var all Sketch
	for i := range run.Records {
		r := &run.Records[i]
		if r.Status == sim.Failed {
			continue
		}
		ttft = append(ttft, int64(r.TTFT()))
		e2e = append(e2e, int64(r.E2E()))
		queue = append(queue, int64(r.Queueing()))
		perWorker[r.Worker].Add(r.TTFT())
		all.Add(r.TTFT())
	}
	if len(ttft) < 10_000 {
		t.Fatalf("%s: only %d served requests of %d", spec, len(ttft), len(run.Records))
	}
	zeros := 0
	for _, q := range queue {
		if q == 0 {
			zeros++
		}
	}
	t.Logf("%s: %d served requests, %d with no queueing", spec, len(ttft), zeros)
	for _, c := range []struct {
		name string
		ns   []int64
	}{{"ttft", ttft}, {"e2e", e2e}, {"queue", queue}} {
		s := sketchOf(c.ns)
		checkSketch(t, spec+": "+c.name, s, c.ns)
		checkMergeAndOrder(t, spec+": "+c.name, c.ns)
		t.Logf("%s: %s: sketch %+v, exact %+v", spec, c.name, s.Dist(), Summarize(msOfNs(c.ns)))
	}
	var merged Sketch
	for w := range perWorker {
		merged.Merge(&perWorker[w])
	}
	if got, want := merged.Dist(), all.Dist(); !sameDist(got, want) {
		t.Errorf("%s: per-worker TTFT sketches merged %+v, one sketch %+v", spec, got, want)
	}
}

func TestSketchEmptySingleZero(t *testing.T) {
	var s Sketch
	d := s.Dist()
	if !math.IsNaN(d.P50) || !math.IsNaN(d.P90) || !math.IsNaN(d.P99) || !math.IsNaN(d.Mean) || d.N != 0 {
		t.Errorf("empty: %+v, want NaNs and 0 like Summarize", d)
	}
	if !math.IsNaN(s.Quantile(0.5)) || !math.IsNaN(s.Mean()) || s.N() != 0 {
		t.Errorf("empty: quantile %v, mean %v, n %d", s.Quantile(0.5), s.Mean(), s.N())
	}
	s.Merge(nil)
	s.Merge(&Sketch{})
	if d := s.Dist(); !sameDist(d, Summarize(nil)) {
		t.Errorf("empty merged with empties: %+v", d)
	}

	// One value: exact everywhere (the bucket's representative is clamped
	// to the value itself).
	for _, v := range []int64{0, 1, 999_999, 1_234_567_891, math.MaxInt64} {
		s := sketchOf([]int64{v})
		want := float64(v) / 1e6
		if d := s.Dist(); d.P50 != want || d.P90 != want || d.P99 != want || d.Mean != want || d.N != 1 {
			t.Errorf("single %d ns: %+v, want %v ms everywhere", v, d, want)
		}
	}

	// Zeros are exact: the zero bucket, not a bucket near 0.
	zeros := make([]int64, 1000)
	if d := sketchOf(zeros).Dist(); d.P50 != 0 || d.P99 != 0 || d.Mean != 0 || d.N != 1000 {
		t.Errorf("all zeros: %+v", d)
	}
	// 95% zeros then 1 ns .. 50 ns: p50 and p90 exactly 0, p99 the 990th value, 40 ns.
	mixed := make([]int64, 1000)
	for i := 950; i < 1000; i++ {
		mixed[i] = int64(i - 949)
	}
	ms := sketchOf(mixed)
	if d := ms.Dist(); d.P50 != 0 || d.P90 != 0 || d.P99 == 0 {
		t.Errorf("95%% zeros: %+v, want p50 = p90 = 0 exactly and p99 > 0", d)
	}
	checkSketch(t, "95% zeros", ms, mixed)
}

// Negative values never occur for latencies; a Sketch keeps them without
// a panic, with the same bound on their magnitude.
func TestSketchNegative(t *testing.T) {
	ns := []int64{-5_000_000, -1, 0, 0, 3, 2_000_000, -700_000_000, 40_000_000, math.MinInt64 + 1, 12}
	checkSketch(t, "negatives", sketchOf(ns), ns)
	checkMergeAndOrder(t, "negatives", ns)
	// The 128-bit sum: MaxInt64 twice and MinInt64 twice sum to −2 ns, mean −0.5 ns.
	s := sketchOf([]int64{math.MaxInt64, math.MaxInt64, math.MinInt64, math.MinInt64})
	if m := s.Mean(); m != -0.5/1e6 {
		t.Errorf("mean of ±2^63 values %v, want %v", m, -0.5/1e6)
	}
	s = sketchOf([]int64{math.MaxInt64, math.MaxInt64, math.MaxInt64})
	if m := s.Mean(); m != float64(math.MaxInt64)/1e6 {
		t.Errorf("mean of 3 × MaxInt64 ns %v, want %v (no overflow)", m, float64(math.MaxInt64)/1e6)
	}
}

// Merging a Sketch into itself doubles every count; the Dist of s ∪ s is
// the Dist of the values twice.
func TestSketchSelfMerge(t *testing.T) {
	ns := heavyTailed(5000)
	s := sketchOf(ns)
	s.Merge(s)
	twice := append(slices.Clone(ns), ns...)
	if got, want := s.Dist(), sketchOf(twice).Dist(); !sameDist(got, want) {
		t.Errorf("self-merge %+v, want %+v", got, want)
	}
}

// TestSketchCheckCanFail: the checks above catch a sketch that breaks its
// bound. A Sketch whose DDSketch maps at 5% (claiming 1%) and one queried
// at DDSketch's own rank ⌊q·(n−1)⌋+1 instead of Percentile's must both be
// reported.
func TestSketchCheckCanFail(t *testing.T) {
	ns := heavyTailed(20_000)
	coarse := sketchOf(nil)
	m, err := mapping.NewLogarithmicMapping(0.05)
	if err != nil {
		t.Fatal(err)
	}
	coarse.dd = ddsketch.NewDDSketch(m, store.NewDenseStore(), store.NewDenseStore())
	for _, v := range ns {
		coarse.AddNs(v)
	}
	if bad := sketchViolations(coarse, ns); len(bad) == 0 {
		t.Errorf("a 5%% sketch passed the 1%% check")
	}

	// DDSketch's own rank ⌊q·(n−1)⌋+1 is not Percentile's ⌈q·n⌉: on 1 … 10
	// ms its p99 is 9 ms (within α), nearest rank's is 10 ms. Sketch must
	// answer the latter.
	few := []int64{1e6, 2e6, 3e6, 4e6, 5e6, 6e6, 7e6, 8e6, 9e6, 10e6}
	s := sketchOf(few)
	own, err := s.dd.GetValueAtQuantile(0.99)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(own-9) > SketchRelativeAccuracy*9*(1+roundingSlack) {
		t.Errorf("DDSketch's own p99 of 1…10 ms is %v, not 9 ms within α: its rank has changed", own)
	}
	if got := s.Quantile(0.99); math.Abs(got-10) > SketchRelativeAccuracy*10*(1+roundingSlack) {
		t.Errorf("p99 of 1…10 ms is %v, want 10 ms within α", got)
	}
}

// BenchmarkSketchAdd is the cost of adding one latency (heavy-tailed, 1 ms
// scale) to a Sketch: ns/op is per value.
func BenchmarkSketchAdd(b *testing.B) {
	ns := heavyTailed(1 << 16)
	var s Sketch
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.AddNs(ns[i&(1<<16-1)])
	}
}

// BenchmarkSketch10M adds 10 million heavy-tailed latencies to one Sketch
// and reports the heap it holds afterwards (bytes/sketch, measured with
// runtime.MemStats around it) and its Dist's cost.
func BenchmarkSketch10M(b *testing.B) {
	ns := heavyTailed(1 << 16)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := new(Sketch)
		for i := range 10_000_000 {
			s.AddNs(ns[i&(1<<16-1)] + int64(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc)-float64(before.HeapAlloc), "bytes/sketch")
		start := time.Now()
		d := s.Dist()
		b.ReportMetric(float64(time.Since(start).Nanoseconds()), "ns/dist")
		if d.N != 10_000_000 {
			b.Fatalf("n %d", d.N)
		}
		runtime.KeepAlive(s)
	}
}

// TestSketchConstantMemory: the buckets follow the range of the values, not
// their number. Once 1 ns and the largest int64 have been added, the
// positive store spans at most 2,184 buckets and no further value in
// between allocates.
func TestSketchConstantMemory(t *testing.T) {
	var s Sketch
	s.AddNs(1)
	s.AddNs(math.MaxInt64)
	p := s.dd.GetPositiveValueStore()
	lo, _ := p.MinIndex()
	hi, _ := p.MaxIndex()
	if n := hi - lo + 1; n > 2184 {
		t.Errorf("positive int64 ns span %d buckets, documented at most 2,184", n)
	}
	ns := heavyTailed(100_000)
	// AllocsPerRun would truncate an average below 1 per value to 0. The
	// count is the process's: the fewest of three passes (each on a fresh
	// copy of s) is taken, so a stray allocation elsewhere cannot fail it.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	fewest := uint64(math.MaxUint64)
	for range 3 {
		var c Sketch
		c.Merge(&s)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, v := range ns {
			c.AddNs(v)
		}
		runtime.ReadMemStats(&after)
		fewest = min(fewest, after.Mallocs-before.Mallocs)
	}
	if fewest > 5 {
		t.Errorf("%d allocations for %d values once the range is covered", fewest, len(ns))
	}
}
