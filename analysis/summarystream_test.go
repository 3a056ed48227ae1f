package analysis

import (
	"bytes"
	"context"
	"encoding/json"
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
	s, err := trace.OpenReader("sample:"+samples.Mooncake, bytes.NewReader(data), trace.ReadOptions{KeepIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSummaryStreamMatchesSummary: a streamed run's summary is Summary's,
// to the byte, when no id is recycled; with ids recycled all the time
// (a 64-id table under round_robin+lru, whose choices ignore ids) every figure but the
// bound is the same, and the bound, now from the Bloom filter, says so and
// is no higher than the exact one.
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
			got, err := SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{})
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
	got, err := SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{IDLimit: 64})
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxLoadLowerBoundS == nil || got.MaxLoadLowerBoundNote == "" || *got.MaxLoadLowerBoundS > *want.MaxLoadLowerBoundS {
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
