package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

func sampleStream(t *testing.T) *trace.Stream {
	t.Helper()
	data, err := samples.ReadFile(samples.Mooncake)
	if err != nil {
		t.Fatal(err)
	}
	// No original ids: the streamed bound learns the ones it needs from
	// the table (SetOnForget, SetOnNew), as kvscope run reads.
	s, err := trace.OpenReader("sample:"+samples.Mooncake, bytes.NewReader(data), trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSummaryStreamMatchesSummary: a streamed run's summary is Summary's,
// to the byte, when no id is recycled; with ids recycled all the time
// (a 64-id table under round_robin+lru, whose choices ignore ids) every figure but the
// bound's note is the same, and the bound, now from the Bloom filter, says
// so (and equals the exact one: its filter is nearly empty).
func TestSummaryStreamMatchesSummary(t *testing.T) {
	tr, err := trace.LoadSample(samples.Mooncake)
	if err != nil {
		t.Fatal(err)
	}
	base := scenario.Default(param.Spec{}, param.Spec{})
	for _, s := range []string{
		"cache_aware+lru;workers=4;cache_blocks=300;oversize=fail",
		"lbgr+rlt;workers=4;cache_blocks=300;oversize=bypass",
		"round_robin+s3fifo;workers=2;cache_tokens=150000;oversize=fail;rate=2",
		"llmd+lru;workers=3;cache_blocks=400;oversize=fail;profile=h100-sxm-llama-3.1-8b;latency=engine",
	} {
		t.Run(s, func(t *testing.T) {
			sc, err := scenario.Parse(s, base)
			if err != nil {
				t.Fatal(err)
			}
			want := wholeSummary(t, tr, sc)
			got, err := SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{}, NewTally(sc.Workers))
			if err != nil {
				t.Fatal(err)
			}
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if !bytes.Equal(wj, gj) {
				t.Fatalf("streamed:\n%s\nwhole:\n%s", gj, wj)
			}
		})
	}
	// round_robin holds no ids, so the caches' blocks are all a sweep
	// keeps (cache_aware's routing history would hold every id here).
	sc, err := scenario.Parse("round_robin+lru;workers=4;cache_blocks=300;oversize=fail", base)
	if err != nil {
		t.Fatal(err)
	}
	want := wholeSummary(t, tr, sc)
	got, err := SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{IDLimit: 64}, NewTally(sc.Workers))
	if err != nil {
		t.Fatal(err)
	}
	// The filter holds some 25,000 ids in 16 MiB (an estimated false
	// positive rate of 1e-10), so the bound is the exact one: every
	// forgotten id that comes back is found seen again.
	if got.MaxLoadLowerBoundS == nil || got.MaxLoadLowerBoundNote == "" || *got.MaxLoadLowerBoundS != *want.MaxLoadLowerBoundS {
		t.Fatalf("recycled: bound %v note %q, exact %v", got.MaxLoadLowerBoundS, got.MaxLoadLowerBoundNote, *want.MaxLoadLowerBoundS)
	}
	if got.IDRecycling != nil {
		t.Fatalf("lru reported its recycling: %+v", got.IDRecycling)
	}
	got.MaxLoadLowerBoundS, got.MaxLoadRatio, got.MaxLoadLowerBoundNote = want.MaxLoadLowerBoundS, want.MaxLoadRatio, ""
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if !bytes.Equal(wj, gj) {
		t.Fatalf("recycled, streamed:\n%s\nwhole:\n%s", gj, wj)
	}
}

func wholeSummary(t *testing.T, tr *trace.Trace, sc scenario.Scenario) RunMetrics {
	t.Helper()
	run, err := sim.Simulate(context.Background(), tr, sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Summary(tr, run, sc)
}

// TestSketchTally: percentiles from sketches are within the stated relative
// error of the exact ones, counts equal and means equal to rounding, and
// the report says so; a streamed and a whole run give the same sketched
// summary.
func TestSketchTally(t *testing.T) {
	tr, err := trace.LoadSample(samples.Mooncake)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse("cache_aware+lru;workers=4;cache_blocks=300;oversize=fail", scenario.Default(param.Spec{}, param.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	exact := wholeSummary(t, tr, sc)
	run, err := sim.Simulate(context.Background(), tr, sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sk := SummaryTally(tr, run, sc, NewSketchTally(sc.Workers))
	if sk.PercentilesNote != SketchNote || exact.PercentilesNote != "" {
		t.Fatalf("notes %q, %q", sk.PercentilesNote, exact.PercentilesNote)
	}
	close := func(what string, got, want Dist) {
		t.Helper()
		for _, p := range [][2]float64{{got.P50, want.P50}, {got.P90, want.P90}, {got.P99, want.P99}} {
			if math.Abs(p[0]-p[1]) > SketchRelativeAccuracy*math.Abs(p[1])*(1+1e-12) {
				t.Errorf("%s: sketch %v, exact %v", what, got, want)
			}
		}
		if got.N != want.N || math.Abs(got.Mean-want.Mean) > 1e-9*math.Abs(want.Mean) {
			t.Errorf("%s: sketch n %d mean %v, exact n %d mean %v", what, got.N, got.Mean, want.N, want.Mean)
		}
	}
	close("ttft", sk.TTFT, exact.TTFT)
	close("e2e", sk.E2E, exact.E2E)
	close("queue", sk.Queue, exact.Queue)
	for w := range exact.WorkerMetrics {
		close(fmt.Sprintf("worker %d ttft", w), sk.WorkerMetrics[w].TTFT, exact.WorkerMetrics[w].TTFT)
		close(fmt.Sprintf("worker %d e2e", w), sk.WorkerMetrics[w].E2E, exact.WorkerMetrics[w].E2E)
	}
	st, err := SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{}, NewSketchTally(sc.Workers))
	if err != nil {
		t.Fatal(err)
	}
	sj, _ := json.Marshal(sk)
	tj, _ := json.Marshal(st)
	if !bytes.Equal(sj, tj) {
		t.Fatalf("streamed sketch summary:\n%s\nwhole:\n%s", tj, sj)
	}
}

// TestSummarizeSorted: the merged walk gives Summarize's figures to the
// bit, whatever the parts' sizes (empty ones included) and ties.
func TestSummarizeSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		k := 1 + r.IntN(9)
		parts := make([][]float64, k)
		var all []float64
		for p := range parts {
			for range r.IntN(50) * (trial % 3) {
				x := float64(r.IntN(20)) + r.Float64()*float64(trial%2) // ties when trial is even
				parts[p] = append(parts[p], x)
				all = append(all, x)
			}
			slices.Sort(parts[p])
		}
		got, want := SummarizeSorted(parts), Summarize(all)
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if len(all) > 0 && !bytes.Equal(gj, wj) || len(all) == 0 && got.N != 0 {
			t.Fatalf("trial %d: merged %s, whole %s", trial, gj, wj)
		}
	}
}
