package kvcache

import (
	"math/rand/v2"
	"testing"
)

// TestSlotMapMatchesMap checks the open-addressing table (with its
// backward-shift deletion and growth) against Go's map over random puts
// and deletes of clustered ids, the shape of a cache's churn.
func TestSlotMapMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var m slotMap
	want := map[BlockID]BlockID{}
	var keys []BlockID
	next := BlockID(0)
	for step := range 200_000 {
		if len(keys) > 0 && (r.IntN(2) == 0 || len(keys) > 3000) {
			i := r.IntN(len(keys))
			k := keys[i]
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			m.del(k)
			delete(want, k)
		} else {
			// Mostly new ids in runs (chains), sometimes an old one again.
			k := next
			if r.IntN(8) == 0 {
				k = BlockID(r.IntN(int(next) + 1))
			} else {
				next++
			}
			if _, ok := want[k]; ok {
				continue
			}
			v := BlockID(r.Uint32() >> 1)
			m.put(k, v)
			want[k] = v
			keys = append(keys, k)
		}
		if m.n != len(want) {
			t.Fatalf("step %d: %d entries, want %d", step, m.n, len(want))
		}
		if step%1000 == 0 {
			for k, v := range want {
				if got := m.get(k); got != v {
					t.Fatalf("step %d: get(%d) = %d, want %d", step, k, got, v)
				}
			}
			// NoBlock is the empty entries' key, never a block's id.
			if got := m.get(NoBlock); got != NoBlock {
				t.Fatalf("step %d: get(NoBlock) = %d", step, got)
			}
			for range 100 {
				k := BlockID(r.IntN(int(next) + 10))
				if _, ok := want[k]; !ok && m.get(k) != NoBlock {
					t.Fatalf("step %d: absent %d found", step, k)
				}
			}
		}
	}
	if 2*m.n > len(m.e) {
		t.Fatalf("table %d for %d entries", len(m.e), m.n)
	}
}

// quiet is a policy that never evicts, for tests of the cache's own
// bookkeeping.
type quiet struct{}

func (quiet) Attach(*Cache)                {}
func (quiet) Inserted(BlockID)             {}
func (quiet) Removed(BlockID)              {}
func (quiet) Evictable(BlockID, bool)      {}
func (quiet) Access([]BlockID, Event)      {}
func (quiet) BeginEvict(int64)             {}
func (quiet) Victim(int64) (BlockID, bool) { return 0, false }

// TestTranslationKept: under LocalSlots, Match keeps its translation for
// the Pin that follows, and committing the chain in order extends it, so
// the chain's Access at prefill end needs no probe; a commit under another
// parent leaves it alone.
func TestTranslationKept(t *testing.T) {
	c, err := New(Config{Unit: Blocks, Capacity: 16, BlockSize: 4, LocalSlots: true}, quiet{})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range []BlockID{10, 11} {
		parent := NoBlock
		if i > 0 {
			parent = 10
		}
		if err := c.Insert(parent, b, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Insert(NoBlock, 20, 1, 1); err != nil {
		t.Fatal(err)
	}
	chain := []BlockID{10, 11, 12, 13}
	kept := func(n int) {
		t.Helper()
		if c.memo != &chain[0] || len(c.scratch) != n {
			t.Fatalf("kept %d slots (memo of this chain %v), want %d", len(c.scratch), c.memo == &chain[0], n)
		}
		for i, s := range c.scratch {
			if s != c.ID(chain[i]) {
				t.Fatalf("kept slot %d for block %d, its slot is %d", s, chain[i], c.ID(chain[i]))
			}
		}
	}
	if h := c.Match(chain); h != 2 {
		t.Fatalf("match %d, want 2", h)
	}
	kept(2)
	if err := c.Pin(chain[:2]); err != nil {
		t.Fatal(err)
	}
	if err := c.Reserve(3); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(11, 12, 1); err != nil {
		t.Fatal(err)
	}
	kept(3)
	if _, err := c.Commit(20, 21, 1); err != nil { // another request's block
		t.Fatal(err)
	}
	kept(3)
	if _, err := c.Commit(12, 13, 1); err != nil {
		t.Fatal(err)
	}
	kept(4)
	c.Access(chain, PrefillEnd)
	if err := c.Unpin(chain); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}
