package sim

import (
	"context"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
)

// mkTrace builds a trace with block size bs from chains of original ids,
// one request per chain, arriving every gap; each block is full.
func mkTrace(t testing.TB, bs int, gap time.Duration, out int, chains ...[]uint64) *trace.Trace {
	t.Helper()
	tab := trace.NewTable(true)
	tr := &trace.Trace{Blocks: tab, Info: trace.Info{Source: "test", BlockSize: bs}}
	for i, ch := range chains {
		blocks, err := tab.Intern(nil, ch)
		if err != nil {
			t.Fatal(err)
		}
		r := trace.Request{Index: i, Source: "test:" + string(rune('0'+i)), Arrival: time.Duration(i) * gap,
			Input: len(ch) * bs, Output: out, Blocks: blocks, Session: -1, ID: int64(i), Parent: trace.NoParent}
		if len(ch) > 0 {
			r.LastBlockTokens = bs
		}
		tr.Requests = append(tr.Requests, r)
	}
	return tr
}

func mustScenario(t testing.TB, s string) scenario.Scenario {
	t.Helper()
	// One worker unless s says otherwise: the tests below count on it
	// (the shared default is scenario.DefaultWorkers).
	base := scenario.Default(param.Spec{}, param.Spec{})
	base.Workers = 1
	sc, err := scenario.Parse(s, base)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestLinearSingleWorker(t *testing.T) {
	// Block size 10, miss 1 ms/token: a 2-block miss takes 20 ms.
	tr := mkTrace(t, 10, 5*time.Millisecond, 0, []uint64{1, 2}, []uint64{1, 2, 3}, []uint64{4})
	sc := mustScenario(t, "round_robin+lru;cache_blocks=8;latency=linear:miss_ms=1")
	run, err := Simulate(context.Background(), tr, sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		start, first time.Duration
		hit          int32
	}{
		{0, 20 * time.Millisecond, 0},
		// arrives at 5, waits for the worker until 20, hits 2 blocks, computes 10 tokens.
		{20 * time.Millisecond, 30 * time.Millisecond, 2},
		{30 * time.Millisecond, 40 * time.Millisecond, 0},
	}
	for i, w := range want {
		r := run.Records[i]
		if r.Start != w.start || r.FirstToken != w.first || r.Done != w.first || r.HitBlocks != w.hit || r.Status != Completed {
			t.Errorf("request %d: start %v first %v done %v hit %d status %v; want start %v first %v hit %d",
				i, r.Start, r.FirstToken, r.Done, r.HitBlocks, r.Status, w.start, w.first, w.hit)
		}
	}
	st := run.StateAt(25 * time.Millisecond)
	if st.Workers[0].Running != 1 || st.Workers[0].Queue != 1 {
		t.Errorf("state at 25ms: %+v", st.Workers[0])
	}
}

// TestArrivalRetiming: time_scale multiplies the trace's arrivals; rate
// replaces them with a Poisson process of that rate from the workload
// stream, the same for every scenario of one seed.
func TestArrivalRetiming(t *testing.T) {
	tr := loadSample(t, 1000)
	scaled, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;workers=4;cache_blocks=300;oversize=fail;time_scale=2.5"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.Requests {
		want := time.Duration(float64(tr.Requests[i].Arrival) * 2.5)
		if d := scaled.Records[i].Arrival - want; d < -1 || d > 1 {
			t.Fatalf("request %d arrived at %v, want %v", i, scaled.Records[i].Arrival, want)
		}
	}
	a, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;workers=4;cache_blocks=300;oversize=fail;rate=20;seed=3"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Simulate(context.Background(), tr, mustScenario(t, "lbgr+rlt;workers=4;cache_blocks=300;oversize=fail;rate=20;seed=3"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	last := a.Records[len(a.Records)-1].Arrival.Seconds()
	// 999 exponential gaps of mean 1/20 s: the span is 49.95 s ± 1.6 s (1σ).
	if last < 49.95-8 || last > 49.95+8 {
		t.Fatalf("Poisson span %.2f s for 999 gaps at rate 20", last)
	}
	for i := range a.Records {
		if a.Records[i].Arrival != b.Records[i].Arrival {
			t.Fatalf("request %d: two scenarios of one seed got different arrivals", i)
		}
		if i > 0 && a.Records[i].Arrival < a.Records[i-1].Arrival {
			t.Fatal("Poisson arrivals out of order")
		}
	}
}
