package route

import (
	"math/bits"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// The sglang preset's trimming, which lbgr's, llmd's and dynamo's
// (precise=false) routing-history trees follow (SPEC §7).
const (
	sglangMaxTreeSize   = 1 << 26
	sglangEvictInterval = 120 * time.Second
)

const noParent = ^uint32(0)

// history is a set of routing-history trees, one per worker, over the
// trace's dense block ids, weighted in tokens: what a router remembers of
// where it sent which prefixes. It never sees worker evictions; it is
// trimmed by least-recently-routed leaves to maxSize tokens at every
// instant k·period (k ≥ 1).
//
// Layout, chosen so that one routing costs one pass over the request's
// matched prefix for all workers at once, no allocation, and about one byte
// per block id for 8 workers: since an id names a block together with its
// whole prefix (SPEC §1), a worker's tree is the set of ids it holds, kept as
// a bit per (block, worker). For up to 64 workers each block gets the next
// power of two ≥ workers bits, packed into words; beyond that, ⌈workers/64⌉
// whole words. Matching walks the chain once, and-ing the workers' bits; a
// worker drops out at its first missing block.
//
// Recency for trimming is not stored per block: each worker keeps the log of
// requests inserted into its tree (one pointer per routing; the requests
// must not change while the router lives). A trim rebuilds, from the log,
// each present block's latest insertion (its stamp), parent and weight, so
// ancestors are never older than descendants and least-recently-routed
// leaves go first; then it drops log entries that are no longer the latest
// insertion of any present block. A trim costs time in proportion to the
// worker's log (not to the trace) and, from the first trim on, 16 bytes of
// scratch per block id; trims only run when a tree is over maxSize, which
// the default sizes (2^24 to 2^26 tokens) make rare.
type history struct {
	n, bs  int
	packed bool
	bpb    int // bits per block when packed
	words  int // words per block when not packed
	bits   []uint64
	nb     int // ids < nb have room in bits

	log  [][]*trace.Request // per worker, in insertion order
	size []int64            // tokens in each tree

	maxSize int64
	period  time.Duration
	trims   int64   // trim instants processed (instants k·period ≤ last time)
	trimmed []int64 // tokens trimmed per worker, for display and tests

	alive []uint64 // scratch: workers still matching
	sc    *trimScratch
}

func newHistory(env Env, maxSize int64, period time.Duration) *history {
	n := env.Workers
	h := &history{
		n: n, bs: env.BlockSize,
		log:     make([][]*trace.Request, n),
		size:    make([]int64, n),
		trimmed: make([]int64, n),
		maxSize: maxSize, period: period,
	}
	if n <= 64 {
		h.packed = true
		h.bpb = 1
		for h.bpb < n {
			h.bpb *= 2
		}
		h.alive = make([]uint64, 1)
	} else {
		h.words = (n + 63) / 64
		h.alive = make([]uint64, h.words)
	}
	if env.Blocks > 0 {
		h.grow(uint32(env.Blocks - 1))
	}
	return h
}

// grow makes room for block id b.
func (h *history) grow(b uint32) {
	if int(b) < h.nb {
		return
	}
	need := int(b) + 1
	if h.packed {
		words := (need*h.bpb + 63) / 64
		h.bits = append(h.bits, make([]uint64, words-len(h.bits))...)
		h.bits = h.bits[:cap(h.bits)]
		h.nb = len(h.bits) * 64 / h.bpb
	} else {
		h.bits = append(h.bits, make([]uint64, need*h.words-len(h.bits))...)
		h.bits = h.bits[:cap(h.bits)/h.words*h.words]
		h.nb = len(h.bits) / h.words
	}
}

// mask returns block b's worker bits (packed layout, b < nb).
func (h *history) mask(b uint32) uint64 {
	i := int(b) * h.bpb
	m := h.bits[i>>6] >> (i & 63)
	if h.bpb < 64 {
		m &= 1<<h.bpb - 1
	}
	return m
}

func (h *history) has(w int, b uint32) bool {
	if int(b) >= h.nb {
		return false
	}
	if h.packed {
		return h.mask(b)>>w&1 != 0
	}
	return h.bits[int(b)*h.words+w>>6]>>(w&63)&1 != 0
}

// set adds (on) or removes block b from worker w's tree, b < nb; it
// reports whether the bit changed.
func (h *history) set(w int, b uint32, on bool) bool {
	var i int
	var bit uint64
	if h.packed {
		j := int(b)*h.bpb + w
		i, bit = j>>6, 1<<(j&63)
	} else {
		i, bit = int(b)*h.words+w>>6, 1<<(w&63)
	}
	old := h.bits[i]
	if on {
		h.bits[i] |= bit
	} else {
		h.bits[i] &^= bit
	}
	return old != h.bits[i]
}

// match fills tok[w] and blk[w] with the tokens and blocks of req's longest
// prefix held in worker w's tree, for every worker, in one walk.
func (h *history) match(req *trace.Request, tok []float64, blk []int) {
	cum, pos := 0, 0
	if h.packed {
		alive := ^uint64(0) >> (64 - h.n)
		for i, b := range req.Blocks {
			pos = i
			m := uint64(0)
			if int(b) < h.nb {
				m = h.mask(b)
			}
			for dead := alive &^ m; dead != 0; dead &= dead - 1 {
				w := bits.TrailingZeros64(dead)
				tok[w], blk[w] = float64(cum), i
			}
			if alive &= m; alive == 0 {
				return
			}
			cum += req.BlockTokens(i, h.bs)
			pos = i + 1
		}
		for ; alive != 0; alive &= alive - 1 {
			w := bits.TrailingZeros64(alive)
			tok[w], blk[w] = float64(cum), pos
		}
		return
	}
	for k := range h.alive {
		h.alive[k] = ^uint64(0)
	}
	if r := h.n & 63; r != 0 {
		h.alive[h.words-1] = 1<<r - 1
	}
	for i, b := range req.Blocks {
		pos = i
		var m []uint64
		if int(b) < h.nb {
			m = h.bits[int(b)*h.words : int(b)*h.words+h.words]
		}
		any := uint64(0)
		for k := range h.alive {
			mk := uint64(0)
			if m != nil {
				mk = m[k]
			}
			for dead := h.alive[k] &^ mk; dead != 0; dead &= dead - 1 {
				w := k<<6 + bits.TrailingZeros64(dead)
				tok[w], blk[w] = float64(cum), i
			}
			h.alive[k] &= mk
			any |= h.alive[k]
		}
		if any == 0 {
			return
		}
		cum += req.BlockTokens(i, h.bs)
		pos = i + 1
	}
	for k := range h.alive {
		for a := h.alive[k]; a != 0; a &= a - 1 {
			w := k<<6 + bits.TrailingZeros64(a)
			tok[w], blk[w] = float64(cum), pos
		}
	}
}

// insert adds req's chain to worker w's tree as the most recently routed.
func (h *history) insert(w int, req *trace.Request) {
	if len(req.Blocks) == 0 {
		return
	}
	for i, b := range req.Blocks {
		h.grow(b)
		if h.set(w, b, true) {
			h.size[w] += int64(req.BlockTokens(i, h.bs))
		}
	}
	h.log[w] = append(h.log[w], req)
}

// advance runs the trims of every instant k·period ≤ now not yet run.
// Several pending instants collapse into one trim: nothing is inserted
// between them, and a trim of a tree within maxSize does nothing.
func (h *history) advance(now time.Duration) {
	k := int64(now / h.period)
	if k <= h.trims {
		return
	}
	h.trims = k
	for w := range h.n {
		if h.size[w] > h.maxSize {
			h.trim(w)
		}
	}
}

// trimScratch is per-block working memory for trims, allocated at the first
// trim (16 bytes per block id) and kept zeroed between trims, so that a trim
// costs time in proportion to the worker's log, not to the trace.
type trimScratch struct {
	stamp, parent, weight, kids []uint32
	list                        []uint32
	heap                        []uint64
}

func (h *history) scratch() *trimScratch {
	if h.sc == nil {
		h.sc = &trimScratch{}
	}
	sc := h.sc
	if n := h.nb - len(sc.stamp); n > 0 {
		sc.stamp = append(sc.stamp, make([]uint32, n)...)
		sc.parent = append(sc.parent, make([]uint32, n)...)
		sc.weight = append(sc.weight, make([]uint32, n)...)
		sc.kids = append(sc.kids, make([]uint32, n)...)
	}
	return sc
}

// trim removes worker w's least-recently-routed leaves (smallest stamp,
// then smallest id; distinct leaves never share a stamp, since a stamp is
// one insertion's path, which has one leaf) until its tree holds at most
// maxSize tokens.
func (h *history) trim(w int) {
	log := h.log[w]
	sc := h.scratch()
	stamp, parent, weight, kids := sc.stamp, sc.parent, sc.weight, sc.kids
	// Rebuild stamp (log position + 1), parent and weight of present blocks.
	list := sc.list[:0]
	for pos, r := range log {
		par := noParent
		for i, b := range r.Blocks {
			if h.has(w, b) {
				if stamp[b] == 0 {
					list = append(list, b)
				}
				stamp[b] = uint32(pos + 1)
				parent[b] = par
				weight[b] = uint32(r.BlockTokens(i, h.bs))
			}
			par = b
		}
	}
	for _, b := range list {
		if p := parent[b]; p != noParent && stamp[p] != 0 {
			kids[p]++
		}
	}
	hp := sc.heap[:0]
	for _, b := range list {
		if kids[b] == 0 {
			hp = append(hp, uint64(stamp[b])<<32|uint64(b))
		}
	}
	heapInit(hp)
	for h.size[w] > h.maxSize && len(hp) > 0 {
		var top uint64
		top, hp = heapPop(hp)
		b := uint32(top)
		h.set(w, b, false)
		h.size[w] -= int64(weight[b])
		h.trimmed[w] += int64(weight[b])
		stamp[b] = 0
		if p := parent[b]; p != noParent && stamp[p] != 0 {
			if kids[p]--; kids[p] == 0 {
				hp = heapPush(hp, uint64(stamp[p])<<32|uint64(p))
			}
		}
	}
	// Keep only the log entries that are still some present block's latest
	// insertion: they alone decide later trims.
	kept := log[:0]
	for pos, r := range log {
		for _, b := range r.Blocks {
			if stamp[b] == uint32(pos+1) {
				kept = append(kept, r)
				break
			}
		}
	}
	clear(log[len(kept):])
	h.log[w] = kept
	for _, b := range list {
		stamp[b], kids[b] = 0, 0
	}
	sc.list, sc.heap = list[:0], hp[:0]
}

// A minimal binary min-heap on uint64 keys (container/heap would box).
func heapInit(h []uint64) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
}

func siftDown(h []uint64, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r] < h[l] {
			m = r
		}
		if h[i] <= h[m] {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func heapPop(h []uint64) (uint64, []uint64) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	siftDown(h, 0)
	return top, h
}

func heapPush(h []uint64, v uint64) []uint64 {
	h = append(h, v)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}
