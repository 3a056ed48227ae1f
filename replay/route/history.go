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
// Recency for trimming (recency.go): each worker logs the requests inserted
// into its tree (one pointer per routing; requests must not change while
// the router lives). At its first trim the log is replayed into a table of
// each block's latest insertion (its stamp) and the list of live insertions
// (those that are still some block's latest), which routing keeps up to
// date from then on. Since an insertion holds the whole path from the root,
// a block is never more recently routed than its parent, so the least
// recently routed leaf (smallest stamp) is the deepest block of the oldest
// live insertion among those whose latest insertion it is: a trim removes
// such blocks, walking the oldest live insertion's chain from its end, until
// the tree is within maxSize. Distinct leaves never share a stamp (a stamp
// is one insertion's path, which has one leaf), so no tie rule is needed;
// the removed leaves and their order are those of the rebuild-from-log trim
// this replaced (history_ref_test.go keeps it as the reference). Costs:
// before the first trim, as before (a log append per routing); from then
// on one table update per block of each routed chain, and a trim costs
// time in proportion to the blocks it removes plus those of the insertions
// it retires, each examined once, not to the trace or the tree. Memory per
// tracking worker: 8 bytes per table slot, the table at most 3/4 full (so
// 10.7 to 21.3 bytes per block in its tree at the tree's largest), 48
// bytes per live insertion (at most one per block in the tree) and the
// chains they hold, cut to the blocks still theirs whenever routing leaves
// an insertion a quarter or less of its chain (recency): bounded by
// max_tree_size, not by the trace; the log is gone once tracking starts.
type history struct {
	n, bs  int
	packed bool
	bpb    int // bits per block when packed
	words  int // words per block when not packed
	bits   []uint64
	nb     int // ids < nb have room in bits

	rec  []recency // per worker: latest insertion of each block in its tree
	size []int64   // tokens in each tree

	maxSize int64
	period  time.Duration
	trims   int64   // trim instants processed (instants k·period ≤ last time)
	trimmed []int64 // tokens trimmed per worker, for display and tests

	alive []uint64 // scratch: workers still matching

	onTrim func(w int, b uint32) // tests: called for every trimmed block, in order
}

func newHistory(env Env, maxSize int64, period time.Duration) *history {
	n := env.Workers
	h := &history{
		n: n, bs: env.BlockSize,
		rec:     make([]recency, n),
		size:    make([]int64, n),
		trimmed: make([]int64, n),
		maxSize: maxSize, period: period,
	}
	for w := range h.rec {
		h.rec[w].compactMin = compactChain
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
	h.addChain(w, req)
	h.rec[w].insert(req)
}

// addChain sets req's blocks in worker w's tree and counts the tokens of
// those that were not there (each weighing its tokens in req).
func (h *history) addChain(w int, req *trace.Request) {
	for i, b := range req.Blocks {
		h.grow(b)
		if h.set(w, b, true) {
			h.size[w] += int64(req.BlockTokens(i, h.bs))
		}
	}
}

// advance runs the trims of every instant k·period ≤ now not yet run.
// Several pending instants collapse into one trim: nothing is inserted
// between them, and a trim of a tree within maxSize does nothing.
func (h *history) advance(now time.Duration) {
	if !h.due(now) {
		return
	}
	for w := range h.n {
		if h.size[w] > h.maxSize {
			h.trim(w)
		}
	}
}

// due reports whether some trim instant ≤ now has not run yet, and counts
// them as run.
func (h *history) due(now time.Duration) bool {
	k := int64(now / h.period)
	if k <= h.trims {
		return false
	}
	h.trims = k
	return true
}

// trim removes worker w's least-recently-routed leaves until its tree holds
// at most maxSize tokens (or is empty). A block weighs its tokens in its
// latest insertion (a partial last block may weigh less elsewhere).
func (h *history) trim(w int) {
	rc := &h.rec[w]
	rc.track()
	for h.size[w] > h.maxSize {
		b, tok, ok := rc.popLeaf(h.bs)
		if !ok {
			return
		}
		h.set(w, b, false)
		h.size[w] -= int64(tok)
		h.trimmed[w] += int64(tok)
		if h.onTrim != nil {
			h.onTrim(w, b)
		}
	}
}

// live names every block id in some worker's tree (a bit set). That is all
// the history holds of block ids, so an id it does not name may be reused
// for another block (trace.Table.Sweep) and reads as never routed:
//   - its bits are zero for every worker (it is in no tree), and trims and
//     matches read nothing else per id;
//   - a tracking worker's recency table (recency.latest) holds exactly the
//     blocks of its tree: insert sets the bits and then records every block
//     of the chain, and a trim removes a block from both;
//   - the insertions' chains (and, before a worker's first trim, its log of
//     pending insertions) are the requests' own slices, not copies, and may name
//     ids no longer in the tree. Before the first trim nothing has left a
//     worker's tree (trim alone clears bits), so every id of its pending
//     log is in its tree and named. After it, a trim reads an insertion's
//     block only when the block's latest insertion is that one
//     (recency.popLeaf), which holds for no id outside the tree, and a
//     reused id's latest insertion is a later one (the one that routed it
//     anew), never the stale one.
func (h *history) live(keep func(trace.BlockID)) {
	if h.packed {
		for i, wd := range h.bits {
			for wd != 0 {
				j := bits.TrailingZeros64(wd)
				s := j / h.bpb * h.bpb
				keep(trace.BlockID((i*64 + s) / h.bpb))
				if h.bpb == 64 {
					break
				}
				wd &^= (1<<h.bpb - 1) << s
			}
		}
		return
	}
	for b := range h.nb {
		for _, wd := range h.bits[b*h.words : b*h.words+h.words] {
			if wd != 0 {
				keep(trace.BlockID(b))
				break
			}
		}
	}
}
