package evict

import "github.com/kvscope/kvscope/replay/kvcache"

// BlockID is a dense block id.
type BlockID = kvcache.BlockID

// tie orders equal primary keys: the deeper block first, then the smaller
// (dense, first-appearance) id.
func tie(c *kvcache.Cache, b BlockID) uint64 {
	return uint64(^c.Depth(b))<<32 | uint64(b)
}

// keyHeap is a min-heap of block ids keyed by (a, b, c), with positions per
// id so entries can be removed or rekeyed in O(log n).
//
// Removing the minimum is lazy: the root becomes a hole that the next push
// fills (one sift-down instead of a removal and an insertion). Leaf
// policies hit this pattern on every eviction step: the victim leaves, and
// its parent, now a leaf, arrives.
type keyHeap struct {
	e    []hent
	pos  []int32 // index+1 in e; 0 = absent
	hole bool    // e[0] is stale
}

// settle removes a pending hole at the root.
func (h *keyHeap) settle() {
	if !h.hole {
		return
	}
	h.hole = false
	n := len(h.e) - 1
	if n > 0 {
		h.e[0] = h.e[n]
		h.pos[h.e[0].id] = 1
	}
	h.e = h.e[:n]
	if n > 1 {
		h.down(0)
	}
}

type hent struct {
	a, b, c uint64
	id      BlockID
}

func (h *keyHeap) less(i, j int) bool {
	x, y := &h.e[i], &h.e[j]
	if x.a != y.a {
		return x.a < y.a
	}
	if x.b != y.b {
		return x.b < y.b
	}
	return x.c < y.c
}

func (h *keyHeap) swap(i, j int) {
	h.e[i], h.e[j] = h.e[j], h.e[i]
	h.pos[h.e[i].id] = int32(i + 1)
	h.pos[h.e[j].id] = int32(j + 1)
}

func (h *keyHeap) has(id BlockID) bool { return int(id) < len(h.pos) && h.pos[id] != 0 }
func (h *keyHeap) len() int {
	if h.hole {
		return len(h.e) - 1
	}
	return len(h.e)
}

func (h *keyHeap) push(id BlockID, a, b, c uint64) {
	if int(id) >= len(h.pos) {
		h.pos = grow(h.pos, int(id)+1)
	}
	if h.pos[id] != 0 {
		h.rekey(id, a, b, c)
		return
	}
	if h.hole {
		h.hole = false
		h.e[0] = hent{a, b, c, id}
		h.pos[id] = 1
		h.down(0)
		return
	}
	h.e = append(h.e, hent{a, b, c, id})
	i := len(h.e) - 1
	h.pos[id] = int32(i + 1)
	h.up(i)
}

func (h *keyHeap) rekey(id BlockID, a, b, c uint64) {
	h.settle()
	i := int(h.pos[id]) - 1
	h.e[i].a, h.e[i].b, h.e[i].c = a, b, c
	if !h.down(i) {
		h.up(i)
	}
}

func (h *keyHeap) remove(id BlockID) {
	if !h.has(id) {
		return
	}
	i := int(h.pos[id]) - 1
	if i == 0 && !h.hole {
		h.hole = true
		h.pos[id] = 0
		return
	}
	h.settle()
	i = int(h.pos[id]) - 1
	n := len(h.e) - 1
	if i != n {
		h.swap(i, n)
	}
	h.pos[id] = 0
	h.e = h.e[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h *keyHeap) min() (BlockID, bool) {
	h.settle()
	if len(h.e) == 0 {
		return 0, false
	}
	return h.e[0].id, true
}

func (h *keyHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *keyHeap) down(i int) bool {
	start := i
	n := len(h.e)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

// idset is a set of block ids (the cache's numbering) kept in the order of
// a key given with each member, with the k-th member at hand, so uniform
// draws "in id order" are reproducible and match SPEC §5's scripted
// example. The key is the block's trace id, Cache.TraceID: the id itself,
// or under kvcache.Config.LocalSlots the trace id the slot holds now, so a
// draw picks the same block in either numbering (kvcache's doc, "Local
// slots"). A member is stored as key<<32 | id: keys of present blocks are
// distinct, so this sorts by key, and kth returns the id without asking
// the cache. It is a list of sorted chunks of at most chunkMax entries:
// insert and delete cost a binary search and a short copy, select a walk
// over chunk lengths. Sets of unpinned leaves are small next to the id
// space, so this beats a Fenwick tree over all ids (whose every operation
// walks a structure as large as the trace).
//
// Membership is a flag per id. A deletion leaves a hole (the stale entry
// stays in place, which keeps the chunk sorted); an insertion whose place
// is the hole fills it without copying. Leaf policies hit this on every
// eviction step: the victim leaves C and its parent, usually the id just
// before it, joins.
type idset struct {
	chunks [][]uint64 // key<<32 | id, sorted
	n      int
	member []bool
	hole   bool
	hc, hi int // the hole's chunk and index
	// The position kth last returned, valid until the chunks change: the
	// draw's victim is deleted next without a search.
	kc, ki int
	ke     uint64
	kok    bool
}

// keyed is id's entry in an idset under key.
func keyed(id, key BlockID) uint64 { return uint64(key)<<32 | uint64(id) }

// settle closes a pending hole.
func (s *idset) settle() {
	if !s.hole {
		return
	}
	s.hole = false
	s.kok = false
	s.chunks = chunkRemove(s.chunks, s.hc, s.hi)
}

// chunkRemove removes element i of chunk ci from a chunked sorted set,
// dropping the chunk when it empties (idset and seqset share it).
func chunkRemove[E any](chunks [][]E, ci, i int) [][]E {
	c := chunks[ci]
	copy(c[i:], c[i+1:])
	c = c[:len(c)-1]
	if len(c) > 0 {
		chunks[ci] = c
		return chunks
	}
	copy(chunks[ci:], chunks[ci+1:])
	chunks[len(chunks)-1] = nil
	return chunks[:len(chunks)-1]
}

// chunkInsert puts e at index i of chunk ci of a chunked sorted set whose
// chunks hold at most limit elements, splitting a full chunk in halves first
// (idset and seqset share it).
func chunkInsert[E any](chunks [][]E, ci, i int, e E, limit int) [][]E {
	c := chunks[ci]
	if len(c) == limit {
		half := make([]E, limit/2, limit)
		copy(half, c[limit/2:])
		c = c[:limit/2]
		chunks[ci] = c
		chunks = append(chunks, nil)
		copy(chunks[ci+2:], chunks[ci+1:])
		chunks[ci+1] = half
		if i > len(c) {
			ci, c, i = ci+1, half, i-len(c)
		}
	}
	var zero E
	c = append(c, zero)
	copy(c[i+1:], c[i:])
	c[i] = e
	chunks[ci] = c
	return chunks
}

// fitsHole reports whether entry e belongs exactly at the hole.
func (s *idset) fitsHole(e uint64) bool {
	c := s.chunks[s.hc]
	i := s.hi
	if i > 0 {
		if c[i-1] >= e {
			return false
		}
	} else if s.hc > 0 {
		p := s.chunks[s.hc-1]
		if p[len(p)-1] >= e {
			return false
		}
	}
	if i+1 < len(c) {
		return c[i+1] > e
	}
	if s.hc+1 < len(s.chunks) {
		return s.chunks[s.hc+1][0] > e
	}
	return true
}

const chunkMax = 256

// find returns the chunk that holds entry e or would hold it.
func (s *idset) find(e uint64) int {
	lo, hi := 0, len(s.chunks)
	for lo < hi {
		m := (lo + hi) / 2
		c := s.chunks[m]
		if c[len(c)-1] < e {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(s.chunks) && lo > 0 {
		lo--
	}
	return lo
}

func search(c []uint64, e uint64) int {
	lo, hi := 0, len(c)
	for lo < hi {
		m := (lo + hi) / 2
		if c[m] < e {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (s *idset) has(id BlockID) bool { return int(id) < len(s.member) && s.member[id] }

// add inserts id with order key key; false if id was already there.
func (s *idset) add(id, key BlockID) bool {
	if s.has(id) {
		return false
	}
	s.member = grow(s.member, int(id)+1)
	s.member[id] = true
	s.kok = false
	e := keyed(id, key)
	if s.hole {
		if s.fitsHole(e) {
			s.hole = false
			s.chunks[s.hc][s.hi] = e
			s.n++
			return true
		}
		s.settle()
	}
	if len(s.chunks) == 0 {
		c := make([]uint64, 1, chunkMax)
		c[0] = e
		s.chunks = append(s.chunks, c)
		s.n = 1
		return true
	}
	ci := s.find(e)
	s.chunks = chunkInsert(s.chunks, ci, search(s.chunks[ci], e), e, chunkMax)
	s.n++
	return true
}

// del removes id, added with order key key; false if it was not there.
func (s *idset) del(id, key BlockID) bool {
	if !s.has(id) {
		return false
	}
	s.member[id] = false
	e := keyed(id, key)
	var ci, i int
	if s.kok && s.ke == e && !s.hole {
		ci, i = s.kc, s.ki
	} else {
		s.settle()
		ci = s.find(e)
		i = search(s.chunks[ci], e)
	}
	s.kok = false
	s.hole, s.hc, s.hi = true, ci, i
	s.n--
	return true
}

// kth returns the id of the member with the k-th smallest key, k in [0, n).
func (s *idset) kth(k int) BlockID {
	s.settle()
	for ci, c := range s.chunks {
		if k < len(c) {
			s.kc, s.ki, s.ke, s.kok = ci, k, c[k], true
			return BlockID(c[k])
		}
		k -= len(c)
	}
	panic("evict: idset.kth out of range")
}

// grow extends a per-block slice to hold index n-1, doubling capacity.
func grow[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		return s[:n]
	}
	nc := 2 * cap(s)
	if nc < n {
		nc = n
	}
	if nc < 64 {
		nc = 64
	}
	ns := make([]T, n, nc)
	copy(ns, s)
	return ns
}

// dlist is an intrusive doubly linked list over block ids (oldest at head)
// with a queue tag per id, for the FIFO-style policies.
type dlist struct {
	prev, next []BlockID
	q          []uint8 // 0 = in no list; otherwise the list's tag
}

const nilID = kvcache.NoBlock

type queue struct {
	head, tail BlockID // head = oldest
	n          int
	w          int64
	tag        uint8
}

func newQueue(tag uint8) queue { return queue{head: nilID, tail: nilID, tag: tag} }

func (d *dlist) ensure(id BlockID) {
	n := int(id) + 1
	if n > len(d.prev) {
		d.prev = grow(d.prev, n)
		d.next = grow(d.next, n)
		d.q = grow(d.q, n)
	}
}

// pushNewest appends id at q's tail (newest).
func (d *dlist) pushNewest(q *queue, id BlockID, w int64) {
	d.ensure(id)
	d.prev[id], d.next[id] = q.tail, nilID
	if q.tail != nilID {
		d.next[q.tail] = id
	} else {
		q.head = id
	}
	q.tail = id
	q.n++
	q.w += w
	d.q[id] = q.tag
}

func (d *dlist) unlink(q *queue, id BlockID, w int64) {
	p, n := d.prev[id], d.next[id]
	if p != nilID {
		d.next[p] = n
	} else {
		q.head = n
	}
	if n != nilID {
		d.prev[n] = p
	} else {
		q.tail = p
	}
	q.n--
	q.w -= w
	d.q[id] = 0
}
