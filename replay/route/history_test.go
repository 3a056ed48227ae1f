package route

import (
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// refHistory is a deliberately naive routing-history model: maps, and a
// trim that rescans for the oldest leaf before every removal.
type refHistory struct {
	bs     int
	trees  []map[trace.BlockID]uint32
	parent map[trace.BlockID]int64
	weight map[trace.BlockID]int
	clock  []uint32
	size   []int64
	max    int64
}

func newRefHistory(n, bs int, max int64) *refHistory {
	h := &refHistory{bs: bs, parent: map[trace.BlockID]int64{}, weight: map[trace.BlockID]int{}, clock: make([]uint32, n), size: make([]int64, n), max: max}
	for range n {
		h.trees = append(h.trees, map[trace.BlockID]uint32{})
	}
	return h
}

func (h *refHistory) insert(w int, r *trace.Request) {
	h.clock[w]++
	par := int64(-1)
	for i, b := range r.Blocks {
		if _, ok := h.weight[b]; !ok {
			h.weight[b] = r.BlockTokens(i, h.bs)
			h.parent[b] = par
		}
		if _, ok := h.trees[w][b]; !ok {
			h.size[w] += int64(h.weight[b])
		}
		h.trees[w][b] = h.clock[w]
		par = int64(b)
	}
}

func (h *refHistory) match(w int, r *trace.Request) (tok, blk int) {
	for i, b := range r.Blocks {
		if _, ok := h.trees[w][b]; !ok {
			return tok, i
		}
		tok += r.BlockTokens(i, h.bs)
	}
	return tok, len(r.Blocks)
}

func (h *refHistory) trim(w int) {
	for h.size[w] > h.max {
		best, found := trace.BlockID(0), false
		for b, st := range h.trees[w] {
			leaf := true
			for c := range h.trees[w] {
				if h.parent[c] == int64(b) {
					leaf = false
					break
				}
			}
			if leaf && (!found || st < h.trees[w][best] || st == h.trees[w][best] && b < best) {
				best, found = b, true
			}
		}
		delete(h.trees[w], best)
		h.size[w] -= int64(h.weight[best])
	}
}

func checkHistory(t *testing.T, seed uint64, n int, maxSize int64, nops int) {
	h := newHistory(Env{Workers: n, BlockSize: 16, Blocks: int(seed % 2 * 50)}, maxSize, time.Second)
	ref := newRefHistory(n, 16, maxSize)
	gen := newChainGen(seed, 16, 2)
	s := rng(seed ^ 0xabc)
	tok := make([]float64, n)
	blk := make([]int, n)
	now := time.Duration(0)
	for i := range nops {
		now += time.Duration(s.IntN(int(400 * time.Millisecond)))
		if k := int64(now / time.Second); k > h.trims {
			for w := range n {
				ref.trim(w)
			}
		}
		h.advance(now)
		rq := gen.request(i, 6)
		h.match(rq, tok, blk)
		for w := range n {
			rt, rb := ref.match(w, rq)
			if tok[w] != float64(rt) || blk[w] != rb {
				t.Fatalf("seed %d op %d worker %d: match %v tokens %d blocks, reference %d %d", seed, i, w, tok[w], blk[w], rt, rb)
			}
		}
		w := s.IntN(n)
		h.insert(w, rq)
		ref.insert(w, rq)
		for w := range n {
			if h.size[w] != ref.size[w] {
				t.Fatalf("seed %d op %d worker %d: size %d, reference %d", seed, i, w, h.size[w], ref.size[w])
			}
		}
	}
}

func TestHistoryAgainstReference(t *testing.T) {
	for seed := range uint64(6) {
		for _, n := range []int{1, 3, 64, 65, 130} {
			checkHistory(t, seed, n, int64(50+seed*40), 300)
		}
	}
}

func FuzzHistory(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint16(100), uint16(200))
	f.Add(uint64(2), uint8(70), uint16(16), uint16(100))
	f.Add(uint64(3), uint8(1), uint16(1), uint16(300))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8, maxSize uint16, ops uint16) {
		checkHistory(t, seed, 1+int(n)%130, 1+int64(maxSize), int(ops%500))
	})
}

func FuzzRouters(f *testing.F) {
	for i := range conformanceSpecs {
		f.Add(uint8(i), uint8(3), uint64(i), uint16(150))
	}
	f.Fuzz(func(t *testing.T, spec, n uint8, seed uint64, nreq uint16) {
		workers := 1 + int(n)%70
		cl := newFakeCluster(workers, 16)
		r, _, err := New(conformanceSpecs[int(spec)%len(conformanceSpecs)], Env{Workers: workers, BlockSize: 16, Rand: rng(seed), CachedMs: 0.02, MissMs: 0.1, Cluster: cl})
		if err != nil {
			t.Fatal(err)
		}
		drive(t, r, cl, workers, seed, int(nreq%600))
		for w, c := range r.(inflightCounter).inflightCounts() {
			if c != 0 {
				t.Fatalf("worker %d: %d in flight after all completions", w, c)
			}
		}
	})
}
