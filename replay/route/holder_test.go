package route

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// holderTree returns the routing-history tree of a Holder router, for the
// test to shrink its trims.
func holderTree(t *testing.T, r Router) *history {
	t.Helper()
	switch x := r.(type) {
	case *cacheAware:
		return x.tree
	case *lbgr:
		return x.tree
	case *dynamo:
		return x.tree
	case *llmd:
		return x.tree
	}
	t.Fatalf("%T: no routing-history tree", r)
	return nil
}

// holderRun routes a multi-turn workload (sessions whose prompts grow by
// two blocks a turn, 6 requests in flight, one routed per millisecond)
// through a router built by spec, interning the blocks in a table with the
// given id limit (0: exact); the router's trees keep 48 tokens and are
// trimmed every millisecond, so they drop blocks all along. With sweep set
// the table is swept when full, naming the router's ids (Holder) and the
// in-flight chains; nameRouter false leaves the router out (the control).
// It returns each routing's worker and scores, the table, and the tokens
// trimmed.
func holderRun(t *testing.T, spec string, workers, limit int, nameRouter bool) ([]string, *trace.Table, int64) {
	t.Helper()
	const (
		n, sessions, bs, inflight = 1500, 12, 4, 6
	)
	env := Env{Workers: workers, BlockSize: bs, Rand: rng(7), CachedMs: 0, MissMs: 0.15, Cluster: newFakeCluster(workers, bs)}
	r := mustNew(t, spec, env)
	h, ok := r.(Holder)
	if !ok {
		t.Fatalf("%s: not a Holder", spec)
	}
	tree := holderTree(t, r)
	tree.maxSize, tree.period = 48, time.Millisecond
	tb := trace.NewTable(false)
	tb.SetLimit(limit)
	src := rng(11)
	chains := make([][]uint64, sessions)
	next := uint64(1)
	var out []string
	type fl struct {
		w   int
		req *trace.Request
		at  time.Duration
	}
	var flying []fl
	for i := range n {
		now := time.Duration(i) * time.Millisecond
		if len(flying) == inflight {
			f := flying[0]
			flying = flying[1:]
			if err := r.Complete(Completion{Worker: f.w, Req: f.req, Routed: f.at, Done: now, E2E: now - f.at}); err != nil {
				t.Fatal(err)
			}
		}
		s := src.IntN(sessions)
		if len(chains[s]) > 24 || src.IntN(10) == 0 {
			chains[s] = nil // a new conversation
		}
		chains[s] = append(chains[s], next, next+1)
		next += 2
		if tb.Full() {
			tb.Sweep(func(keep func(trace.BlockID)) {
				if nameRouter {
					h.Live(keep)
				}
				for _, f := range flying {
					for _, b := range f.req.Blocks {
						keep(b)
					}
				}
			})
		}
		blocks, err := tb.Intern(nil, chains[s])
		if err != nil {
			t.Fatal(err)
		}
		q := req(i, bs, blocks, 0, 2)
		d := r.Route(now, q)
		out = append(out, fmt.Sprint(d.Worker, d.Scores))
		flying = append(flying, fl{d.Worker, q, now})
	}
	var trimmed int64
	for _, x := range tree.trimmed {
		trimmed += x
	}
	return out, tb, trimmed
}

// TestHolderRecycledIDsRouteTheSame: a router whose table recycles the ids
// it does not name (Holder.Live) routes every request as with an exact
// table, while its trees drop blocks (so ids are freed and reused); left
// out of the sweep, it routes differently (the test can tell).
func TestHolderRecycledIDsRouteTheSame(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		workers int
	}{
		{"cache_aware", 4}, {"cache_aware:balance_abs_threshold=1000,balance_rel_threshold=1000", 4},
		{"cache_aware", 70}, // a word or more per block
		{"lbgr", 4}, {"dynamo:precise=false", 4}, {"llmd:precise=false", 4},
	} {
		spec := tc.spec
		t.Run(fmt.Sprint(spec, "/", tc.workers), func(t *testing.T) {
			want, exact, trimmed := holderRun(t, spec, tc.workers, 0, true)
			if trimmed == 0 {
				t.Fatal("the trees trimmed nothing: the test shows little")
			}
			got, tb, _ := holderRun(t, spec, tc.workers, 64, true)
			if tb.Recycled() == 0 || 4*tb.Len() >= 3*exact.Len() {
				t.Fatalf("%d ids recycled, %d dense ids (exact: %d)", tb.Recycled(), tb.Len(), exact.Len())
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("request %d: routed %s with recycled ids, %s without", i, got[i], want[i])
				}
			}
			ctl, _, _ := holderRun(t, spec, tc.workers, 64, false)
			if slices.Equal(ctl, want) {
				t.Fatal("the router left out of the sweep routes the same: the test cannot tell")
			}
		})
	}
}
