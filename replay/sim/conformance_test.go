package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
	"github.com/kvscope/kvscope/samples"
)

func loadSample(t testing.TB, n int) *trace.Trace {
	t.Helper()
	tr := tracetest.Sample(t, samples.Mooncake)
	if n > 0 && n < len(tr.Requests) {
		tr.Requests = tr.Requests[:n]
	}
	return tr
}

// TestConformance runs every registered router with several policies and
// both capacity units through the invariants every run must keep.
func TestConformance(t *testing.T) {
	tr := loadSample(t, 600)
	caches := []string{"cache_blocks=300", "cache_tokens=150000"}
	policies := []string{"lru", "rlt", "fifo", "random_leaf"}
	for _, r := range route.Names() {
		for _, p := range policies {
			for _, capKey := range caches {
				s := fmt.Sprintf("%s+%s;workers=4;%s;oversize=fail", r, p, capKey)
				t.Run(s, func(t *testing.T) {
					run, err := Simulate(context.Background(), tr, mustScenario(t, s), Options{})
					if err != nil {
						t.Fatal(err)
					}
					checkRun(t, tr, run)
				})
			}
		}
	}
}

func checkRun(t *testing.T, tr *trace.Trace, run *Run) {
	t.Helper()
	completed, failed := 0, 0
	for i := range run.Records {
		r := &run.Records[i]
		if int(r.Index) != i {
			t.Fatalf("record %d has index %d", i, r.Index)
		}
		switch r.Status {
		case Failed:
			failed++
			if r.Fail == "" {
				t.Errorf("request %d failed without a reason", i)
			}
			continue
		default:
			completed++
		}
		if r.Worker < 0 || int(r.Worker) >= run.Workers {
			t.Fatalf("request %d on worker %d", i, r.Worker)
		}
		if !(r.Arrival <= r.Start && r.Start <= r.FirstToken && r.FirstToken <= r.Done) {
			t.Fatalf("request %d: times out of order: arrival %v start %v first %v done %v", i, r.Arrival, r.Start, r.FirstToken, r.Done)
		}
		if int(r.HitBlocks) > len(tr.Requests[i].Blocks) || int(r.HitTokens) > tr.Requests[i].Input {
			t.Fatalf("request %d: hit %d blocks / %d tokens exceeds the request", i, r.HitBlocks, r.HitTokens)
		}
	}
	if completed+failed != len(tr.Requests) {
		t.Fatalf("completed %d + failed %d != requests %d", completed, failed, len(tr.Requests))
	}
	for w, ss := range run.Samples {
		var prev Sample
		for _, s := range ss {
			if used := s.Pinned + s.Marked + s.Unmarked; used > run.Capacity {
				t.Fatalf("worker %d at %v: %d used > capacity %d", w, s.T, used, run.Capacity)
			}
			if s.Marked < 0 || s.Unmarked < 0 || s.Queue < 0 || s.Running < 0 {
				t.Fatalf("worker %d at %v: negative figure %+v", w, s.T, s)
			}
			if s.T < prev.T || s.HitBlocks < prev.HitBlocks || s.Evicted < prev.Evicted || s.Busy < prev.Busy {
				t.Fatalf("worker %d: series not monotone at %v", w, s.T)
			}
			prev = s
		}
		if prev.Running != 0 || prev.Queue != 0 {
			t.Fatalf("worker %d ends with %d running, %d queued", w, prev.Running, prev.Queue)
		}
	}
	for i := 1; i < len(run.Events); i++ {
		if run.Events[i].T < run.Events[i-1].T {
			t.Fatalf("event log out of order at %d", i)
		}
	}
}

// TestDeterministic: the same scenario and seed give byte-identical runs;
// another seed changes a randomized one.
func TestDeterministic(t *testing.T) {
	tr := loadSample(t, 400)
	enc := func(s string) string {
		run, err := Simulate(context.Background(), tr, mustScenario(t, s), Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(run)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, s := range []string{"lbgr+rlt;workers=4;cache_blocks=300", "p2c+random_leaf;workers=3;cache_blocks=200;rate=5;oversize=fail"} {
		a, b := enc(s+";seed=7"), enc(s+";seed=7")
		if a != b {
			t.Errorf("%s: two runs with seed 7 differ", s)
		}
		if enc(s+";seed=8") == a {
			t.Errorf("%s: seeds 7 and 8 gave identical runs", s)
		}
	}
}
