package kvcache

import "fmt"

// Local slots (Config.LocalSlots): the cache numbers its blocks itself, so
// its node slice and its policy's per-block arrays are as long as the most
// blocks it has held at once (at most Capacity), not as the trace's dense
// id range. Callers keep speaking trace ids: every entry point that takes
// ids (Match, Pin, Unpin, Access, Commit, Insert, Forget, HitOnly) turns
// them into slots through slotMap, once per call; the policy is told slots
// and asks the cache by slot. A removed block's slot goes back on a free
// list and the next inserted block takes it (last freed, first taken), so
// only a policy whose choices never depend on the numbering may be used
// with it (evict.Info.LocalSlots): one that never lets an id decide, or one
// that orders blocks by TraceID rather than by the slot it is told.
//
// A Retainer (s3fifo) remembers absent blocks by id (its ghosts): a
// removed block's slot then stays mapped to its trace id, so the block
// comes back to the same slot and the policy knows it, and no other block
// may take the slot while the policy remembers it. Such slots wait on a
// pending list; when it has grown past twice what the last sweep kept, a
// sweep asks the policy what it retains (Retain) and frees the rest. The
// slots are then bounded by the blocks held plus those retained (s3fifo's
// ghost queue holds at most the capacity's weight) plus the pending list.

// slotMap maps a trace id to its slot: open addressing with linear probing
// over a power-of-two table at most a quarter full while it is small and
// half full beyond (spread), deletion by backward shift (no tombstones, so
// lookups stay short however many blocks come and go).
// An empty entry has key NoBlock, which is never a block's id.
type slotMap struct {
	e    []slotEntry
	n    int
	bits uint8
}

type slotEntry struct{ k, v BlockID }

// spread is the least number of table entries per key for n keys: 4 up to
// 16,384 keys (a table of up to 512 KiB), 2 beyond, where the memory
// matters more than the probes. On the Mooncake trace repeated 20 times
// (BenchmarkStreamMooncake20: 8 workers of 4,000 blocks, nearly every
// lookup a miss, so a get, a put and a del per block) the whole replay
// took 7% less time at a quarter than at half; with home's grouping by
// cache line, half is 20% slower than a quarter and an eighth no faster.
func spread(n int) int {
	if n <= 1<<14 {
		return 4
	}
	return 2
}

func (m *slotMap) home(k BlockID) int {
	// Fibonacci hashing of k/8, and k%8 within: the 8 entries of a cache
	// line (64 bytes) hold 8 consecutive ids, so a chain of new blocks
	// (traces number them in a row) is put, found and evicted a line at a
	// time, while groups land far apart.
	return int((uint32(k>>3)*0x9E3779B1)>>(32-m.bits+3))<<3 | int(k&7)
}

// get returns k's slot, or NoBlock (for k == NoBlock too: the empty
// entry is tested first, so NoBlock never matches one).
func (m *slotMap) get(k BlockID) BlockID {
	if m.n == 0 {
		return NoBlock
	}
	mask := len(m.e) - 1
	for i := m.home(k); ; i = (i + 1) & mask {
		e := m.e[i]
		if e.k == NoBlock {
			return NoBlock
		}
		if e.k == k {
			return e.v
		}
	}
}

// put sets k's slot; k must be absent.
func (m *slotMap) put(k, v BlockID) {
	if spread(m.n+1)*(m.n+1) > len(m.e) {
		m.resize(2 * (m.n + 1))
	}
	mask := len(m.e) - 1
	i := m.home(k)
	for m.e[i].k != NoBlock {
		i = (i + 1) & mask
	}
	m.e[i] = slotEntry{k, v}
	m.n++
}

// resize rebuilds the table with room for at least n entries at the
// spread's load.
func (m *slotMap) resize(n int) {
	bits := uint8(6)
	for 1<<bits < spread(n)*n {
		bits++
	}
	if 1<<bits <= len(m.e) {
		return
	}
	old := m.e
	m.e = make([]slotEntry, 1<<bits)
	m.bits = bits
	for i := range m.e {
		m.e[i].k = NoBlock
	}
	m.n = 0
	for _, e := range old {
		if e.k != NoBlock {
			m.put(e.k, e.v)
		}
	}
}

// del removes k (present). Later entries of its run move back into the
// hole when their probe sequence passes it, so no tombstone is left.
func (m *slotMap) del(k BlockID) {
	mask := len(m.e) - 1
	i := m.home(k)
	for m.e[i].k != k {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; m.e[j].k != NoBlock; j = (j + 1) & mask {
		h := m.home(m.e[j].k)
		// The entry at j probed h, h+1, ..., j; it may move to i if i is
		// on that path.
		if (j-h)&mask >= (j-i)&mask {
			m.e[i] = m.e[j]
			i = j
		}
	}
	m.e[i].k = NoBlock
	m.n--
}

// ID is b's id in the cache's own numbering, the one its policy hears and
// the accessors (Present, Depth, BlockWeight, Parent, Pins, Children,
// IsEvictable) take: b itself, or under LocalSlots b's slot (NoBlock when
// b is not cached, which every accessor reads as absent).
func (c *Cache) ID(b BlockID) BlockID {
	if !c.local {
		return b
	}
	return c.ids.get(b)
}

// slot is b's slot if b is cached, else NoBlock (a retained block's slot
// is mapped but absent).
func (c *Cache) slot(b BlockID) BlockID {
	s := c.ids.get(b)
	if c.retainer != nil && s != NoBlock && c.nodes[s].weight == 0 {
		return NoBlock
	}
	return s
}

// TraceID is the inverse of ID for a present block: the caller's id of the
// cache's block s. It is also the order key of a policy that orders blocks
// by id (evict's rlt and random_leaf): it is the same block's trace id in
// either numbering, so such a policy chooses alike with or without
// LocalSlots. It is valid whenever s is present, through every policy call
// about s (Inserted, Evictable, Removed, Access).
func (c *Cache) TraceID(s BlockID) BlockID {
	if !c.local || int(s) >= len(c.glob) {
		return s
	}
	return c.glob[s]
}

// LocalSlots reports whether the cache numbers its blocks itself
// (Config.LocalSlots).
func (c *Cache) LocalSlots() bool { return c.local }

// alloc gives trace id b a slot (b itself without LocalSlots) and makes
// sure the node slice holds it.
func (c *Cache) alloc(b BlockID) BlockID {
	if !c.local {
		c.grow(b)
		return b
	}
	if c.retainer != nil {
		if s := c.ids.get(b); s != NoBlock {
			return s // retained: back to its slot
		}
		if len(c.free) == 0 && len(c.pending) >= 64 && len(c.pending) >= 2*c.keptPending {
			c.sweep()
		}
	}
	var s BlockID
	if n := len(c.free); n > 0 {
		s = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		s = BlockID(len(c.nodes))
		c.grow(s)
		c.glob = append(c.glob, NoBlock)
	}
	c.glob[s] = b
	c.ids.put(b, s)
	return s
}

// release frees removed block s's slot, or puts it on the pending list
// while the policy may retain it.
func (c *Cache) release(s BlockID) {
	if c.retainer != nil {
		c.pending = append(c.pending, s)
		return
	}
	c.unmap(s)
}

// unmap frees slot s.
func (c *Cache) unmap(s BlockID) {
	c.ids.del(c.glob[s])
	c.glob[s] = NoBlock
	c.free = append(c.free, s)
}

// sweep frees the pending slots the policy no longer retains and that
// hold no block again; the others stay pending (once each).
func (c *Cache) sweep() {
	// Stamps: 2k retained in sweep k, 2k+1 retained and kept once.
	c.sweeps += 2
	c.retained = grow(c.retained, len(c.nodes))
	c.retainer.Retain(func(s BlockID) { c.retained[s] = c.sweeps })
	kept := c.pending[:0]
	for _, s := range c.pending {
		switch {
		case c.glob[s] == NoBlock || c.nodes[s].weight != 0 || c.retained[s] == c.sweeps+1:
			// freed already, back in the cache, or kept already
		case c.retained[s] == c.sweeps:
			c.retained[s] = c.sweeps + 1
			kept = append(kept, s)
		default:
			c.unmap(s)
		}
	}
	c.pending = kept
	c.keptPending = len(kept)
}

func grow[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

// toSlots translates chain into slots (LocalSlots only), in a scratch
// slice that the next call reuses, stopping at the first block that is not
// cached: n = len(path) is how many leading blocks are. The last
// translation is kept: a call with the same chain (the simulator matches,
// pins and touches a path, touches then unpins it) reuses it after
// checking each slot still holds that block, one read of a small array per
// block instead of a probe of the table; Commit extends it (commitLocal).
func (c *Cache) toSlots(chain []BlockID) (path []BlockID, n int) {
	if len(chain) > 0 && len(chain) <= len(c.scratch) && &chain[0] == c.memo {
		path = c.scratch[:len(chain)]
		ok := true
		for i, s := range path {
			if c.glob[s] != chain[i] || c.retainer != nil && c.nodes[s].weight == 0 {
				ok = false
				break
			}
		}
		if ok {
			return path, len(path)
		}
	}
	c.scratch = c.scratch[:0]
	c.memo = nil
	for _, b := range chain {
		s := c.slot(b)
		if s == NoBlock {
			break
		}
		c.scratch = append(c.scratch, s)
	}
	if len(c.scratch) > 0 {
		c.memo = &chain[0]
	}
	return c.scratch, len(c.scratch)
}

// commitLocal is Commit under LocalSlots. When parent is the last block of
// the kept translation (toSlots), as when a request commits its chain in
// order after Pin, its slot is known without a probe, and b's slot extends
// the translation, so the whole chain's Access at prefill end finds it
// there (toSlots checks every kept slot before using it).
func (c *Cache) commitLocal(parent, b BlockID, w int64) (dup bool, err error) {
	n := len(c.scratch)
	var p BlockID
	extend := c.memo != nil && n > 0 && parent != NoBlock && c.glob[c.scratch[n-1]] == parent && c.Present(c.scratch[n-1])
	if extend {
		p = c.scratch[n-1]
	} else if p, err = c.parentID(parent, b); err != nil {
		return false, err
	}
	id, dup, err := c.commit(p, b, w)
	if err == nil && extend {
		c.scratch = append(c.scratch, id)
	}
	return dup, err
}

// checkSlots verifies the slot tables against the nodes (for Check): a
// present slot maps from its trace id and back, an absent one is free.
func (c *Cache) checkSlots() error {
	mapped := 0
	for _, g := range c.glob {
		if g != NoBlock {
			mapped++
		}
	}
	if len(c.glob) != len(c.nodes) || c.ids.n != mapped || mapped+len(c.free) != len(c.nodes) || c.retainer == nil && mapped != c.count {
		return fmt.Errorf("local slots: %d slots, %d trace ids, %d free, %d blocks, %d mapped", len(c.nodes), len(c.glob), len(c.free), c.count, c.ids.n)
	}
	for s := range c.nodes {
		g := c.glob[s]
		if c.nodes[s].weight == 0 && c.retainer == nil {
			if g != NoBlock {
				return fmt.Errorf("local slot %d is free but names block %d", s, g)
			}
			continue
		}
		if g == NoBlock {
			if c.nodes[s].weight != 0 {
				return fmt.Errorf("local slot %d holds a block but names none", s)
			}
			continue
		}
		if got := c.ids.get(g); got != BlockID(s) {
			return fmt.Errorf("block %d in slot %d is mapped to slot %d", g, s, got)
		}
	}
	return nil
}
