package evict

import "github.com/kvscope/kvscope/replay/kvcache"

// sieve is SIEVE (Zhang et al., NSDI '24) adapted to leaves. Every cached
// block has a place in one FIFO in insertion order and a visited bit, set
// when a request hits it: a request's use (hit-only access or prefill end)
// sets the bit of each block of its path that was present before the
// request, and the blocks it inserts, its misses, stay unvisited, as SIEVE
// inserts new objects. (An earlier version set the bit on every access,
// the inserting one included, so a block used once survived the hand's
// first pass: SIEVE's quick demotion was lost; reference_test.go pins the
// difference.) The hand walks from the oldest block toward newer ones: a
// block that is not an unpinned leaf (an internal block or a pinned one) is
// passed over untouched, keeping its bit; an unpinned leaf with its bit set
// has the bit cleared and is passed over; the first unpinned leaf without
// the bit is the victim, and the hand stays just after it. At the newest
// end the hand wraps to the oldest. New blocks enter at the newest end
// unvisited. The adaptation: only leaves can leave, so the hand's walk is
// over the list restricted to the evictable blocks.
//
// The hand is an insertion number, and the evictable blocks sit in an
// ordered set by insertion number, so passing over internal blocks costs
// nothing: each step of the hand is one successor query. It gives the same
// victims as walking the whole list (TestSieveMatchesListWalk).
type sieve struct {
	nop
	seq uint64
	at  []uint64
	// visited: 1 visited, 0 not, -1 inserted and its inserting use not
	// yet seen (that use does not count, as in s3fifo).
	visited []int8
	ev      seqset
	hand    uint64
	// all cached blocks in insertion order: a victim with no newer cached
	// block sends the hand back to the oldest, as SIEVE's list does.
	l dlist
	q queue
}

func newSieve(*paramArgs, Env) (Policy, error) { return &sieve{q: newQueue(1)}, nil }

func (p *sieve) Removed(b BlockID) { p.l.unlink(&p.q, b, 0) }

func (p *sieve) Inserted(b BlockID) {
	n := int(b) + 1
	p.visited = grow(p.visited, n)
	p.at = grow(p.at, n)
	p.visited[b] = -1
	p.seq++
	p.at[b] = p.seq
	p.l.pushNewest(&p.q, b, 0)
}

func (p *sieve) Access(path []BlockID, ev kvcache.Event) {
	if ev != kvcache.HitOnly && ev != kvcache.PrefillEnd {
		return
	}
	for _, b := range path {
		if p.visited[b] < 1 {
			p.visited[b]++
		}
	}
}

func (p *sieve) Evictable(b BlockID, yes bool) {
	if yes {
		p.ev.add(p.at[b], b)
	} else {
		p.ev.del(p.at[b])
	}
}

func (p *sieve) Victim(int64) (BlockID, bool) {
	if p.ev.n == 0 {
		return 0, false
	}
	// Walk the ordered set from the hand without a search per step: no
	// entry changes while the hand only clears bits.
	ci, i := p.ev.ceilPos(p.hand)
	for {
		if ci == len(p.ev.chunks) {
			ci, i = 0, 0 // wrap to the oldest
		}
		e := p.ev.chunks[ci][i]
		if i++; i == len(p.ev.chunks[ci]) {
			ci, i = ci+1, 0
		}
		if p.visited[e.id] > 0 {
			p.visited[e.id] = 0
			continue
		}
		p.hand = e.key + 1
		if p.l.next[e.id] == nilID {
			p.hand = 0
		}
		return e.id, true
	}
}

// seqset is an ordered set of (key, id) entries with distinct keys, kept as
// sorted chunks (see idset), with idset's hole trick: a deletion leaves the
// stale entry in place (keeping the chunk sorted) and an insertion that
// belongs exactly there overwrites it. A victim's parent, now a leaf, has
// the insertion number just below the victim's.
type seqset struct {
	chunks [][]sent
	n      int
	hole   bool
	hc, hi int
}

type sent struct {
	key uint64
	id  BlockID
}

const seqChunkMax = 128

func (s *seqset) settle() {
	if !s.hole {
		return
	}
	s.hole = false
	s.chunks = chunkRemove(s.chunks, s.hc, s.hi)
}

func (s *seqset) fitsHole(key uint64) bool {
	c := s.chunks[s.hc]
	i := s.hi
	if i > 0 {
		if c[i-1].key >= key {
			return false
		}
	} else if s.hc > 0 {
		p := s.chunks[s.hc-1]
		if p[len(p)-1].key >= key {
			return false
		}
	}
	if i+1 < len(c) {
		return c[i+1].key > key
	}
	if s.hc+1 < len(s.chunks) {
		return s.chunks[s.hc+1][0].key > key
	}
	return true
}

func (s *seqset) find(key uint64) int {
	lo, hi := 0, len(s.chunks)
	for lo < hi {
		m := (lo + hi) / 2
		c := s.chunks[m]
		if c[len(c)-1].key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func ssearch(c []sent, key uint64) int {
	lo, hi := 0, len(c)
	for lo < hi {
		m := (lo + hi) / 2
		if c[m].key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (s *seqset) add(key uint64, id BlockID) {
	if s.hole {
		if s.fitsHole(key) {
			s.hole = false
			s.chunks[s.hc][s.hi] = sent{key, id}
			s.n++
			return
		}
		s.settle()
	}
	ci := s.find(key)
	if ci == len(s.chunks) {
		if ci == 0 || len(s.chunks[ci-1]) == seqChunkMax {
			s.chunks = append(s.chunks, make([]sent, 0, seqChunkMax))
		} else {
			ci--
		}
	}
	s.chunks = chunkInsert(s.chunks, ci, ssearch(s.chunks[ci], key), sent{key, id}, seqChunkMax)
	s.n++
}

// del removes the entry with key (which must be present).
func (s *seqset) del(key uint64) {
	s.settle()
	ci := s.find(key)
	if ci == len(s.chunks) {
		return
	}
	c := s.chunks[ci]
	i := ssearch(c, key)
	if i == len(c) || c[i].key != key {
		return
	}
	s.hole, s.hc, s.hi = true, ci, i
	s.n--
}

// ceilPos returns the position of the entry with the smallest key ≥ key
// (chunk index len(chunks) when there is none), after closing any hole.
func (s *seqset) ceilPos(key uint64) (ci, i int) {
	s.settle()
	ci = s.find(key)
	if ci == len(s.chunks) {
		return ci, 0
	}
	return ci, ssearch(s.chunks[ci], key)
}
