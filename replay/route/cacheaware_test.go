package route

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

func newCacheAware(t *testing.T, spec string, n int) *cacheAware {
	t.Helper()
	return mustNew(t, spec, Env{Workers: n, BlockSize: 16}).(*cacheAware)
}

// seedTree routes nothing: it inserts chains into worker trees directly,
// as earlier decisions would have.
func seedTree(r *cacheAware, w int, blocks ...trace.BlockID) {
	r.tree.insert(w, req(-1, 16, blocks, 0, 0))
}

func TestCacheAwareBranches(t *testing.T) {
	tests := []struct {
		name   string
		spec   string
		loads  []int64
		trees  map[int][]trace.BlockID
		blocks []trace.BlockID
		want   int
		rule   *Rule
		scores []float64
	}{
		// Loads [40 5 5]: max−min 35 > 32 and 40 > 1.0001·5 under
		// sglang-0.4.6 → least loaded (ties: lowest index).
		{name: "0.4.6 balance", spec: "cache_aware:preset=sglang-0.4.6", loads: []int64{40, 5, 5},
			trees: map[int][]trace.BlockID{0: {1, 2, 3, 4}}, blocks: ids(1, 2, 3, 4), want: 1, rule: ruleBalance, scores: []float64{40, 5, 5}},
		// The same loads under sglang: 35 ≤ 64, no balance; full hit on 0.
		{name: "sglang no balance", spec: "cache_aware", loads: []int64{40, 5, 5},
			trees: map[int][]trace.BlockID{0: {1, 2, 3, 4}}, blocks: ids(1, 2, 3, 4), want: 0, rule: ruleCacheHit, scores: []float64{64, 0, 0}},
		// abs passes but rel fails: 100 vs 70 → 30 > 20 but 100 ≤ 1.5·70.
		{name: "rel blocks balance", spec: "cache_aware:balance_abs_threshold=20", loads: []int64{100, 70, 80},
			trees: map[int][]trace.BlockID{2: {1, 2}}, blocks: ids(1, 2, 3, 4), want: 2, rule: ruleCacheHit, scores: []float64{0, 0, 32}},
		// Equality is not enough: max−min = 32 is not > 32.
		{name: "abs strict", spec: "cache_aware:preset=sglang-0.4.6", loads: []int64{33, 1, 2},
			trees: map[int][]trace.BlockID{1: {7}}, blocks: ids(7), want: 1, rule: ruleCacheHit},
		// 32 of 64 tokens matched on worker 1: ratio 0.5 > 0.3 (sglang) …
		{name: "sglang cache hit", spec: "cache_aware", loads: []int64{0, 0, 0},
			trees: map[int][]trace.BlockID{0: {9, 10, 11}, 1: {1, 2, 3}, 2: {1}}, blocks: ids(1, 2, 9, 10), want: 1, rule: ruleCacheHit, scores: []float64{0, 32, 16}},
		// … but not > 0.5 (sglang-0.4.6): smallest tree, worker 2 (16 tokens).
		{name: "0.4.6 smallest tree", spec: "cache_aware:preset=sglang-0.4.6", loads: []int64{0, 0, 0},
			trees: map[int][]trace.BlockID{0: {9, 10, 11}, 1: {1, 2, 3}, 2: {1}}, blocks: ids(1, 2, 9, 10), want: 2, rule: ruleSmallestTree, scores: []float64{48, 48, 16}},
		// Smallest-tree ties go to the lowest index.
		{name: "tree tie", spec: "cache_aware", loads: []int64{1, 1, 1},
			trees: map[int][]trace.BlockID{0: {5, 6}, 1: {7}, 2: {8}}, blocks: ids(1), want: 1, rule: ruleSmallestTree, scores: []float64{32, 16, 16}},
		// Argmax ties go to the lowest index.
		{name: "hit tie", spec: "cache_aware", loads: []int64{0, 0, 0},
			trees: map[int][]trace.BlockID{1: {1, 2}, 2: {1, 2, 3}}, blocks: ids(1, 2), want: 1, rule: ruleCacheHit, scores: []float64{0, 32, 32}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newCacheAware(t, tc.spec, 3)
			for w, b := range tc.trees {
				seedTree(r, w, b...)
			}
			copy(r.reqs, tc.loads)
			rq := req(0, 16, tc.blocks, 0, 0)
			d := r.Route(time.Second, rq)
			if d.Worker != tc.want || d.Why.Rule != tc.rule {
				t.Fatalf("worker %d by %v (%s), want %d by %v; scores %v", d.Worker, d.Why.Rule, d.Reason(), tc.want, tc.rule, d.Scores)
			}
			if tc.scores != nil && !slices.Equal(d.Scores, tc.scores) {
				t.Fatalf("scores %v, want %v", d.Scores, tc.scores)
			}
			// Inserted for the chosen worker in every branch.
			var tok [3]float64
			var blk [3]int
			r.tree.match(rq, tok[:], blk[:])
			if blk[tc.want] != len(tc.blocks) {
				t.Fatalf("chain not inserted for worker %d: %v", tc.want, blk)
			}
		})
	}
}

func TestCacheAwareReasons(t *testing.T) {
	r := newCacheAware(t, "cache_aware", 2)
	seedTree(r, 1, 1, 2, 3)
	d := r.Route(0, req(0, 16, ids(1, 2, 3, 4, 5), 0, 0))
	if want := "cache hit 0.6 > 0.3 → worker 1 (48 matched tokens)"; d.Reason() != want {
		t.Fatalf("reason %q, want %q", d.Reason(), want)
	}
	copy(r.reqs, []int64{100, 2})
	d = r.Route(0, req(1, 16, ids(1), 0, 0))
	if !strings.HasPrefix(d.Reason(), "balance: max−min load 100−2 > 64 and max > 1.5·min → least loaded, worker 1") {
		t.Fatalf("reason %q", d.Reason())
	}
}

// Trims run at k·eviction_interval_s, before a routing at the same instant,
// removing least-recently-routed leaves until the tree fits.
func TestCacheAwareTrimInstants(t *testing.T) {
	r := newCacheAware(t, "cache_aware:max_tree_size=64,eviction_interval_s=1,cache_threshold=0", 1)
	// Worker 0's tree: chain A = 1-2-3 (routed first), chain B = 1-4-5
	// (second), chain C = 6 (third): 6 blocks, 96 tokens.
	r.Route(ms(100), req(0, 16, ids(1, 2, 3), 0, 0))
	r.Route(ms(200), req(1, 16, ids(1, 4, 5), 0, 0))
	r.Route(ms(300), req(2, 16, ids(6), 0, 0))
	if r.tree.size[0] != 96 {
		t.Fatalf("tree size %d, want 96", r.tree.size[0])
	}
	r.Loads(ms(999.999), nil)
	if r.tree.size[0] != 96 {
		t.Fatal("trimmed before the instant")
	}
	// At exactly 1 s, before this routing, the trim removes 3 then 2 (chain A's
	// leaves, oldest), reaching 64 tokens; B and C stay.
	d := r.Route(time.Second, req(3, 16, ids(1, 2), 0, 0))
	if r.tree.trimmed[0] != 32 {
		t.Fatalf("trimmed %d tokens, want 32", r.tree.trimmed[0])
	}
	if d.Scores[0] != 16 {
		t.Fatalf("matched %v tokens at the trim instant, want 16 (block 2 trimmed first)", d.Scores[0])
	}
	for _, b := range []trace.BlockID{1, 4, 5, 6} {
		if !r.tree.has(0, b) {
			t.Fatalf("block %d trimmed", b)
		}
	}
	// The routing re-inserted 2: 80 tokens now, trimmed at 2 s, not before.
	r.Route(ms(1999), req(4, 16, ids(1, 4, 5), 0, 0))
	if r.tree.size[0] != 80 {
		t.Fatalf("size %d, want 80", r.tree.size[0])
	}
	// Several pending instants collapse into one trim: at 3.5 s the oldest
	// leaf is 6 (routed at 300 ms).
	r.Loads(ms(3500), nil)
	if r.tree.size[0] != 64 || r.tree.has(0, 6) || !r.tree.has(0, 2) {
		t.Fatalf("after 3.5 s: size %d, has 6 %v, has 2 %v", r.tree.size[0], r.tree.has(0, 6), r.tree.has(0, 2))
	}
}
