package evict_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// checked wraps a policy and verifies, independently of the cache, that
// every victim is present, childless and unpinned when named.
type checked struct {
	evict.Policy
	c   *kvcache.Cache
	bad error
}

func (p *checked) Attach(c *kvcache.Cache) { p.c = c; p.Policy.Attach(c) }

func (p *checked) Victim(n int64) (trace.BlockID, bool) {
	b, ok := p.Policy.Victim(n)
	if ok && p.bad == nil {
		switch {
		case !p.c.Present(b):
			p.bad = fmt.Errorf("victim %d is not cached", b)
		case p.c.Pins(b) > 0:
			p.bad = fmt.Errorf("victim %d is pinned (%d)", b, p.c.Pins(b))
		case p.c.Children(b) > 0:
			p.bad = fmt.Errorf("victim %d is not a leaf (%d children)", b, p.c.Children(b))
		}
	}
	return b, ok
}

// randomTrace builds requests as root-to-node paths of a random forest of
// nBlocks blocks; ids are dense in first-appearance order of the paths.
func randomTrace(r *rand.Rand, nReqs, nBlocks, maxDepth, bs, maxOut int) []trace.Request {
	parent := make([]int, nBlocks)
	depth := make([]int, nBlocks)
	for i := range parent {
		parent[i] = -1
		if i > 0 && r.IntN(4) != 0 {
			p := r.IntN(i)
			if depth[p]+1 < maxDepth {
				parent[i], depth[i] = p, depth[p]+1
			}
		}
	}
	hasKid := make([]bool, nBlocks)
	partial := make([]int, nBlocks) // token weight of a leaf block's partial form, 0 = full
	for i := range parent {
		if parent[i] >= 0 {
			hasKid[parent[i]] = true
		}
	}
	for i := range partial {
		if !hasKid[i] && bs > 1 && r.IntN(3) == 0 {
			partial[i] = 1 + r.IntN(bs)
		}
	}
	remap := map[int]trace.BlockID{}
	reqs := make([]trace.Request, nReqs)
	for k := range reqs {
		leaf := r.IntN(nBlocks)
		var path []int
		for b := leaf; b >= 0; b = parent[b] {
			path = append([]int{b}, path...)
		}
		chain := make([]trace.BlockID, len(path))
		for i, b := range path {
			d, ok := remap[b]
			if !ok {
				d = trace.BlockID(len(remap))
				remap[b] = d
			}
			chain[i] = d
		}
		last := bs
		if partial[leaf] > 0 {
			last = partial[leaf]
		}
		tail := 0
		if r.IntN(4) == 0 {
			tail = r.IntN(bs + 1)
		}
		reqs[k] = trace.Request{Index: k, Blocks: chain, LastBlockTokens: last,
			Input: (len(chain)-1)*bs + last + tail, Output: r.IntN(maxOut + 1), Session: -1, Parent: trace.NoParent}
	}
	return reqs
}

// opsRun drives a cache with an interleaving of timed-style operations on
// several in-flight requests (start, commit a block, prefill end,
// completion) and hit-only requests, checking every invariant after each
// step. choose draws the next operation.
func opsRun(t *testing.T, name string, unit kvcache.Unit, capacity int64, bs int, reqs []trace.Request, choose func(n int) int, seed uint64) {
	t.Helper()
	var future [][]trace.BlockID
	for i := range reqs {
		future = append(future, reqs[i].Blocks)
	}
	sp := mustSpec(t, name)
	p, _, err := evict.New(sp, evict.Env{Unit: unit, Capacity: capacity, Rand: rand.New(rand.NewPCG(seed, 7)), Future: future})
	if err != nil {
		t.Fatal(err)
	}
	chk := &checked{Policy: p}
	c, err := kvcache.New(kvcache.Config{Unit: unit, Capacity: capacity, BlockSize: bs}, chk)
	if err != nil {
		t.Fatal(err)
	}
	type flight struct {
		r     *trace.Request
		next  int // next block to commit
		allow int64
		ended bool
	}
	var running []*flight
	fail := func(step int, format string, a ...any) {
		t.Helper()
		t.Fatalf("%s %s B=%d step %d: %s", name, unit, capacity, step, fmt.Sprintf(format, a...))
	}
	ri := 0
	for step := 0; step < 4*len(reqs)+64 && (ri < len(reqs) || len(running) > 0); step++ {
		op := choose(4)
		switch {
		case op == 0 && ri < len(reqs): // hit-only request
			r := &reqs[ri]
			ri++
			if c.Footprint(r)+c.PinnedWeight()+c.Reserved() > capacity {
				continue
			}
			h0 := c.Match(r.Blocks)
			cached0, ev0, n0 := c.Cached(), c.Evicted(), c.Len()
			hb, ht, err := c.HitOnly(r)
			if err != nil {
				fail(step, "hit-only request %d: %v", ri-1, err)
			}
			if hb != h0 || c.Match(r.Blocks) != len(r.Blocks) {
				fail(step, "hit %d (matched %d), after insert %d of %d", hb, h0, c.Match(r.Blocks), len(r.Blocks))
			}
			// The misses are what was inserted: cached weight grew by the
			// weight of chain[hb:] net of evictions, and (block mode) the
			// block count by exactly len − hit.
			var missW int64
			for i := hb; i < len(r.Blocks); i++ {
				missW += c.ReqWeight(r, i)
			}
			evW := c.Evicted() - ev0
			if c.Cached() != cached0-evW+missW {
				fail(step, "cached %d, want %d − %d evicted + %d missed", c.Cached(), cached0, evW, missW)
			}
			if unit == kvcache.Blocks && c.Len()-n0+int(evW) != len(r.Blocks)-hb {
				fail(step, "hit %d + inserted %d != %d blocks", hb, c.Len()-n0+int(evW), len(r.Blocks))
			}
			wantHT := r.ChainTokens(bs)
			if hb < len(r.Blocks) {
				wantHT = hb * bs
			}
			if ht != wantHT || r.Input-ht < 0 {
				fail(step, "hit tokens %d, want %d", ht, wantHT)
			}
		case op == 1 && ri < len(reqs): // prefill start
			r := &reqs[ri]
			ri++
			h := c.Match(r.Blocks)
			if err := c.Pin(r.Blocks[:h]); err != nil {
				fail(step, "pin: %v", err)
			}
			c.Access(r.Blocks[:h], kvcache.PrefillStart)
			var miss int64
			for i := h; i < len(r.Blocks); i++ {
				miss += c.ReqWeight(r, i)
			}
			allow := c.Allowance(r.TailTokens(bs)) + c.Allowance(r.Output)
			short, err := c.MakeRoom(miss + allow)
			if err != nil {
				fail(step, "make room: %v", err)
			}
			if short > 0 {
				// Does not fit now: give up this request.
				if err := c.Unpin(r.Blocks[:h]); err != nil {
					fail(step, "unpin: %v", err)
				}
				continue
			}
			if err := c.Reserve(miss + allow); err != nil {
				fail(step, "reserve after room made: %v", err)
			}
			running = append(running, &flight{r: r, next: h, allow: allow})
		case len(running) > 0: // advance one running request
			k := choose(len(running))
			f := running[k]
			r := f.r
			switch {
			case f.next < len(r.Blocks):
				parent := kvcache.NoBlock
				if f.next > 0 {
					parent = r.Blocks[f.next-1]
				}
				if _, err := c.Commit(parent, r.Blocks[f.next], c.ReqWeight(r, f.next)); err != nil {
					fail(step, "commit: %v", err)
				}
				f.next++
			case !f.ended:
				c.Access(r.Blocks, kvcache.PrefillEnd)
				f.ended = true
			default:
				c.Access(r.Blocks, kvcache.Complete)
				if err := c.Unpin(r.Blocks); err != nil {
					fail(step, "unpin: %v", err)
				}
				if err := c.Release(f.allow); err != nil {
					fail(step, "release: %v", err)
				}
				running = append(running[:k], running[k+1:]...)
			}
		default:
			continue
		}
		if chk.bad != nil {
			fail(step, "%v", chk.bad)
		}
		if err := c.Check(); err != nil {
			fail(step, "%v", err)
		}
		if c.Used() > capacity {
			fail(step, "used %d > capacity", c.Used())
		}
		for _, f := range running {
			// Pinned blocks (matched path and committed blocks) stay.
			if got := c.Match(f.r.Blocks[:f.next]); got != f.next {
				fail(step, "request %d lost pinned block %d", f.r.Index, f.r.Blocks[got])
			}
		}
	}
	if len(running) == 0 && (c.PinnedWeight() != 0 || c.Reserved() != 0) {
		t.Fatalf("%s: idle cache holds pinned %d reserved %d", name, c.PinnedWeight(), c.Reserved())
	}
}

func TestConformance(t *testing.T) {
	for _, name := range evict.Names() {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= 40; seed++ {
				r := rand.New(rand.NewPCG(seed, 99))
				bs := []int{1, 4, 16}[seed%3]
				unit := kvcache.Blocks
				if seed%2 == 0 {
					unit = kvcache.Tokens
				}
				reqs := randomTrace(r, 60, 40, 6, bs, 2*bs)
				capacity := int64(4 + r.IntN(20))
				if unit == kvcache.Tokens {
					capacity *= int64(bs)
				}
				opsRun(t, name, unit, capacity, bs, reqs, func(n int) int { return r.IntN(n) }, seed)
			}
		})
	}
}

// FuzzCacheOps drives every policy with operations decoded from the input.
func FuzzCacheOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint64(1))
	f.Add([]byte{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 0, 0, 0}, uint64(2))
	f.Add([]byte{255, 17, 33, 2, 90, 1, 1, 0, 4, 4, 200, 3}, uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		if len(data) < 2 {
			return
		}
		names := evict.Names()
		name := names[int(data[0])%len(names)]
		unit := kvcache.Unit(data[1] % 2)
		bs := []int{1, 2, 8}[int(data[1]/2)%3]
		r := rand.New(rand.NewPCG(seed, uint64(len(data))))
		reqs := randomTrace(r, 8+len(data)/2, 4+int(data[1]%32), 5, bs, 3)
		capacity := int64(1 + int(data[len(data)-1])%16)
		if unit == kvcache.Tokens {
			capacity *= int64(bs)
		}
		i := 2
		choose := func(n int) int {
			if i >= len(data) {
				return r.IntN(n)
			}
			v := int(data[i]) % n
			i++
			return v
		}
		opsRun(t, name, unit, capacity, bs, reqs, choose, seed)
	})
}
