package analysis

import (
	"context"
	"errors"
	"testing"

	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
)

// The ratio step on a timed run: one entry per worker, each over that
// worker's completed requests in prefill-start order, with the Belady bound
// ≤ opt ≤ the policy's misses (block mode), deterministic for a randomized
// policy, and stopped by a cancelled context.
func TestRatiosStep(t *testing.T) {
	tr, _ := sampleTrace(t)
	sc, err := scenario.Parse("round_robin+random_leaf;oversize=bypass;cache_blocks=40", baseScenario(t))
	if err != nil {
		t.Fatal(err)
	}
	run, err := sim.Simulate(context.Background(), tr, sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seqs := run.Sequences()
	if len(seqs) != sc.Workers {
		t.Fatalf("%d sequences for %d workers", len(seqs), sc.Workers)
	}
	seen := make([]int, len(run.Records))
	for w, s := range seqs {
		for i, j := range s {
			r := &run.Records[j]
			seen[j]++
			if int(r.Worker) != w || r.Status != sim.Completed {
				t.Fatalf("worker %d's sequence holds request %d (worker %d, status %v)", w, j, r.Worker, r.Status)
			}
			if i > 0 {
				p := &run.Records[s[i-1]]
				if p.Start > r.Start || p.Start == r.Start && p.Index > r.Index {
					t.Fatalf("worker %d: request %d (start %v) after %d (start %v)", w, j, r.Start, s[i-1], p.Start)
				}
			}
		}
	}
	var bypassed int
	for i := range run.Records {
		r := &run.Records[i]
		bypassed += b2i(r.Status == sim.Bypassed)
		if want := b2i(r.Status == sim.Completed); seen[i] != want {
			t.Fatalf("request %d (status %v) in %d sequences", i, r.Status, seen[i])
		}
	}
	if bypassed == 0 {
		t.Fatal("no request bypassed: the test does not check that they are left out")
	}
	rs, err := Ratios(context.Background(), tr, run, sc)
	if err != nil {
		t.Fatal(err)
	}
	for w, r := range rs {
		if r.Sequence != len(seqs[w]) {
			t.Errorf("worker %d: sequence %d, want %d", w, r.Sequence, len(seqs[w]))
		}
		if r.Sequence == 0 || r.BeladyMissed > r.OptMissed || r.OptMissed > r.PolicyMissed {
			t.Errorf("worker %d: want 0 < sequence and belady %d ≤ opt %d ≤ policy %d", w, r.BeladyMissed, r.OptMissed, r.PolicyMissed)
		}
		if r.Bounds.K == nil || *r.Bounds.K != run.Capacity-r.Bounds.Longest+1 {
			t.Errorf("worker %d: bounds %+v for B = %d", w, r.Bounds, run.Capacity)
		}
	}
	// RatiosProgress counts the requests of its three passes over each
	// worker's sequence as it goes, passing each worker's end on the way
	// to three times the sequences' requests; its result is Ratios'.
	calls := map[int]bool{}
	last := 0
	again, err := RatiosProgress(context.Background(), tr, run, sc, func(done, total int) {
		if done <= last {
			t.Errorf("progress %d after %d", done, last)
		}
		last = done
		calls[done] = true
	})
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for w, s := range seqs {
		done += 3 * len(s)
		if !calls[done] {
			t.Errorf("no progress call at worker %d's end (%d)", w, done)
		}
	}
	if last != done {
		t.Errorf("progress ends at %d, want %d", last, done)
	}
	for w := range rs {
		if again[w].PolicyMissed != rs[w].PolicyMissed {
			t.Errorf("worker %d: policy misses %d then %d", w, rs[w].PolicyMissed, again[w].PolicyMissed)
		}
	}
	m := Summary(tr, run, sc)
	m.SetRatios(rs)
	for w := range m.WorkerMetrics {
		if m.WorkerMetrics[w].Ratios != &rs[w] {
			t.Errorf("worker %d: ratios not attached", w)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Ratios(ctx, tr, run, sc); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
