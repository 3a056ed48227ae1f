package analysis

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
)

func TestParseSLOs(t *testing.T) {
	got, err := ParseSLOs("ttft_p90=2s, e2e_p99=1m30s,queue_mean=250ms")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		metric string
		ms     float64
	}{{"ttft_p90", 2000}, {"e2e_p99", 90000}, {"queue_mean", 250}}
	if len(got) != len(want) {
		t.Fatalf("got %d SLOs, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Metric != w.metric || float64(got[i].TargetMS) != w.ms {
			t.Errorf("SLO %d = %s %v ms, want %s %v", i, got[i].Metric, got[i].TargetMS, w.metric, w.ms)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", "empty"},
		{"ttft_p95=2s", `unknown metric "ttft_p95" (valid: ttft_p50, ttft_p90`},
		{"ttft_p95=2s", `did you mean`},
		{"itl_p90=50ms", "itl is not measured"},
		{"ttft_p90=2", "give the unit (2s or 2ms)"},
		{"ttft_p90=fast", "not a duration"},
		{"ttft_p90=0s", "must be positive"},
		{"ttft_p90=-1s", "must be positive"},
		{"ttft_p90=2s,ttft_p90=3s", "given twice"},
		{"ttft_p90", "is not METRIC=DURATION"},
		{"ttft_p90=2s,", "is not METRIC=DURATION"},
	} {
		_, err := ParseSLOs(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSLOs(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

func TestParseCostsAndGPUs(t *testing.T) {
	costs, err := ParseCosts("h100-sxm=2.49, l40s=$0.99")
	if err != nil || costs["h100-sxm"] != 2.49 || costs["l40s"] != 0.99 {
		t.Fatalf("ParseCosts = %v, %v", costs, err)
	}
	for _, c := range []struct{ in, want string }{
		{"h100=2", `unknown GPU "h100"`},
		{"h100-sxm=0", "positive price"},
		{"h100-sxm=cheap", "positive price"},
		{"h100-sxm=NaN", "positive price"},
		{"h100-sxm", "is not GPU=PRICE"},
		{"l4=1,l4=2", "given twice"},
	} {
		if _, err := ParseCosts(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseCosts(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
	gs, err := PlanGPUs([]string{"h100-sxm", "a10g", "l40s"}, "llama-3.1-8b", 1, map[string]float64{"l40s": 0.99})
	if err != nil {
		t.Fatal(err)
	}
	if gs[0].Profile != "h100-sxm-llama-3.1-8b" || math.Abs(float64(gs[0].Price)-4.176) > 1e-9 || !gs[0].Unverified {
		t.Errorf("h100-sxm: %+v (want the default table's price, unverified)", gs[0])
	}
	if !math.IsNaN(float64(gs[1].Price)) || !strings.Contains(gs[1].PriceSource, "--cost a10g=PRICE") {
		t.Errorf("a10g: %+v (want no price)", gs[1])
	}
	if gs[2].Price != 0.99 || gs[2].PriceSource != "--cost" {
		t.Errorf("l40s: %+v (want --cost's price)", gs[2])
	}
	if gs, err := PlanGPUs([]string{"h100-sxm"}, "llama-3.1-70b", 4, nil); err != nil || gs[0].Profile != "h100-sxm-llama-3.1-70b-tp4" || gs[0].HourlyCost(3) != 12*float64(gs[0].Price) {
		t.Errorf("tp4: %+v, %v", gs, err)
	}
	for _, c := range []struct {
		gpus  []string
		costs map[string]float64
		want  string
	}{
		{[]string{"h100"}, nil, `unknown GPU "h100"`},
		{[]string{"l4", "l4"}, nil, "given twice"},
		{[]string{"l4"}, map[string]float64{"h200": 3}, "--cost names h200, which is not among the GPUs planned"},
	} {
		if _, err := PlanGPUs(c.gpus, "llama-3.1-8b", 1, c.costs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PlanGPUs(%v, %v) = %v, want an error containing %q", c.gpus, c.costs, err, c.want)
		}
	}
}

// fakeEntry is a scenario that resolves (Plan checks it) but never runs:
// the tests' runners give the metric values.
func fakeEntry(t *testing.T, spec string) Entry {
	t.Helper()
	sc, err := scenario.Parse(spec, scenario.Default(param.Spec{}, param.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	return Entry{Label: spec, Scenario: sc}
}

// curveRunner answers every cell with ttft_p90 = f(entry, gpu, workers,
// seed) and counts the cells it ran.
func curveRunner(f func(e, g, w int, seed uint64) float64, cells *int) func(context.Context, []PlanCell) ([]PlanCellResult, error) {
	return func(_ context.Context, cs []PlanCell) ([]PlanCellResult, error) {
		out := make([]PlanCellResult, len(cs))
		for i, c := range cs {
			out[i] = PlanCellResult{Values: map[string]F{"ttft_p90": F(f(c.Entry, c.GPU, c.Workers, c.Seed))}, Completed: 1}
		}
		*cells += len(cs)
		return out, nil
	}
}

// bruteForce is the smallest w in 1..k with mean over seeds of f ≤ target
// (0: none).
func bruteForce(f func(w int, seed uint64) float64, seeds []uint64, k int, target float64) int {
	for w := 1; w <= k; w++ {
		var sum float64
		for _, s := range seeds {
			sum += f(w, s)
		}
		if sum/float64(len(seeds)) <= target {
			return w
		}
	}
	return 0
}

// TestPlanSearchMatchesBruteForce checks the search's answer against a
// scan of every count on metric curves of known shape: monotone ones of
// several kinds, and non-monotone ones whose rise shows at a probed count
// (the search then scans the segment).
func TestPlanSearchMatchesBruteForce(t *testing.T) {
	ttft := func(ms float64) []SLO {
		return []SLO{{Metric: "ttft_p90", TargetMS: F(ms), Text: fmt.Sprint(ms, "ms")}}
	}
	curves := map[string]func(w int, seed uint64) float64{
		"1/w":        func(w int, _ uint64) float64 { return 1000 / float64(w) },
		"steep":      func(w int, _ uint64) float64 { return math.Pow(2, float64(40-w)) },
		"flat floor": func(w int, _ uint64) float64 { return 100 + 900/float64(w*w) },
		"noisy seeds": func(w int, s uint64) float64 {
			return 1000/float64(w) + 30*float64(int(s%3)-1)
		},
		// A dip at 3 (10) between 2 (500) and 4 (800): the rise from 2
		// to 4 shows at probed counts, so 3 is scanned.
		"dip at 3": func(w int, _ uint64) float64 {
			switch w {
			case 3:
				return 10
			case 4, 5, 6:
				return 800
			}
			return 1000 / float64(w)
		},
		// Rises above the answer: reported, the answer unchanged.
		"rise above": func(w int, _ uint64) float64 {
			if w >= 20 {
				return 1000/float64(w) + float64(w%3)
			}
			return 1000 / float64(w)
		},
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range curves {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		f := curves[name]
		for _, k := range []int{1, 7, 16, 64} {
			for _, target := range []float64{5, 60, 99, 150, 333, 501, 999, 1000, 2000} {
				for _, spec := range []string{"round_robin+lru;cache_blocks=100", "round_robin+rlt;cache_blocks=100"} {
					e := fakeEntry(t, spec)
					seeds := seedsOf(e.Scenario, 3)
					want := bruteForce(f, seeds, k, target)
					cells := 0
					res, err := Plan(context.Background(), nil, []Entry{e}, PlanOptions{SLOs: ttft(target), MaxWorkers: k, Seeds: 3,
						Runner: curveRunner(func(_, _, w int, s uint64) float64 { return f(w, s) }, &cells)})
					if err != nil {
						t.Fatal(err)
					}
					s := res.Scenarios[0]
					got := 0
					if s.Workers != nil {
						got = *s.Workers
					}
					if got != want {
						t.Errorf("%s, K=%d, target %v, %s: answer %d, brute force %d (probes %v)", name, k, target, spec, got, want, probeCounts(s))
						continue
					}
					if cells != res.Runs || cells > k*len(seeds) {
						t.Errorf("%s, K=%d, target %v: %d cells run (Runs %d), at most %d", name, k, target, cells, res.Runs, k*len(seeds))
					}
					switch {
					case want == 0:
						if s.Miss == nil || !(*s.Miss > 0) || s.Best == nil || s.Margin != nil {
							t.Errorf("%s, K=%d, target %v: no fleet meets, want a positive miss and a best fleet: %+v", name, k, target, s)
						}
					default:
						if s.Margin == nil || *s.Margin < 0 || s.At == nil || s.At.Workers != want {
							t.Errorf("%s, K=%d, target %v: margin %v at %+v", name, k, target, s.Margin, s.At)
						}
						if want > 1 && (s.MarginBelow == nil || *s.MarginBelow >= 0 || s.Below.Workers != want-1) {
							t.Errorf("%s, K=%d, target %v: answer−1 not probed or not missing: %v", name, k, target, s.MarginBelow)
						}
					}
				}
			}
		}
	}
}

func probeCounts(s PlanScenario) []int {
	var out []int
	for _, c := range s.Candidates {
		for _, p := range c.Probes {
			out = append(out, p.Workers)
		}
	}
	return out
}

// TestPlanReportsNonMonotone: a dip hidden between probed counts that all
// look monotone is not found (the documented assumption), while a rise at
// probed counts is reported, scanned and named.
func TestPlanReportsNonMonotone(t *testing.T) {
	slo := []SLO{{Metric: "ttft_p90", TargetMS: 100, Text: "100ms"}}
	e := fakeEntry(t, "round_robin+lru;cache_blocks=100")
	// 1000/w, except a dip to 50 at 5: the probes (1, 2, 4, 8, 16, 12,
	// 10, 9) never see 5 and fall monotonically, so the answer is 10.
	hidden := func(_, _, w int, _ uint64) float64 {
		if w == 5 {
			return 50
		}
		return 1000 / float64(w)
	}
	cells := 0
	res, err := Plan(context.Background(), nil, []Entry{e}, PlanOptions{SLOs: slo, MaxWorkers: 64, Runner: curveRunner(hidden, &cells)})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Scenarios[0]
	if *s.Workers != 10 || !s.Candidates[0].Monotone || slices.Contains(probeCounts(s), 5) {
		t.Errorf("hidden dip: answer %d, monotone %v, probes %v; want 10, true, without 5", *s.Workers, s.Candidates[0].Monotone, probeCounts(s))
	}
	// A rise from 8 to 16 (probed) below the answer: 9..15 are scanned.
	rise := func(_, _, w int, _ uint64) float64 {
		switch {
		case w == 16:
			return 200
		case w >= 17 && w <= 31:
			return 150
		}
		return 1000 / float64(w)
	}
	res, err = Plan(context.Background(), nil, []Entry{e}, PlanOptions{SLOs: slo, MaxWorkers: 64, Runner: curveRunner(rise, &cells)})
	if err != nil {
		t.Fatal(err)
	}
	s = res.Scenarios[0]
	c := s.Candidates[0]
	if *s.Workers != 10 || c.Monotone || len(c.Scanned) == 0 {
		t.Fatalf("rise: answer %d, monotone %v, scanned %v, probes %v", *s.Workers, c.Monotone, c.Scanned, probeCounts(s))
	}
	if !slices.ContainsFunc(c.Notes, func(n string) bool { return strings.Contains(n, "meet every SLO but 16 do not") }) ||
		!slices.ContainsFunc(c.Notes, func(n string) bool { return strings.Contains(n, "ttft_p90 rises from") }) {
		t.Errorf("rise: notes %q", c.Notes)
	}
}

// TestPlanCheapestGPU: with several GPUs the answer is the cheapest fleet
// (workers × TP × price), not the smallest.
func TestPlanCheapestGPU(t *testing.T) {
	gpus, err := PlanGPUs([]string{"h100-sxm", "l4"}, "llama-3.1-8b", 1, map[string]float64{"h100-sxm": 4, "l4": 0.5})
	if err != nil {
		t.Fatal(err)
	}
	slo := []SLO{{Metric: "ttft_p90", TargetMS: 100, Text: "100ms"}}
	e := fakeEntry(t, "round_robin+lru;cache_blocks=100")
	// h100: 3 workers ($12/h); l4: 20 workers ($10/h).
	f := func(_, g, w int, _ uint64) float64 {
		if g == 0 {
			return 300 / float64(w)
		}
		return 2000 / float64(w)
	}
	cells := 0
	res, err := Plan(context.Background(), nil, []Entry{e}, PlanOptions{SLOs: slo, MaxWorkers: 64, GPUs: gpus, Runner: curveRunner(f, &cells)})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Scenarios[0]
	if s.GPU == nil || *s.GPU != "l4" || *s.Workers != 20 || float64(*s.CostPerHour) != 10 {
		t.Errorf("answer %v × %v at %v, want 20 × l4 at $10", intPtr(s.Workers), strPtr(s.GPU), costText(s.CostPerHour))
	}
	if *s.Candidates[0].Workers != 3 || float64(*s.Candidates[0].CostPerHour) != 12 {
		t.Errorf("h100 candidate: %+v", s.Candidates[0])
	}
	if !strings.HasSuffix(s.Canonical, "workers=20") || !strings.Contains(s.Canonical, "profile=l4-llama-3.1-8b") {
		t.Errorf("canonical %q", s.Canonical)
	}
}

// TestPlanSimulatorBruteForce runs the real simulator on a slice of the
// Mooncake sample: for several scenarios and targets, the answer equals a
// brute-force scan of every worker count (RunPlanCell at each count and
// seed, averaged).
func TestPlanSimulatorBruteForce(t *testing.T) {
	tr, _ := sampleTrace(t)
	const k, nSeeds = 8, 2
	for _, spec := range []string{
		"round_robin+lru;cache_blocks=400;time_scale=0.05",
		"lbgr+rlt;cache_blocks=400;time_scale=0.05",
		"cache_aware+lru;cache_blocks=400;time_scale=0.05;latency=linear:miss_ms=0.15,out_ms=2",
	} {
		e := fakeEntry(t, spec)
		seeds := seedsOf(e.Scenario, nSeeds)
		curve := make([]map[string]float64, k+1)
		cache := map[[2]uint64]PlanCellResult{}
		for w := 1; w <= k; w++ {
			curve[w] = map[string]float64{}
			for _, s := range seeds {
				sc := e.Scenario
				sc.Workers, sc.Seed = w, s
				r := RunPlanCell(context.Background(), tr, sc)
				if r.Error != "" {
					t.Fatal(r.Error)
				}
				cache[[2]uint64{uint64(w), s}] = r
				for m, v := range r.Values {
					curve[w][m] += float64(v) / float64(len(seeds))
				}
			}
		}
		for _, metric := range []string{"ttft_p90", "e2e_p50", "queue_mean"} {
			// Targets at each count's value, so every answer 1..k (and
			// none) is asked for.
			for w := 1; w <= k; w++ {
				target := curve[w][metric]
				if !(target > 0) {
					continue
				}
				slo := []SLO{{Metric: metric, TargetMS: F(target), Text: "t"}}
				want := 0
				for v := 1; v <= k; v++ {
					if curve[v][metric] <= target {
						want = v
						break
					}
				}
				opt := PlanOptions{SLOs: slo, MaxWorkers: k, Seeds: nSeeds, Parallel: 2}
				if metric != "ttft_p90" {
					// The simulator's runs are those of the scan: serve
					// them from it (ttft_p90 runs them again, through
					// the default pool).
					opt.Runner = func(_ context.Context, cs []PlanCell) ([]PlanCellResult, error) {
						out := make([]PlanCellResult, len(cs))
						for i, c := range cs {
							out[i] = cache[[2]uint64{uint64(c.Workers), c.Seed}]
						}
						return out, nil
					}
				}
				res, err := Plan(context.Background(), tr, []Entry{e}, opt)
				if err != nil {
					t.Fatal(err)
				}
				s := res.Scenarios[0]
				if !s.OK() {
					t.Fatalf("%s: %s", spec, s.Error)
				}
				c := s.Candidates[0]
				got := 0
				if s.Workers != nil {
					got = *s.Workers
				}
				// The search may stop at a larger count only where the
				// curve is not monotone at counts it did not probe, and
				// then says nothing of them; on these runs it must agree.
				if got != want {
					t.Errorf("%s %s ≤ %.1f: answer %d, brute force %d (probes %v, monotone %v)", spec, metric, target, got, want, probeCounts(s), c.Monotone)
				}
				for _, p := range c.Probes {
					if math.Abs(float64(p.SLOs[0].Value.Mean)-curve[p.Workers][metric]) > 1e-9*max(1, curve[p.Workers][metric]) {
						t.Errorf("%s %s at %d: plan %v, brute force %v", spec, metric, p.Workers, p.SLOs[0].Value.Mean, curve[p.Workers][metric])
					}
				}
			}
		}
	}
}

// TestPlanDeterministicReport: the same plan gives the same bytes in every
// format, and a scenario that cannot run is named, the others answered.
func TestPlanDeterministicReport(t *testing.T) {
	tr, st := sampleTrace(t)
	slos, err := ParseSLOs("ttft_p90=20s,e2e_mean=10s")
	if err != nil {
		t.Fatal(err)
	}
	entries := []Entry{fakeEntry(t, "lbgr+rlt;cache_blocks=400;time_scale=0.05"), fakeEntry(t, "round_robin+lru;cache_blocks=10;time_scale=0.05")}
	var outs [2]map[Format]string
	for i := range outs {
		res, err := Plan(context.Background(), tr, entries, PlanOptions{SLOs: slos, MaxWorkers: 6, Seeds: 2, Parallel: 1 + i})
		if err != nil {
			t.Fatal(err)
		}
		rep := &PlanReport{Command: "kvscope plan x", Version: "test", Stats: st, PlanResult: res}
		outs[i] = map[Format]string{}
		for _, f := range Formats {
			var b bytes.Buffer
			if err := rep.Write(&b, f); err != nil {
				t.Fatal(err)
			}
			outs[i][f] = b.String()
		}
		if fails := res.Failures(); len(fails) != 1 || !strings.Contains(fails[0], "round_robin+lru") {
			t.Errorf("failures %q, want the 10-block scenario", fails)
		}
		if !res.Scenarios[0].OK() || (res.Scenarios[0].Workers == nil && res.Scenarios[0].Miss == nil) {
			t.Errorf("first scenario: %+v", res.Scenarios[0])
		}
	}
	for _, f := range Formats {
		if outs[0][f] != outs[1][f] {
			t.Errorf("%s report differs between runs", f)
		}
	}
	for _, want := range []string{`"scenarios": [`, `"workers":`, `"gpu": null`, `"margin":`, `"miss":`} {
		if !strings.Contains(outs[0][FormatJSON], want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	if !strings.Contains(outs[0][FormatHTML], "<svg") {
		t.Error("HTML has no chart")
	}
}

// TestRunPlanCellTPOT: under the linear model a request's output takes
// out_ms per token after its prefill, so its TPOT is out_ms·O/(O−1); the
// cell's tpot percentiles are those of the trace's output lengths.
func TestRunPlanCellTPOT(t *testing.T) {
	tr, _ := sampleTrace(t)
	e := fakeEntry(t, "round_robin+lru;cache_blocks=400;workers=3;latency=linear:miss_ms=0.15,out_ms=2")
	r := RunPlanCell(context.Background(), tr, e.Scenario)
	if r.Error != "" {
		t.Fatal(r.Error)
	}
	var want []float64
	for _, q := range tr.Requests {
		if q.Output >= 2 {
			want = append(want, 2*float64(q.Output)/float64(q.Output-1))
		}
	}
	d := Summarize(want)
	for _, c := range []struct {
		key  string
		want float64
	}{{"tpot_p50", d.P50}, {"tpot_p90", d.P90}, {"tpot_p99", d.P99}, {"tpot_mean", d.Mean}} {
		if got := float64(r.Values[c.key]); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("%s = %v, want %v", c.key, got, c.want)
		}
	}
	if r.Completed != len(tr.Requests) || r.Failed != 0 {
		t.Errorf("completed %d failed %d of %d", r.Completed, r.Failed, len(tr.Requests))
	}
}

// TestPlanBadOptions: what Plan refuses, and a runner that breaks its
// contract or a canceled context stops the plan with an error.
func TestPlanBadOptions(t *testing.T) {
	e := fakeEntry(t, "round_robin+lru;cache_blocks=100")
	slo := []SLO{{Metric: "ttft_p90", TargetMS: 100, Text: "100ms"}}
	ok := func(_ context.Context, cs []PlanCell) ([]PlanCellResult, error) {
		return make([]PlanCellResult, len(cs)), nil
	}
	short := func(_ context.Context, cs []PlanCell) ([]PlanCellResult, error) {
		return make([]PlanCellResult, len(cs)-1), nil
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tr, _ := sampleTrace(t)
	for _, c := range []struct {
		name    string
		ctx     context.Context
		entries []Entry
		opt     PlanOptions
		want    string
	}{
		{"no entries", context.Background(), nil, PlanOptions{SLOs: slo, Runner: ok}, "no scenarios"},
		{"no SLO", context.Background(), []Entry{e}, PlanOptions{Runner: ok}, "no SLO"},
		{"negative max", context.Background(), []Entry{e}, PlanOptions{SLOs: slo, MaxWorkers: -1, Runner: ok}, "must be at least 1"},
		{"no trace", context.Background(), []Entry{e}, PlanOptions{SLOs: slo}, "no trace"},
		{"short runner", context.Background(), []Entry{e}, PlanOptions{SLOs: slo, Runner: short}, "returned 0 results for 1 cells"},
		{"canceled", canceled, []Entry{e}, PlanOptions{SLOs: slo}, "context canceled"},
	} {
		var trace = tr
		if c.name == "no trace" {
			trace = nil
		}
		if _, err := Plan(c.ctx, trace, c.entries, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// A cell that fails fails its scenario, named with the count and seed.
	failing := func(_ context.Context, cs []PlanCell) ([]PlanCellResult, error) {
		out := make([]PlanCellResult, len(cs))
		for i, c := range cs {
			if c.Workers == 2 {
				out[i].Error = "boom"
			} else {
				out[i].Values = map[string]F{"ttft_p90": 1000}
			}
		}
		return out, nil
	}
	res, err := Plan(context.Background(), nil, []Entry{e}, PlanOptions{SLOs: slo, Runner: failing})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Scenarios[0]; s.OK() || s.Error != "2 workers, seed 1: boom" || s.Workers != nil {
		t.Errorf("failing cell: %+v", s)
	}
}
