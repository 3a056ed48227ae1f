package route

import (
	"math/bits"

	"github.com/kvscope/kvscope/replay/trace"
)

// recency is one worker's routing recency (see history). Until the
// worker's first trim it is only the log of insertions (one pointer per
// routing, nothing per block); the first trim replays that log into the
// tables below, which routing then keeps up to date: the live insertions in
// insertion order and the latest insertion of every block in the tree. So a
// run whose trees never outgrow their limit pays for no tables.
//
// A live insertion keeps its chain, at first the request's own block slice.
// When a later routing leaves it a quarter or less of the chain (the rest
// taken by later insertions or removed by trims) and the chain is at least
// compactMin long, the blocks still its own are copied into a slice of
// their own (compact):
// positions that are no longer an insertion's never become its again
// (latest only moves to newer insertions), so trims read the same blocks
// in the same order. Without this, the chains held were four times the
// trees' blocks on generated multiturn traces (559 MB of 2.05 GB in use on
// a 1M-request cache_aware run): each conversation's newest turn holds its
// whole chain, of which other conversations' later turns took the shared
// prefix.
type recency struct {
	pending  []chainRef // insertions before the first trim, in order
	tracking bool       // the tables below are built and kept

	latest slotTable   // block id → slot+1 of its latest insertion
	ents   []insertion // slots; free ones are chained through next
	free   uint32      // first free slot+1, 0 if none
	head   uint32      // oldest live insertion's slot+1, 0 if none
	tail   uint32      // newest live insertion's slot+1, 0 if none

	compactMin int32    // shortest chain compacted (compactChain; tests lower it)
	touched    []uint32 // scratch: insertions a record took blocks from
}

// compactChain is recency.compactMin's value: shorter chains are left
// alone, as copying them saves less than the new slice costs.
const compactChain = 32

// insertion is one routing of a request to the worker, live while it is the
// latest insertion of some block in the tree.
type insertion struct {
	// chain is the request's chain, or once compacted the blocks of it
	// still this insertion's when it was compacted, in chain order.
	chain      []trace.BlockID
	leaf       trace.BlockID // the chain's last block, which weighs leafTok
	leafTok    int32
	live       uint32 // blocks in the tree whose latest insertion this is
	cur        int32  // chain positions > cur have been examined by trims
	prev, next uint32 // neighbours in insertion order (slot+1, 0 at the ends)
}

// chainRef is a routed request's chain and its last block's tokens: what
// recency reads of a request. It holds the chain, not the request: a
// streamed run lets an ended request's chain go (sim's window), and the
// log before the first trim reads chains routed long before.
type chainRef struct {
	chain   []trace.BlockID
	leafTok int32
}

// insert records req (a nonempty chain, already in the tree) as the newest
// insertion.
func (rc *recency) insert(req *trace.Request) {
	ref := chainRef{req.Blocks, int32(req.LastBlockTokens)}
	if !rc.tracking {
		rc.pending = append(rc.pending, ref)
		return
	}
	rc.record(ref)
}

// track builds the tables from the log (nothing has left the tree before
// the first trim, so replaying the insertions in order gives the tables
// routing would have kept) and keeps them from then on.
func (rc *recency) track() {
	if rc.tracking {
		return
	}
	rc.tracking = true
	for _, ref := range rc.pending {
		rc.record(ref)
	}
	rc.pending = nil
}

// record makes ref the latest insertion of every block of its chain; those
// left the latest of no block are dropped.
func (rc *recency) record(ref chainRef) {
	e := rc.alloc(ref)
	for _, b := range ref.chain {
		old := rc.latest.swap(b, e)
		if old == e {
			continue // an id repeated within the chain (readers reject it)
		}
		rc.ents[e-1].live++
		if old != 0 {
			rc.ents[old-1].live--
			if rc.ents[old-1].live == 0 {
				rc.drop(old)
			} else if n := len(rc.touched); n == 0 || rc.touched[n-1] != old {
				rc.touched = append(rc.touched, old)
			}
		}
	}
	// Compact after the whole chain is recorded: an older turn of the
	// same conversation loses all its blocks to this one and is dropped,
	// and compacting it on the way (once three quarters were taken) would
	// scan its chain for nothing. Slots are not reused before the loop
	// ends (alloc ran first), so a dropped one reads live 0; one listed
	// twice is more than a quarter its own after the first compaction, so
	// the second look does nothing.
	for _, o := range rc.touched {
		if ent := &rc.ents[o-1]; ent.live > 0 && ent.cur >= rc.compactMin-1 && int64(ent.live)*4 <= int64(ent.cur)+1 {
			rc.compact(o)
		}
	}
	rc.touched = rc.touched[:0]
}

// compact replaces insertion e's chain by the blocks of it that are still
// e's (see recency).
func (rc *recency) compact(e uint32) {
	ent := &rc.ents[e-1]
	kept := make([]trace.BlockID, 0, ent.live)
	for _, b := range ent.chain[:ent.cur+1] {
		if rc.latest.get(b) == e {
			kept = append(kept, b)
		}
	}
	ent.chain, ent.cur = kept, int32(len(kept)-1)
}

// popLeaf removes the least-recently-routed leaf from the table and returns
// its id and its tokens in its latest insertion; ok is false when the tree
// is empty. The oldest live insertion's chain is walked from its end, each
// position once: blocks whose latest insertion it is are leaves (any child
// in the tree would be in a later insertion, which would hold its parent
// too, or deeper in this chain, already removed) and older than every other
// leaf (every older insertion is the latest of no block in the tree).
func (rc *recency) popLeaf(bs int) (b uint32, tok int, ok bool) {
	for rc.head != 0 {
		e := rc.head
		ent := &rc.ents[e-1]
		for ent.live > 0 {
			b = ent.chain[ent.cur]
			ent.cur--
			if rc.latest.get(b) != e {
				continue
			}
			rc.latest.remove(b)
			tok = bs
			if b == ent.leaf {
				tok = int(ent.leafTok)
			}
			ent.live--
			if ent.live == 0 {
				rc.drop(e)
			}
			return b, tok, true
		}
		rc.drop(e) // not reached: live insertions hold blocks
	}
	return 0, 0, false
}

// alloc appends a new insertion of ref at the tail and returns its slot+1.
func (rc *recency) alloc(ref chainRef) uint32 {
	var e uint32
	if rc.free != 0 {
		e = rc.free
		rc.free = rc.ents[e-1].next
	} else {
		rc.ents = append(rc.ents, insertion{})
		e = uint32(len(rc.ents))
	}
	n := len(ref.chain)
	rc.ents[e-1] = insertion{
		chain: ref.chain, leaf: ref.chain[n-1], leafTok: ref.leafTok,
		cur: int32(n - 1), prev: rc.tail,
	}
	if rc.tail != 0 {
		rc.ents[rc.tail-1].next = e
	} else {
		rc.head = e
	}
	rc.tail = e
	return e
}

// drop unlinks insertion e and frees its slot.
func (rc *recency) drop(e uint32) {
	ent := &rc.ents[e-1]
	if ent.prev != 0 {
		rc.ents[ent.prev-1].next = ent.next
	} else {
		rc.head = ent.next
	}
	if ent.next != 0 {
		rc.ents[ent.next-1].prev = ent.prev
	} else {
		rc.tail = ent.prev
	}
	*ent = insertion{next: rc.free}
	rc.free = e
}

// slotTable maps block ids to nonzero uint32 values: open addressing with
// linear probing (a zero value marks an empty slot), at most 3/4 full,
// deletion by backward shift so that no tombstones accumulate.
type slotTable struct {
	s     []slotKV
	n     int
	shift uint8 // 32 − log2(len(s)/8)
}

type slotKV struct{ key, val uint32 }

// home is b's first probe. Ids are hashed in aligned groups of 8 (Fibonacci
// hashing of b/8), b%8 choosing the slot within the group's 8 slots: a
// chain's blocks often have consecutive ids (readers and generators number
// new blocks in order), so a routing's updates then share cache lines.
func (t *slotTable) home(b uint32) uint32 { return (b>>3*0x9e3779b9)>>t.shift<<3 | b&7 }

// get returns b's value, 0 if absent.
func (t *slotTable) get(b uint32) uint32 {
	if t.n == 0 {
		return 0
	}
	mask := uint32(len(t.s) - 1)
	for i := t.home(b); ; i = (i + 1) & mask {
		if e := t.s[i]; e.val == 0 || e.key == b {
			return e.val
		}
	}
}

// swap sets b's value to v (nonzero) and returns its previous value, 0 if
// absent.
func (t *slotTable) swap(b, v uint32) uint32 {
	if 4*(t.n+1) > 3*len(t.s) {
		t.resize()
	}
	mask := uint32(len(t.s) - 1)
	for i := t.home(b); ; i = (i + 1) & mask {
		e := &t.s[i]
		if e.val == 0 {
			*e = slotKV{b, v}
			t.n++
			return 0
		}
		if e.key == b {
			old := e.val
			e.val = v
			return old
		}
	}
}

// remove deletes b, which must be present.
func (t *slotTable) remove(b uint32) {
	mask := uint32(len(t.s) - 1)
	i := t.home(b)
	for t.s[i].key != b || t.s[i].val == 0 {
		i = (i + 1) & mask
	}
	// Move back the entries of the probe run after the hole that may fill
	// it: the one at j may, unless its home lies cyclically in (i, j].
	for j := (i + 1) & mask; t.s[j].val != 0; j = (j + 1) & mask {
		if (j-t.home(t.s[j].key))&mask >= (j-i)&mask {
			t.s[i] = t.s[j]
			i = j
		}
	}
	t.s[i] = slotKV{}
	t.n--
}

func (t *slotTable) resize() {
	old := t.s
	size := max(16, 2*len(old))
	t.s, t.n = make([]slotKV, size), 0
	t.shift = uint8(32 - bits.Len(uint(size/8-1)))
	for _, e := range old {
		if e.val != 0 {
			t.swap(e.key, e.val)
		}
	}
}
