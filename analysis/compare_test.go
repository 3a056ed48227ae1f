package analysis

import (
	"bytes"
	"context"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// sampleLines is how many requests of the embedded Mooncake sample the
// comparison tests replay.
const sampleLines = 500

var (
	sampleOnce  sync.Once
	sampleTr    *trace.Trace
	sampleStats *trace.Stats
	sampleErr   error
)

// sampleTrace loads the first sampleLines requests of the embedded
// Mooncake conversation sample, with its statistics.
func sampleTrace(t testing.TB) (*trace.Trace, *trace.Stats) {
	t.Helper()
	sampleOnce.Do(func() {
		data, err := samples.ReadFile(samples.Mooncake)
		if err != nil {
			sampleErr = err
			return
		}
		lines := bytes.SplitAfterN(data, []byte("\n"), sampleLines+1)
		data = bytes.Join(lines[:sampleLines], nil)
		name := "sample:" + samples.Mooncake
		if sampleTr, sampleErr = trace.LoadBytes(name, data, trace.ReadOptions{}); sampleErr != nil {
			return
		}
		s, err := trace.OpenReader(name, bytes.NewReader(data), trace.ReadOptions{})
		if err != nil {
			sampleErr = err
			return
		}
		defer s.Close()
		sampleStats, sampleErr = trace.ComputeStats(s)
	})
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	return sampleTr, sampleStats
}

// baseScenario is the flags' scenario of the tests: 4 workers,
// 1000-block caches, the linear model at 0.02 ms per missed token (the
// sample's 500 requests then keep the workers busy without drowning them).
func baseScenario(t testing.TB) scenario.Scenario {
	t.Helper()
	sc := scenario.Default(param.Spec{}, param.Spec{})
	for _, kv := range [][2]string{{"workers", "4"}, {"cache_blocks", "1000"}, {"latency", "linear:miss_ms=0.02"}} {
		if err := sc.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	return sc
}

func entries(t testing.TB, specs ...string) []Entry {
	t.Helper()
	base := baseScenario(t)
	var out []Entry
	for _, s := range specs {
		sc, err := scenario.Parse(s, base)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Entry{Label: s, Scenario: sc})
	}
	return out
}

func TestStatOf(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name     string
		xs       []float64
		det      bool
		mean     float64
		interval bool
		n        int
	}{
		{"deterministic one run", []float64{3}, true, 3, false, 1},
		{"one seed has no interval", []float64{3}, false, 3, false, 1},
		{"five seeds", []float64{1, 2, 3, 4, 5}, false, 3, true, 5},
		{"NaN left out", []float64{1, nan, 3}, false, 2, true, 2},
		{"all NaN", []float64{nan, nan}, false, nan, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := StatOf(tt.xs, tt.det)
			if st.N != tt.n || st.HasInterval() != tt.interval || len(st.Values) != len(tt.xs) {
				t.Fatalf("StatOf(%v) = %+v, want n %d interval %v", tt.xs, st, tt.n, tt.interval)
			}
			if m := float64(st.Mean); !(m == tt.mean || math.IsNaN(m) && math.IsNaN(tt.mean)) {
				t.Fatalf("mean %v, want %v", m, tt.mean)
			}
			if !st.HasInterval() && st.N > 0 && (st.Lo != st.Mean || st.Hi != st.Mean || st.HalfWidth != 0) {
				t.Fatalf("no interval but lo/hi/half %v %v %v", st.Lo, st.Hi, st.HalfWidth)
			}
		})
	}
	// 1..5: s = √2.5, t(0.975, 4) = 2.776445: half = 2.776445·√2.5/√5.
	st := StatOf([]float64{1, 2, 3, 4, 5}, false)
	if want := 2.7764451051977987 * math.Sqrt(2.5) / math.Sqrt(5); math.Abs(float64(st.HalfWidth)-want) > 1e-9 || st.DF != 4 {
		t.Fatalf("half width %v df %d, want %v df 4", st.HalfWidth, st.DF, want)
	}
}

// mkResult builds a scenario result with one metric's per-seed values.
func mkResult(key string, det bool, err string, xs ...float64) ScenarioResult {
	r := ScenarioResult{Label: key, Error: err, Randomized: !det}
	if err == "" {
		r.Metrics = []MetricStat{{Key: key, Stat: StatOf(xs, det)}}
	}
	return r
}

func TestBest(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ss   []ScenarioResult
		want []bool
	}{
		{"lower wins", "ttft_p50_ms", []ScenarioResult{
			mkResult("ttft_p50_ms", true, "", 10), mkResult("ttft_p50_ms", false, "", 8, 9), mkResult("ttft_p50_ms", true, "", 12)},
			[]bool{false, true, false}},
		{"higher wins", "token_hit_ratio", []ScenarioResult{
			mkResult("token_hit_ratio", true, "", 0.3), mkResult("token_hit_ratio", true, "", 0.4)},
			[]bool{false, true}},
		{"ties both marked", "token_hit_ratio", []ScenarioResult{
			mkResult("token_hit_ratio", true, "", 0.4), mkResult("token_hit_ratio", true, "", 0.4), mkResult("token_hit_ratio", true, "", 0.1)},
			[]bool{true, true, false}},
		{"all tie: none marked", "failed", []ScenarioResult{
			mkResult("failed", true, "", 0), mkResult("failed", true, "", 0)},
			[]bool{false, false}},
		{"failed scenario never best", "ttft_p50_ms", []ScenarioResult{
			mkResult("ttft_p50_ms", true, "boom", 1), mkResult("ttft_p50_ms", true, "", 5), mkResult("ttft_p50_ms", true, "", 6)},
			[]bool{false, true, false}},
		{"one contender: none", "ttft_p50_ms", []ScenarioResult{
			mkResult("ttft_p50_ms", true, "boom", 1), mkResult("ttft_p50_ms", true, "", 5)},
			[]bool{false, false}},
		{"no direction: none", "phases", []ScenarioResult{
			mkResult("phases", true, "", 1), mkResult("phases", true, "", 2)},
			[]bool{false, false}},
		{"NaN never best", "max_load_ratio", []ScenarioResult{
			mkResult("max_load_ratio", true, "", math.NaN()), mkResult("max_load_ratio", true, "", 1.2), mkResult("max_load_ratio", true, "", 1.3)},
			[]bool{false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Best(tt.ss, tt.key)
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("Best = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestPair(t *testing.T) {
	k := "token_hit_ratio"
	a := mkResult(k, false, "", 0.5, 0.6, 0.7)
	b := mkResult(k, false, "", 0.4, 0.5, 0.6)
	d := mkResult(k, true, "", 0.45)
	e := mkResult(k, true, "", 0.40)
	short := mkResult(k, false, "", 0.4, 0.5)

	st, ok := Pair(&a, &b, k)
	if !ok || math.Abs(float64(st.Mean)-0.1) > 1e-12 || !st.HasInterval() || st.HalfWidth > 1e-9 {
		t.Fatalf("constant difference: %+v", st)
	}
	// A deterministic side is a constant: differences 0.05, 0.15, 0.25.
	st, ok = Pair(&a, &d, k)
	if !ok || math.Abs(float64(st.Mean)-0.15) > 1e-12 || !st.HasInterval() || st.N != 3 {
		t.Fatalf("randomized vs deterministic: %+v", st)
	}
	// s = 0.1; with 2 degrees of freedom t(p) = (2p−1)/√(2p(1−p)).
	if want := 0.95 / math.Sqrt(2*0.975*0.025) * 0.1 / math.Sqrt(3); math.Abs(float64(st.HalfWidth)-want) > 1e-12 {
		t.Fatalf("half width %v, want %v", st.HalfWidth, want)
	}
	st, ok = Pair(&d, &e, k)
	if !ok || !st.Det || st.HasInterval() || math.Abs(float64(st.Mean)-0.05) > 1e-12 {
		t.Fatalf("deterministic pair: %+v", st)
	}
	if _, ok := Pair(&a, &short, k); ok {
		t.Fatal("pairing different seed counts must fail")
	}
}

func TestParseSweep(t *testing.T) {
	tests := []struct {
		in      string
		key     string
		n       int
		wantErr string
	}{
		{"cache_blocks=100,200,400", "cache_blocks", 3, ""},
		{"workers=1, 2 ,4", "workers", 3, ""},
		{"rate=0.5,1.5", "rate", 2, ""},
		{"cache_tokens=1000,2000", "cache_tokens", 2, ""},
		{"seed=1,2", "", 0, "cannot be swept"},
		{"workers", "", 0, "want KEY=A,B,C"},
		{"=1,2", "", 0, "want KEY=A,B,C"},
		{"workers=1", "", 0, "at least two values"},
		{"workers=1,,2", "", 0, "empty value"},
		{"workers=0,1", "", 0, "not an integer in [1, 4096]"},
		{"rate=trace,2", "", 0, "not a number"},
		{"cache_blocks=100,100", "", 0, "are the same"},
	}
	for _, tt := range tests {
		sw, err := ParseSweep(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSweep(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || sw.Key != tt.key || len(sw.Values) != tt.n {
			t.Errorf("ParseSweep(%q) = %+v, %v", tt.in, sw, err)
		}
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{"r.md": FormatMarkdown, "a/b.HTML": FormatHTML, "x.json": FormatJSON, "y.csv": FormatCSV} {
		if f, err := FormatOf(path); err != nil || f != want {
			t.Errorf("FormatOf(%q) = %q, %v", path, f, err)
		}
	}
	for _, path := range []string{"r", "r.txt", "r.md.gz"} {
		if _, err := FormatOf(path); err == nil {
			t.Errorf("FormatOf(%q) accepted", path)
		}
	}
}

func TestShellQuote(t *testing.T) {
	got := ShellQuote([]string{"kvscope", "-s", "lbgr+rlt;workers=2", "it's", "a b", ""})
	want := `kvscope -s 'lbgr+rlt;workers=2' 'it'\''s' 'a b' ''`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func TestCompareSeedsAndFailures(t *testing.T) {
	tr, _ := sampleTrace(t)
	es := entries(t, "lbgr+rlt", "cache_aware+lru", "round_robin+lru;cache_blocks=200")
	var work, workTotal int64
	cmp, err := Compare(context.Background(), tr, es, CompareOptions{Seeds: 3, Points: 10,
		Work: func(d, n int64) { work, workTotal = d, n }})
	if err != nil {
		t.Fatal(err)
	}
	// The failed run's work counts as done: the work ends on its total.
	if want := int64(2 * len(tr.Requests) * 5); work != want || workTotal != want {
		t.Errorf("work %d of %d, want %d of %d", work, workTotal, want, want)
	}
	rlt, lru, bad := &cmp.Scenarios[0], &cmp.Scenarios[1], &cmp.Scenarios[2]
	if !rlt.OK() || !rlt.Randomized || len(rlt.Seeds) != 3 || len(rlt.Runs) != 3 {
		t.Fatalf("randomized scenario: seeds %v runs %d err %q", rlt.Seeds, len(rlt.Runs), rlt.Error)
	}
	if m := rlt.Metric("token_hit_ratio"); !m.HasInterval() || m.N != 3 || m.DF != 2 {
		t.Fatalf("randomized hit ratio without interval: %+v", m)
	}
	for i, s := range rlt.Seeds {
		if s != uint64(i+1) || !strings.Contains(rlt.Runs[i].Scenario, ";seed="+string(rune('1'+i))) {
			t.Fatalf("seed %d: %d, scenario %s", i, s, rlt.Runs[i].Scenario)
		}
	}
	if !lru.OK() || lru.Randomized || len(lru.Runs) != 1 {
		t.Fatalf("deterministic scenario ran %d times (err %q)", len(lru.Runs), lru.Error)
	}
	m := lru.Metric("token_hit_ratio")
	if m.HasInterval() || !m.Det {
		t.Fatalf("deterministic scenario has an interval: %+v", m)
	}
	if intervalNote(lru) != NoInterval {
		t.Fatalf("interval note %q", intervalNote(lru))
	}
	if bad.OK() || !strings.Contains(bad.Error, "seed 1") || !strings.Contains(bad.Error, "more than the cache's 200") {
		t.Fatalf("oversize scenario: error %q", bad.Error)
	}
	rep := &Report{Command: "kvscope compare x", Version: "test", Comparison: cmp}
	if f := rep.Failures(); len(f) != 1 || !strings.HasPrefix(f[0], "round_robin+lru;cache_blocks=200: ") {
		t.Fatalf("failures %q", f)
	}
	// Pairs: only the two that ran, headline metrics.
	for _, p := range cmp.Paired {
		if p.A != 0 || p.B != 1 {
			t.Fatalf("pair with a failed scenario: %+v", p)
		}
	}
	if len(cmp.Paired) != len(headline()) {
		t.Fatalf("%d pairs, want %d", len(cmp.Paired), len(headline()))
	}
	// Workers carry competitive ratios and bounds.
	w0 := &rlt.Workers[0]
	if m := w0.Metric("ratio_vs_opt"); m == nil || m.N != 3 || !(m.Mean >= 1) {
		t.Fatalf("worker 0 ratio vs opt: %+v", m)
	}
	if m := w0.Metric("rlt_bound"); m == nil || m.N == 0 {
		t.Fatalf("worker 0 rlt bound: %+v", m)
	}
	if r := rlt.Runs[0].Workers[0]; r.OptMissed <= 0 || r.PolicyMissed < r.OptMissed || r.BeladyMissed > r.OptMissed {
		t.Fatalf("worker 0 misses: policy %d opt %d belady %d", r.PolicyMissed, r.OptMissed, r.BeladyMissed)
	}
}

func TestCompareParallelDeterministic(t *testing.T) {
	tr, st := sampleTrace(t)
	es := entries(t, "lbgr+rlt", "random+lru")
	var outs [2][]byte
	for i, par := range []int{1, 4} {
		cmp, err := Compare(context.Background(), tr, es, CompareOptions{Seeds: 3, Points: 10, Parallel: par})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		rep := &Report{Command: "c", Version: "v", Stats: st, Comparison: cmp}
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		outs[i] = b.Bytes()
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("JSON differs between 1 and 4 parallel runs")
	}
}

func TestCompareSweep(t *testing.T) {
	tr, _ := sampleTrace(t)
	sw, err := ParseSweep("cache_blocks=300,1000,3000")
	if err != nil {
		t.Fatal(err)
	}
	var calls, total int
	var work, workTotal int64
	cmp, err := Compare(context.Background(), tr, entries(t, "lbgr+lru", "lbgr+rlt"), CompareOptions{
		Seeds: 2, Points: 10, Sweep: &sw,
		Progress: func(d, n int) { calls, total = d, n },
		Work: func(d, n int64) {
			if d < work || n != workTotal && workTotal != 0 {
				t.Errorf("work %d of %d after %d of %d", d, n, work, workTotal)
			}
			work, workTotal = d, n
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Runs are shared: the 300-block point is the main scenario itself.
	// lbgr+lru: 1 main + 2 new points; lbgr+rlt: 2 seeds × (1 + 2).
	if want := 3 + 6; cmp.Timing.Runs != want || total != want || calls != want {
		t.Fatalf("runs %d (progress %d/%d), want %d", cmp.Timing.Runs, calls, total, want)
	}
	// Work: every run's requests twice (simulated, then the ratio step).
	if want := int64(2 * len(tr.Requests) * 9); work != want || workTotal != want {
		t.Errorf("work %d of %d, want %d of %d", work, workTotal, want, want)
	}
	s := cmp.Sweep
	if s == nil || len(s.Curves) != 2 || len(s.Curves[0].Points) != 3 {
		t.Fatalf("sweep %+v", s)
	}
	// The 1000-block point equals the main comparison.
	main := cmp.Scenarios[1].Metric("token_hit_ratio")
	pt := s.Curves[1].Points[1].Metric("token_hit_ratio")
	if main.Mean != pt.Mean || main.HalfWidth != pt.HalfWidth {
		t.Fatalf("sweep point %v ± %v, main %v ± %v", pt.Mean, pt.HalfWidth, main.Mean, main.HalfWidth)
	}
	// More cache, no fewer hits for lru (deterministic).
	lo := s.Curves[0].Points[0].Metric("token_hit_ratio").Mean
	hi := s.Curves[0].Points[2].Metric("token_hit_ratio").Mean
	if !(hi >= lo) {
		t.Fatalf("lru hit ratio %v at 3000 blocks < %v at 300", hi, lo)
	}
}

func TestCompareCanceled(t *testing.T) {
	tr, _ := sampleTrace(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Compare(ctx, tr, entries(t, "lbgr+rlt"), CompareOptions{Seeds: 2}); err == nil {
		t.Fatal("canceled comparison succeeded")
	}
}

func TestResample(t *testing.T) {
	got := resample([]float64{0, 10}, []float64{0, 100}, []float64{-1, 0, 5, 10, 11}, false)
	want := []float64{math.NaN(), 0, 50, 100, math.NaN()}
	for i := range want {
		if !(got[i] == want[i] || math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("resample = %v, want %v", got, want)
		}
	}
}

func TestThinCDF(t *testing.T) {
	var ms, fr []float64
	for i := range 1000 {
		ms = append(ms, float64(i))
		fr = append(fr, float64(i+1)/1000)
	}
	s := thinCDF(ms, fr, 200)
	if len(s.T) != 200 || s.V[len(s.V)-1] != 1 || s.T[0] != 4 {
		t.Fatalf("thinCDF: %d points, last %v, first %v", len(s.T), s.V[len(s.V)-1], s.T[0])
	}
}
