package kvcache_test

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

func newCache(t testing.TB, policy string, unit kvcache.Unit, capacity int64, bs int) *kvcache.Cache {
	t.Helper()
	sp, err := param.Parse(policy)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := evict.New(sp, evict.Env{Unit: unit, Capacity: capacity, Rand: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	c, err := kvcache.New(kvcache.Config{Unit: unit, Capacity: capacity, BlockSize: bs}, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func req(idx, bs, last, tail, out int, blocks ...trace.BlockID) *trace.Request {
	return &trace.Request{Index: idx, Blocks: blocks, LastBlockTokens: last, Input: (len(blocks)-1)*bs + last + tail, Output: out}
}

func check(t *testing.T, c *kvcache.Cache) {
	t.Helper()
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestUnitsAndAllowance(t *testing.T) {
	// 3 blocks of 16 tokens, the last partial (5 tokens), 7 tail tokens,
	// 20 output tokens.
	r := req(0, 16, 5, 7, 20, 0, 1, 2)
	tok := newCache(t, "lru", kvcache.Tokens, 1000, 16)
	if got := tok.Footprint(r); got != 16+16+5+7+20 {
		t.Errorf("token footprint %d", got)
	}
	blk := newCache(t, "lru", kvcache.Blocks, 1000, 16)
	if got := blk.Footprint(r); got != 3+1+2 { // ceil(7/16) + ceil(20/16)
		t.Errorf("block footprint %d", got)
	}
	for _, c := range []*kvcache.Cache{tok, blk} {
		hb, ht, err := c.HitOnly(r)
		if err != nil || hb != 0 || ht != 0 {
			t.Fatalf("%s: first %d %d %v", c.Unit(), hb, ht, err)
		}
		hb, ht, err = c.HitOnly(r)
		if err != nil || hb != 3 || ht != 37 {
			t.Fatalf("%s: second %d %d %v", c.Unit(), hb, ht, err)
		}
		// A request sharing two blocks: hit tokens count full blocks.
		hb, ht, _ = c.HitOnly(req(1, 16, 16, 0, 0, 0, 1, 3))
		if hb != 2 || ht != 32 {
			t.Errorf("%s: shared prefix %d %d", c.Unit(), hb, ht)
		}
		check(t, c)
		if c.Reserved() != 0 || c.PinnedWeight() != 0 {
			t.Errorf("%s: reserved %d pinned %d after hit-only requests", c.Unit(), c.Reserved(), c.PinnedWeight())
		}
	}
	if tok.Cached() != 16+16+5+16 || blk.Cached() != 4 {
		t.Errorf("cached %d tokens, %d blocks", tok.Cached(), blk.Cached())
	}
}

// Two running requests compute the same block: both copies count until the
// second commits, which finds the block present and releases its copy.
func TestCommitDuplicate(t *testing.T) {
	c := newCache(t, "lru", kvcache.Blocks, 4, 16)
	a := []trace.BlockID{0, 1}
	for range 2 {
		if h := c.Match(a); h != 0 {
			t.Fatal(h)
		}
		if short, err := c.MakeRoom(2); short != 0 || err != nil {
			t.Fatal(short, err)
		}
		if err := c.Reserve(2); err != nil {
			t.Fatal(err)
		}
	}
	if c.Free() != 0 {
		t.Fatalf("free %d", c.Free())
	}
	if dup, err := c.Commit(kvcache.NoBlock, 0, 1); dup || err != nil {
		t.Fatal(dup, err)
	}
	if c.Match(a) != 1 {
		t.Fatal("block 0 not matchable once computed")
	}
	if dup, err := c.Commit(kvcache.NoBlock, 0, 1); !dup || err != nil {
		t.Fatal(dup, err)
	}
	if c.Pins(0) != 2 || c.Used() != 4-1 {
		t.Fatalf("pins %d used %d", c.Pins(0), c.Used())
	}
	if _, err := c.Commit(0, 1, 1); err != nil {
		t.Fatal(err)
	}
	if dup, _ := c.Commit(0, 1, 1); !dup {
		t.Fatal("second copy of 1 not a duplicate")
	}
	check(t, c)
	if c.Used() != 2 || c.Reserved() != 0 {
		t.Fatalf("used %d reserved %d", c.Used(), c.Reserved())
	}
	// Everything pinned: no room.
	if short, err := c.MakeRoom(4); short != 2 || err != nil {
		t.Fatalf("short %d err %v", short, err)
	}
	for range 2 {
		c.Access(a, kvcache.Complete)
		if err := c.Unpin(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Unpin(a); err == nil {
		t.Fatal("unpinning an unpinned path succeeded")
	}
	if short, err := c.MakeRoom(4); short != 0 || err != nil || c.Len() != 0 || c.Evicted() != 2 {
		t.Fatalf("short %d err %v len %d evicted %d", short, err, c.Len(), c.Evicted())
	}
	check(t, c)
}

func TestErrors(t *testing.T) {
	c := newCache(t, "lru", kvcache.Tokens, 10, 4)
	if err := c.Pin([]trace.BlockID{3}); !errors.Is(err, kvcache.ErrState) {
		t.Errorf("pin absent: %v", err)
	}
	if err := c.Reserve(11); !errors.Is(err, kvcache.ErrNoRoom) {
		t.Errorf("reserve over capacity: %v", err)
	}
	if err := c.Release(1); !errors.Is(err, kvcache.ErrState) {
		t.Errorf("release unreserved: %v", err)
	}
	if _, err := c.Commit(kvcache.NoBlock, 0, 4); !errors.Is(err, kvcache.ErrState) {
		t.Errorf("commit without reservation: %v", err)
	}
	if err := c.Insert(5, 6, 1, 0); !errors.Is(err, kvcache.ErrState) {
		t.Errorf("insert under absent parent: %v", err)
	}
	if err := c.Insert(kvcache.NoBlock, 0, 4, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(kvcache.NoBlock, 0, 4, 0); !errors.Is(err, kvcache.ErrState) {
		t.Errorf("double insert: %v", err)
	}
	if _, err := kvcache.New(kvcache.Config{Capacity: 0, BlockSize: 1}, nil); err == nil {
		t.Error("capacity 0 accepted")
	}
	check(t, c)
}

// badPolicy names a pinned block.
type badPolicy struct{ c *kvcache.Cache }

func (p *badPolicy) Attach(c *kvcache.Cache)             { p.c = c }
func (*badPolicy) Inserted(trace.BlockID)                {}
func (*badPolicy) Removed(trace.BlockID)                 {}
func (*badPolicy) Evictable(trace.BlockID, bool)         {}
func (*badPolicy) Access([]trace.BlockID, kvcache.Event) {}
func (*badPolicy) BeginEvict(int64)                      {}
func (*badPolicy) Victim(int64) (trace.BlockID, bool)    { return 0, true }

func TestBadVictimRefused(t *testing.T) {
	c, _ := kvcache.New(kvcache.Config{Unit: kvcache.Blocks, Capacity: 2, BlockSize: 1}, &badPolicy{})
	_ = c.Insert(kvcache.NoBlock, 0, 1, 1) // pinned
	_ = c.Insert(0, 1, 1, 0)
	if _, err := c.MakeRoom(2); !errors.Is(err, kvcache.ErrBadVictim) {
		t.Fatalf("pinned victim: %v", err)
	}
	if !c.Present(0) || c.Len() != 2 {
		t.Fatal("pinned block evicted")
	}
}

func TestSnapshotSplit(t *testing.T) {
	c := newCache(t, "rlt", kvcache.Blocks, 10, 1)
	if _, _, err := c.HitOnly(req(0, 1, 1, 0, 0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(kvcache.NoBlock, 5, 1, 0); err != nil { // unmarked
		t.Fatal(err)
	}
	if err := c.Pin([]trace.BlockID{0}); err != nil {
		t.Fatal(err)
	}
	s := c.Snapshot()
	if s.Pinned != 1 || s.Marked != 1 || s.Unmarked != 1 || s.Used != 3 || s.Blocks != 3 {
		t.Fatalf("%+v", s)
	}
}

// Memory: heap in use after filling ≥ 100,000 blocks, per block (issue
// 3's budget: 96 bytes, policy state included).
func TestMemoryPerBlock(t *testing.T) {
	for _, pol := range []string{"lru", "rlt"} {
		perBlock := fillMemory(t, pol, 100_000)
		t.Logf("%s: %.1f bytes per cached block", pol, perBlock)
		if perBlock > 96 {
			t.Errorf("%s: %.1f bytes per block, budget 96", pol, perBlock)
		}
	}
}

// fillMemory builds a cache holding n blocks (chains of 32) and returns
// (heap in use after − before) / n, after runtime.GC().
func fillMemory(t testing.TB, policy string, n int) float64 {
	chains := make([]*trace.Request, 0, n/32)
	for i := 0; i < n; i += 32 {
		bl := make([]trace.BlockID, 32)
		for j := range bl {
			bl[j] = trace.BlockID(i + j)
		}
		chains = append(chains, req(i/32, 16, 16, 0, 0, bl...))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newCache(t, policy, kvcache.Blocks, int64(n), 16)
	for _, r := range chains {
		if _, _, err := c.HitOnly(r); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	runtime.KeepAlive(chains)
	return float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / float64(c.Len())
}

// TestForget: a failed request's blocks leave the model leaf first, and
// stop at a block another request still pins or extends; nothing counts as
// an eviction, and every policy stays consistent (Check).
func TestForget(t *testing.T) {
	for _, pol := range evict.Names() {
		if info, _ := evict.Lookup(pol); info.Offline {
			continue
		}
		t.Run(pol, func(t *testing.T) {
			c := newCache(t, pol, kvcache.Blocks, 8, 16)
			add := func(path ...trace.BlockID) {
				t.Helper()
				h := c.Match(path)
				if err := c.Pin(path[:h]); err != nil {
					t.Fatal(err)
				}
				if err := c.Reserve(int64(len(path) - h)); err != nil {
					t.Fatal(err)
				}
				parent := kvcache.NoBlock
				if h > 0 {
					parent = path[h-1]
				}
				for _, b := range path[h:] {
					if _, err := c.Commit(parent, b, 1); err != nil {
						t.Fatal(err)
					}
					parent = b
				}
			}
			add(0, 1, 2, 3) // the failed request
			add(0, 1, 5)    // another, still running, shares 0 and 1
			if err := c.Unpin([]trace.BlockID{0, 1, 2, 3}); err != nil {
				t.Fatal(err)
			}
			if w := c.Forget([]trace.BlockID{2, 3}); w != 2 {
				t.Fatalf("forgot %d, want 2 (blocks 3 then 2)", w)
			}
			if c.Present(2) || c.Present(3) || !c.Present(1) || c.Evicted() != 0 || c.Len() != 3 {
				t.Fatalf("after forget: 2 %v 3 %v 1 %v evicted %d len %d", c.Present(2), c.Present(3), c.Present(1), c.Evicted(), c.Len())
			}
			check(t, c)
			// 1 has a child (5) and is pinned: nothing of 0, 1 goes.
			if w := c.Forget([]trace.BlockID{0, 1}); w != 0 {
				t.Fatalf("forgot %d of a pinned, extended prefix", w)
			}
			if err := c.Unpin([]trace.BlockID{0, 1, 5}); err != nil {
				t.Fatal(err)
			}
			if w := c.Forget([]trace.BlockID{0, 1, 5}); w != 3 || c.Len() != 0 || c.Used() != 0 {
				t.Fatalf("forgot %d, len %d used %d", w, c.Len(), c.Used())
			}
			check(t, c)
			// What is forgotten can come back.
			add(0, 1, 2)
			check(t, c)
		})
	}
}

// Live names the present blocks, and for s3fifo the ghost ids of blocks
// evicted from its small queue, which must survive a table sweep.
func TestLiveNamesPresentAndRetained(t *testing.T) {
	for _, c := range []struct {
		policy string
		want   []trace.BlockID
	}{
		{"lru", []trace.BlockID{0, 3, 4}},
		{"s3fifo", []trace.BlockID{0, 1, 2, 3, 4}},
	} {
		cache := newCache(t, c.policy, kvcache.Blocks, 3, 4)
		for i, chain := range [][]trace.BlockID{{0, 1, 2}, {3, 4}} {
			if _, _, err := cache.HitOnly(req(i, 4, 4, 0, 0, chain...)); err != nil {
				t.Fatal(err)
			}
		}
		check(t, cache)
		seen := map[trace.BlockID]bool{}
		cache.Live(func(b trace.BlockID) { seen[b] = true })
		if len(seen) != len(c.want) {
			t.Fatalf("%s: live %v, want %v", c.policy, seen, c.want)
		}
		for _, b := range c.want {
			if !seen[b] {
				t.Fatalf("%s: live %v, want %v", c.policy, seen, c.want)
			}
		}
	}
}

// SizeHint is only a hint: a negative one is ignored, with LocalSlots too
// (it used to size the slot table with a negative capacity: a panic).
func TestNegativeSizeHint(t *testing.T) {
	for _, local := range []bool{false, true} {
		p, _, err := evict.New(param.Spec{Name: "lru"}, evict.Env{Unit: kvcache.Blocks, Capacity: 4})
		if err != nil {
			t.Fatal(err)
		}
		c, err := kvcache.New(kvcache.Config{Unit: kvcache.Blocks, Capacity: 4, BlockSize: 4, SizeHint: -1, LocalSlots: local}, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.HitOnly(req(0, 4, 4, 0, 0, 7, 8)); err != nil {
			t.Fatal(err)
		}
		check(t, c)
	}
}
