package route

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestLLMDScores(t *testing.T) {
	cl := newFakeCluster(4, 16)
	cl.waiting = []int{5, 3, 3, 1}
	cl.usage = []float64{0.5, 0.1, 0.9, 0}
	r := mustNew(t, "llmd", Env{Workers: 4, BlockSize: 16, Cluster: cl}).(*llmd)
	r.Observe(0)
	// Worker 2's routing tree holds 3 of the request's 4 blocks.
	r.tree.insert(2, req(-1, 16, ids(1, 2, 3), 0, 0))
	d := r.Route(ms(10), req(0, 16, ids(1, 2, 3, 4), 0, 0))
	// prefix [0 0 .75 0], queue (5−q)/(5−1) = [0 .5 .5 1], kv [.5 .9 .1 1].
	want := []float64{2 * 0.5, 2*0.5 + 2*0.9, 3*0.75 + 2*0.5 + 2*0.1, 2 + 2}
	for i := range want {
		if math.Abs(d.Scores[i]-want[i]) > 1e-12 {
			t.Fatalf("scores %v, want %v", d.Scores, want)
		}
	}
	if d.Worker != 3 || d.Why.A != 0 || d.Why.B != 1 || d.Why.C != 1 {
		t.Fatalf("worker %d why %+v", d.Worker, d.Why)
	}
	if !strings.Contains(d.Reason(), "llmd: highest score 4") {
		t.Fatalf("reason %q", d.Reason())
	}
	// All queues equal → queue 1 for all; ties to the lowest index.
	cl.waiting = []int{3, 3, 3, 3}
	cl.usage = []float64{0.2, 0.2, 0.2, 0.2}
	r.Observe(ms(50))
	d = r.Route(ms(50), req(1, 16, nil, 0, 0))
	if d.Worker != 0 || d.Scores[0] != 2+2*0.8 || d.Scores[3] != d.Scores[0] {
		t.Fatalf("equal: worker %d scores %v", d.Worker, d.Scores)
	}
}

func TestLLMDScrapeInstants(t *testing.T) {
	cl := newFakeCluster(2, 16)
	r := mustNew(t, "llmd", Env{Workers: 2, BlockSize: 16, Cluster: cl}).(*llmd)
	if at, ok := r.NextObserve(); !ok || at != 0 {
		t.Fatalf("first scrape at %v %v, want 0", at, ok)
	}
	cl.waiting = []int{5, 0}
	r.Observe(0)
	if at, _ := r.NextObserve(); at != 50*time.Millisecond {
		t.Fatalf("next scrape %v", at)
	}
	// The cluster changes at 10 ms; a routing at 49.999 ms still sees the
	// 0 ms sample (worker 1 has the shorter queue).
	cl.waiting = []int{0, 5}
	if d := r.Route(ms(49.999), req(0, 16, nil, 0, 0)); d.Worker != 1 {
		t.Fatalf("routed on a sample it should not have yet: %d %v", d.Worker, d.Scores)
	}
	r.Observe(ms(50))
	if d := r.Route(ms(50), req(1, 16, nil, 0, 0)); d.Worker != 0 {
		t.Fatalf("at 50 ms: worker %d", d.Worker)
	}
	if r.lateSamples != 0 {
		t.Fatal("late samples with a punctual simulator")
	}
	// A caller that skips Observe gets a late sample at its next routing.
	cl.waiting = []int{9, 0}
	if d := r.Route(ms(170), req(2, 16, nil, 0, 0)); d.Worker != 1 || r.lateSamples != 1 {
		t.Fatalf("late: worker %d late %d", d.Worker, r.lateSamples)
	}
	if at, _ := r.NextObserve(); at != 200*time.Millisecond {
		t.Fatalf("next after a late sample %v", at)
	}
	if _, _, err := New("llmd", Env{Workers: 2, BlockSize: 16}); err == nil {
		t.Fatal("llmd without a cluster accepted")
	}
}
