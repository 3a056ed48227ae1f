package evict

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// flatServer is llm-d-inference-sim's block cache as its source reads
// (pkg/kv-cache/block_cache.go, v0.10.2), written over plain maps: no tree,
// any unreferenced block may go, the cached count is every present block of
// the prompt. pick chooses among the unreferenced blocks of the oldest time
// (the server leaves that to Go's map order).
type flatServer struct {
	max    int
	used   map[BlockID]int
	unused map[BlockID]uint64
	clock  uint64
	pick   func(ties []BlockID) BlockID
}

func newFlatServer(max int, pick func([]BlockID) BlockID) *flatServer {
	return &flatServer{max: max, used: map[BlockID]int{}, unused: map[BlockID]uint64{}, pick: pick}
}

// serve runs one request start to finish (concurrency 1) and returns the
// cached block count the server reports, or -1 for its capacity error.
func (s *flatServer) serve(chain []BlockID) int {
	cached := 0
	var add []BlockID
	for _, b := range chain {
		if _, ok := s.unused[b]; ok {
			cached++
		} else if _, ok := s.used[b]; ok {
			cached++
		} else {
			add = append(add, b)
		}
	}
	if len(s.used)+len(add)+(len(chain)-len(add)) > s.max {
		return -1
	}
	for _, b := range chain {
		if _, ok := s.unused[b]; ok {
			delete(s.unused, b)
			s.used[b] = 1
		} else if n, ok := s.used[b]; ok && !slices.Contains(add, b) {
			s.used[b] = n + 1
		}
	}
	for _, b := range add {
		if len(s.used)+len(s.unused) == s.max {
			var oldest uint64 = ^uint64(0)
			var ties []BlockID
			for k, t := range s.unused {
				switch {
				case t < oldest:
					oldest, ties = t, append(ties[:0], k)
				case t == oldest:
					ties = append(ties, k)
				}
			}
			slices.Sort(ties)
			delete(s.unused, s.pick(ties))
		}
		s.used[b] = 1
	}
	s.clock++
	for _, b := range chain {
		if s.used[b] > 1 {
			s.used[b]--
		} else {
			delete(s.used, b)
			s.unused[b] = s.clock
		}
	}
	return cached
}

// randomTree draws n chains over a random prefix tree: each request
// extends a random earlier chain's prefix with fresh blocks.
func randomTree(r *rand.Rand, n, maxLen int) [][]BlockID {
	var next BlockID
	var out [][]BlockID
	for range n {
		var ch []BlockID
		if len(out) > 0 && r.IntN(4) != 0 {
			base := out[r.IntN(len(out))]
			ch = slices.Clone(base[:r.IntN(len(base)+1)])
		}
		for k := r.IntN(maxLen/2 + 1); k > 0 || len(ch) == 0; k-- {
			ch = append(ch, next)
			next++
		}
		if len(ch) > maxLen {
			ch = ch[:maxLen]
		}
		out = append(out, ch)
	}
	return out
}

func serverModel(t *testing.T, capacity int64) *kvcache.Cache {
	t.Helper()
	p, err := newServerLRU(nil, Env{Unit: kvcache.Blocks, Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	c, err := kvcache.New(kvcache.Config{Unit: kvcache.Blocks, Capacity: capacity, BlockSize: 16}, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func req(i int, chain []BlockID) *trace.Request {
	return &trace.Request{Index: i, Input: 16 * len(chain), Blocks: chain, LastBlockTokens: 16}
}

// With the server's tie order fixed to server_lru's (deepest block of the
// oldest time, then the smallest id), the flat server and the tree model
// report the same cached blocks for every request: the model is the server
// up to its tie order.
func TestServerLRUMatchesFlatServerWithSameTies(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 11))
		chains := randomTree(r, 300, 12)
		capacity := int64(12 + r.IntN(40))
		c := serverModel(t, capacity)
		depth := map[BlockID]int{}
		for _, ch := range chains {
			for i, b := range ch {
				depth[b] = i + 1
			}
		}
		srv := newFlatServer(int(capacity), func(ties []BlockID) BlockID {
			best := ties[0]
			for _, b := range ties[1:] {
				if depth[b] > depth[best] || depth[b] == depth[best] && b < best {
					best = b
				}
			}
			return best
		})
		evictions := 0
		for i, ch := range chains {
			before := c.Evicted()
			h, _, err := c.HitOnly(req(i, ch))
			if err != nil {
				t.Fatalf("seed %d request %d: %v", seed, i, err)
			}
			if c.Evicted() > before {
				evictions++
			}
			if got := srv.serve(ch); got != h {
				t.Fatalf("seed %d request %d %v: server %d cached blocks, server_lru %d", seed, i, ch, got, h)
			}
			if err := c.Check(); err != nil {
				t.Fatal(err)
			}
		}
		if evictions < len(chains)/5 {
			t.Fatalf("seed %d: only %d of %d requests evicted: the test does not exercise eviction", seed, evictions, len(chains))
		}
	}
}

// With random ties (the real server's map order) the counts may differ,
// but only on requests whose chain holds a block the two caches disagree
// on, and then by at most the number of such blocks: nothing but the tie
// order separates them.
func TestServerLRURandomTiesDifferOnlyByTieOrder(t *testing.T) {
	differ := 0
	total := 0
	for seed := range uint64(10) {
		r := rand.New(rand.NewPCG(seed, 12))
		chains := randomTree(r, 300, 12)
		capacity := int64(20)
		c := serverModel(t, capacity)
		srv := newFlatServer(int(capacity), func(ties []BlockID) BlockID { return ties[r.IntN(len(ties))] })
		for i, ch := range chains {
			// Blocks present in one cache and not the other, before serving.
			disagree := 0
			for _, b := range ch {
				_, u := srv.unused[b]
				if u != c.Present(b) {
					disagree++
				}
			}
			h, _, err := c.HitOnly(req(i, ch))
			if err != nil {
				t.Fatal(err)
			}
			got := srv.serve(ch)
			total++
			if got != h {
				differ++
				if d := got - h; d > disagree || -d > disagree {
					t.Fatalf("seed %d request %d: server %d, model %d, but only %d blocks of the chain differ", seed, i, got, h, disagree)
				}
			}
		}
	}
	t.Logf("random ties: %d of %d requests differ", differ, total)
	if differ == 0 {
		t.Fatal("random tie order never changed a count: the reference is not exercising ties")
	}
}

func TestServerLRUStampsAtCompletionOnly(t *testing.T) {
	c := serverModel(t, 4)
	// [0,1] runs and completes; then [2,3] starts (prefill start touches
	// nothing) and completes; then [0] is accessed at prefill start only:
	// [0,1] stay the oldest group, so the next eviction takes 1 (deeper).
	if _, _, err := c.HitOnly(req(0, []BlockID{0, 1})); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.HitOnly(req(1, []BlockID{2, 3})); err != nil {
		t.Fatal(err)
	}
	c.Access([]BlockID{0}, kvcache.PrefillStart)
	c.Access([]BlockID{0}, kvcache.PrefillEnd)
	h, _, err := c.HitOnly(req(2, []BlockID{4}))
	if err != nil {
		t.Fatal(err)
	}
	if h != 0 || c.Present(1) || !c.Present(0) || !c.Present(2) || !c.Present(3) {
		t.Fatalf("after [4]: hit %d, present 0:%v 1:%v 2:%v 3:%v; want 1 evicted (oldest group, deepest)", h,
			c.Present(0), c.Present(1), c.Present(2), c.Present(3))
	}
	// A Complete access restamps: [0] completes, so 3 (then 2) is oldest.
	c.Access([]BlockID{0}, kvcache.Complete)
	if _, _, err := c.HitOnly(req(3, []BlockID{5})); err != nil {
		t.Fatal(err)
	}
	if c.Present(3) || !c.Present(0) {
		t.Fatalf("after [5]: 3 present %v, 0 present %v; want 3 evicted, 0 kept", c.Present(3), c.Present(0))
	}
}
