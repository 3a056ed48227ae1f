package trace

import (
	"fmt"
	"math/bits"
	"slices"
)

// rootParent marks a block whose parent is the tree's root.
const rootParent = ^uint32(0)

// maxBlocks is the most unique blocks one table holds (dense ids are uint32
// and rootParent is reserved).
const maxBlocks = int(rootParent) - 1

// Table interns a trace's block ids into dense BlockIDs and enforces SPEC
// §1's rule that an id never appears under two different parents.
//
// Ids within up to four times the number of dense ids above the window's
// base (the common case: Mooncake, Azure and generated traces number blocks
// from 0) are looked up in a flat slice, 4 bytes per slot; other ids
// (hashes) go to a map. Memory per unique block: the parent (4 bytes), the
// lookup (about 4–16 bytes flat, or 20–40 bytes in the map) and, when
// keepOrig is set, the original id (8 bytes). Statistics over a streamed
// trace therefore cost well under 64 bytes per unique block and nothing per
// request.
//
// # Bounded id space (SetLimit, Full, Sweep)
//
// By default (no limit) a table is exact: every id ever seen keeps its dense
// id, and the one-parent rule is checked against the whole trace. A consumer
// that streams a trace longer than memory sets a limit: once the number of
// live dense ids reaches it, Full reports true and the consumer calls Sweep
// between requests, naming through keep every dense id it still holds (each
// cache's present blocks, a policy's remembered absent blocks, requests in
// flight). The table keeps those ids and their ancestors (a kept block's
// chain must still resolve, and a remembered id must find its old parent
// when it comes back), forgets every other id (original-id lookup, parent,
// original id), and hands the freed dense ids out again, smallest first,
// to later Intern calls. So:
//
//   - every dense id stays below the highest number of ids live at once,
//     which is about the limit: holders can size dense arrays by it;
//   - an original id that was forgotten comes back as a new block with a
//     new dense id (a cold miss for every holder, which held nothing for
//     it), and the one-parent rule is checked only against ids still live:
//     an id forgotten and seen again under another parent is not an error;
//   - a recycled dense id names a different block than before: holders
//     must keep no state for an id they did not name to keep (kvcache and
//     the eviction policies reset a block's state when it is inserted);
//   - dense ids are no longer in first-appearance order once recycled, so
//     whatever breaks ties by dense id may break them differently than a run
//     with an exact table (Recycled says whether that can have happened).
//
// The limit is soft: Intern never fails because of it (a request in progress
// is interned whole), and a sweep that leaves more than half the limit live
// doubles the limit to twice the live count, so each sweep (linear in the
// table's size) frees at least half of what it scans and its cost is
// amortised over the ids it frees.
//
// Tables that hold requests by their leaf (the --sort buffer and
// kv-cache-tester input, held.go) must not recycle: Stream.Holds says so.
type Table struct {
	direct  []uint32 // id-base → dense+1 for ids near base; 0 = absent
	base    uint64   // first id of direct: 0 until a sweep slides it up
	maxID   uint64   // largest id stored
	ids     map[uint64]BlockID
	parents []uint32
	orig    []uint64
	keep    bool
	// ns is added to ids on the way in: kv-cache-tester's per-file scope
	// (see setScope).
	ns uint64

	limit int // live ids that make the table Full; 0 = exact
	// mark is Sweep's bitset of the ids it kept. Between sweeps a clear
	// bit below the sweep's Len is a free dense id: they are handed out
	// smallest first, from the cursor fcur on, setting their bit; nfree
	// counts those left. (A list of the free ids took 4 bytes each: 264 MB
	// at the largest of a 10M-request cache_aware run.)
	mark   []uint64
	fcur   int
	nfree  int
	added  []added // what the last Intern created, for rollback
	sweeps int
	reused int64
	// onForget hears of every id a sweep forgets (SetOnForget).
	onForget func(d BlockID, orig uint64)
	// onNew hears of the ids a taken request created (SetOnNew, Accept).
	onNew func(d BlockID, orig uint64) bool
}

// SetOnForget makes every later Sweep call f for each dense id it forgets,
// with the original id it named (the table finds it in its id index, so
// keepOrig is not needed), in no particular order, before the dense id can
// be handed out again: what a consumer keeping its own per-id state (the
// max_load bound's seen set) needs to move that state elsewhere. Ids a
// previous sweep freed and nobody took are not told again.
func (t *Table) SetOnForget(f func(d BlockID, orig uint64)) { t.onForget = f }

// SetOnNew makes every later Accept call f for each dense id the last
// Intern call created, in chain order, with its original id, until f
// returns false (it wants no more of that call's ids). A consumer that
// moved per-id state out by original id when a sweep forgot the id
// (SetOnForget: the max_load bound's filter of forgotten ids) finds it
// again this way when the id comes back under a new dense id, without the
// table recording original ids (keepOrig, 8 bytes per dense id).
func (t *Table) SetOnNew(f func(d BlockID, orig uint64) bool) { t.onNew = f }

// Accept says the request the last Intern call interned is taken: it will
// not be rolled back, and SetOnNew's function hears of the ids that call
// created. Streams call it for every request they hand out; a table
// without SetOnNew's function needs no call.
func (t *Table) Accept() {
	if t.onNew == nil {
		return
	}
	for _, a := range t.added {
		if !t.onNew(a.d, a.key+t.ns) {
			return
		}
	}
}

// added is one dense id an Intern call created.
type added struct {
	key    uint64 // the id as looked up (without the scope)
	d      BlockID
	reused bool // a freed dense id taken again (else appended)
}

// NewTable returns an empty table. keepOrig records dense → original ids so
// writers can emit the trace's own ids.
func NewTable(keepOrig bool) *Table {
	return &Table{ids: make(map[uint64]BlockID), keep: keepOrig}
}

// Len bounds the dense ids: every BlockID the table gave is below it. For a
// table that never recycled (no limit, or none reached) it is the number of
// unique blocks seen.
func (t *Table) Len() int { return len(t.parents) }

// Live is the number of dense ids in use: Len less the ids freed by the
// last sweep and not yet handed out again.
func (t *Table) Live() int { return len(t.parents) - t.nfree }

// SetLimit sets the number of live ids at which the table is Full; n ≤ 0
// turns recycling off (the default: exact). See the type's doc.
func (t *Table) SetLimit(n int) { t.limit = max(n, 0) }

// Limit is the current limit (0 = none); Sweep may have raised it.
func (t *Table) Limit() int { return t.limit }

// Full reports whether a limit is set and the live ids have reached it: the
// consumer should Sweep before reading on.
func (t *Table) Full() bool { return t.limit > 0 && t.Live() >= t.limit }

// Sweeps is the number of sweeps so far; Recycled the number of dense ids
// handed out again after one (0: every dense id still names the block it
// was first given to, and results equal those of an exact table).
func (t *Table) Sweeps() int     { return t.sweeps }
func (t *Table) Recycled() int64 { return t.reused }

// Sweep keeps the dense ids that mark names through keep, with their
// ancestors, and forgets every other id; it returns how many dense ids are
// free afterwards. mark must name every id any holder still uses (ids at or
// past Len are ignored). If more than half the limit stays live, the limit
// becomes twice the live count. Sweep works without a limit too (it then
// only frees). See the type's doc for what a sweep changes.
func (t *Table) Sweep(mark func(keep func(BlockID))) int {
	n := len(t.parents)
	words := (n + 63) / 64
	if cap(t.mark) < words {
		t.mark = make([]uint64, words)
	}
	m := t.mark[:words]
	clear(m)
	has := func(b BlockID) bool { return m[b>>6]&(1<<(b&63)) != 0 }
	mark(func(b BlockID) {
		if int(b) < n {
			m[b>>6] |= 1 << (b & 63)
		}
	})
	// Ancestors of kept ids are kept: walk up from each until a kept one.
	for d := range n {
		if !has(BlockID(d)) {
			continue
		}
		for p := t.parents[d]; p != rootParent && !has(p); p = t.parents[p] {
			m[p>>6] |= 1 << (p & 63)
		}
	}
	// Every dense id in use has one entry, in the window or the map,
	// keyed by its original id: what onForget is told.
	for i, d1 := range t.direct {
		if d1 != 0 && !has(d1-1) {
			if t.onForget != nil {
				t.onForget(d1-1, t.base+uint64(i)+t.ns)
			}
			t.direct[i] = 0
		}
	}
	// The map is rebuilt rather than deleted from: a Go map keeps the
	// slots of deleted entries as tombstones that lookups of absent ids
	// probe past, and a streamed run's sweeps delete millions (before
	// this, on 1M requests under cache_aware, 24% of the CPU was map
	// probing in Intern).
	kept := 0
	for _, d := range t.ids {
		if has(d) {
			kept++
		}
	}
	ids := make(map[uint64]BlockID, kept)
	for id, d := range t.ids {
		if has(d) {
			ids[id] = d
		} else if t.onForget != nil {
			t.onForget(d, id+t.ns)
		}
	}
	t.ids = ids
	t.slide()
	t.fcur, t.nfree = 0, 0
	for d := range n {
		if !has(BlockID(d)) {
			t.nfree++
			t.parents[d] = rootParent
			if t.keep {
				t.orig[d] = 0
			}
		}
	}
	t.sweeps++
	t.added = t.added[:0]
	if live := n - t.nfree; t.limit > 0 && 2*live > t.limit {
		t.limit = 2 * live
	}
	return t.nfree
}

// takeFree hands out the smallest free dense id (nfree > 0).
func (t *Table) takeFree() BlockID {
	i := t.fcur >> 6
	w := ^t.mark[i] &^ (1<<(t.fcur&63) - 1)
	for w == 0 {
		i++
		w = ^t.mark[i]
	}
	d := i<<6 | bits.TrailingZeros64(w)
	t.mark[i] |= 1 << (d & 63)
	t.fcur = d + 1
	t.nfree--
	return BlockID(d)
}

// giveBack frees dense id d again (a rolled-back takeFree; the ids of one
// Intern call are given back newest first, so the cursor returns to the
// first).
func (t *Table) giveBack(d BlockID) {
	t.mark[d>>6] &^= 1 << (d & 63)
	t.fcur = min(t.fcur, int(d))
	t.nfree++
}

// KeepsOrig reports whether the table records original ids.
func (t *Table) KeepsOrig() bool { return t.keep }

// Orig returns the original id of a dense block id (for kv-cache-tester
// traces, the namespaced id rank<<32 | local id). Without keepOrig it scans
// the lookup structures (meant for error messages only) and returns the dense
// id itself when the block's scope has been dropped.
func (t *Table) Orig(b BlockID) uint64 {
	if t.keep {
		return t.orig[b]
	}
	for i, d := range t.direct {
		if d == b+1 {
			return t.base + uint64(i) + t.ns
		}
	}
	for id, d := range t.ids {
		if d == b {
			return id + t.ns
		}
	}
	return uint64(b)
}

// OrigFunc returns Orig when the table records original ids, else nil (a
// scan per call is for error messages, not for hot paths); nil for a nil
// table.
func (t *Table) OrigFunc() func(BlockID) uint64 {
	if t == nil || !t.keep {
		return nil
	}
	return t.Orig
}

// Parent returns the dense parent of b and whether b has one.
func (t *Table) Parent(b BlockID) (BlockID, bool) {
	p := t.parents[b]
	return p, p != rootParent
}

// Depth returns the number of blocks on the path from the root to b,
// b included.
func (t *Table) Depth(b BlockID) int {
	n := 1
	for p := t.parents[b]; p != rootParent; p = t.parents[p] {
		n++
	}
	return n
}

// Chain appends the root-to-leaf chain ending at leaf (n blocks) to dst.
// Because of the one-parent rule a chain is determined by its leaf, which is
// how buffered readers hold requests in a few words each.
func (t *Table) Chain(dst []BlockID, leaf BlockID, n int) []BlockID {
	start := len(dst)
	dst = append(dst, make([]BlockID, n)...)
	b := leaf
	for i := start + n - 1; i >= start; i-- {
		dst[i] = b
		b = t.parents[b]
	}
	return dst
}

// ParentError reports an id seen under two parents.
type ParentError struct {
	Index     int // position in the chain
	ID        uint64
	Parent    uint64 // the parent it had first; HasParent false means root
	HasParent bool
}

func (e *ParentError) Error() string {
	if e.HasParent {
		return fmt.Sprintf("hash_ids[%d]: id %d already has parent %d", e.Index, e.ID, e.Parent)
	}
	return fmt.Sprintf("hash_ids[%d]: id %d already is a root block", e.Index, e.ID)
}

// lookup finds id's dense id. An id inside the flat window is never in the
// map (store, its growth and slide keep it so), so a new id there, the
// common case of traces that number blocks as they go, costs no map probe:
// on a streamed 3M-request lbgr run, whose history keeps old ids live in
// the map, those probes were 19% of the CPU.
func (t *Table) lookup(id uint64) (BlockID, bool) {
	if rel := id - t.base; rel < uint64(len(t.direct)) { // wraps below base
		d := t.direct[rel]
		return d - 1, d != 0
	}
	if len(t.ids) == 0 {
		return 0, false
	}
	d, ok := t.ids[id]
	return d, ok
}

func (t *Table) store(id uint64, d BlockID) {
	t.maxID = max(t.maxID, id)
	rel := id - t.base // wraps below base
	if rel >= uint64(len(t.direct)) && rel < uint64(4*len(t.parents)+4096) {
		n := max(2*len(t.direct), int(rel)+1, 4096)
		nd := make([]uint32, n)
		copy(nd, t.direct)
		t.direct = nd
		// Ids the map took while they were past the window come in
		// (lookup relies on it). Doublings make this a pass over the
		// map per doubling.
		for mid, md := range t.ids {
			if r := mid - t.base; r < uint64(n) {
				t.direct[r] = md + 1
				delete(t.ids, mid)
			}
		}
	}
	if rel < uint64(len(t.direct)) {
		t.direct[rel] = d + 1
		return
	}
	t.ids[id] = d
}

func (t *Table) forget(id uint64) {
	if rel := id - t.base; rel < uint64(len(t.direct)) && t.direct[rel] != 0 {
		t.direct[rel] = 0
		return
	}
	delete(t.ids, id)
}

// slide moves the flat window after a sweep so that its upper half starts
// just past the largest id seen: traces that number blocks as they go
// (generated ones, Mooncake) keep finding their recent ids, the ones still
// live, in the window instead of the map once the ids pass twice the
// table's size. Live ids that fall below the window go to the map, map ids
// that fall inside it come in.
func (t *Table) slide() {
	half := uint64(len(t.direct) / 2)
	if t.maxID+1 < half || t.maxID+1-half <= t.base {
		return
	}
	shift := t.maxID + 1 - half - t.base
	// While the live ids fill at least a quarter of the range from the
	// lowest one in the window to the largest seen, keep them all in the
	// window (store grows it up to 4× the dense ids): a router that holds
	// every block it routed (cache_aware's history before its first trim)
	// keeps the old ids live, and sliding them into the map made map
	// probing 30% of a streamed 100k-request run's CPU.
	first, live := -1, 0
	for i, d1 := range t.direct {
		if d1 != 0 {
			if first < 0 {
				first = i
			}
			live++
		}
	}
	if first >= 0 && uint64(first) < shift && 4*uint64(live) >= t.maxID+1-(t.base+uint64(first)) {
		shift = uint64(first)
		if shift == 0 {
			return
		}
	}
	if shift >= uint64(len(t.direct)) {
		for i, d1 := range t.direct {
			if d1 != 0 {
				t.ids[t.base+uint64(i)] = d1 - 1
			}
		}
		clear(t.direct)
	} else {
		for i, d1 := range t.direct[:shift] {
			if d1 != 0 {
				t.ids[t.base+uint64(i)] = d1 - 1
			}
		}
		n := copy(t.direct, t.direct[shift:])
		clear(t.direct[n:])
	}
	t.base += shift
	for id, d := range t.ids {
		if rel := id - t.base; rel < uint64(len(t.direct)) {
			t.direct[rel] = d + 1
			delete(t.ids, id)
		}
	}
}

// Intern appends the dense ids of chain (original ids, root to leaf) to dst
// and returns it. On error (a parent conflict, a *ParentError) the table is
// left as it was before the call, so a skipped record leaves no blocks behind.
func (t *Table) Intern(dst []BlockID, chain []uint64) ([]BlockID, error) {
	parent := rootParent
	t.added = t.added[:0]
	dst = slices.Grow(dst, len(chain)) // a new request's chain grows once, not by doublings
	for i, id := range chain {
		d, ok := t.lookup(id)
		if !ok {
			a := added{key: id}
			if t.nfree > 0 {
				d = t.takeFree()
				t.reused++
				a.reused = true
				t.parents[d] = parent
				if t.keep {
					t.orig[d] = id + t.ns
				}
			} else {
				if len(t.parents) >= maxBlocks {
					t.rollback()
					return dst, fmt.Errorf("hash_ids[%d]: more than %d unique blocks", i, maxBlocks)
				}
				d = BlockID(len(t.parents))
				if len(t.parents) == cap(t.parents) {
					t.parents = grow(t.parents)
				}
				t.parents = append(t.parents, parent)
				if t.keep {
					t.orig = append(t.orig, id+t.ns)
				}
			}
			a.d = d
			t.store(id, d)
			t.added = append(t.added, a)
		} else if p := t.parents[d]; p != parent {
			// Ids in messages are the file's own (without the namespace).
			e := &ParentError{Index: i, ID: id, HasParent: p != rootParent}
			if e.HasParent {
				e.Parent = t.Orig(p) - t.ns
			}
			t.rollback()
			return dst, e
		}
		dst = append(dst, d)
		parent = d
	}
	return dst, nil
}

// grow returns s with twice its capacity (at least 1024), made rather than
// grown by append: append clears the whole new capacity, which touches
// every page of it, while a fresh allocation's pages cost memory only once
// written, and doubling copies each element at most twice in all. On a 1M
// request cache_aware run the parents' growth by append was 9% of the CPU,
// most of it faulting in and clearing pages.
func grow[T any](s []T) []T {
	n := make([]T, len(s), max(2*cap(s), 1024))
	copy(n, s)
	return n
}

// rollback removes the blocks that the last Intern call added (an aborted
// one, or one whose request was then refused), newest first, so the table
// is as it was before that call.
func (t *Table) rollback() {
	for i := len(t.added) - 1; i >= 0; i-- {
		a := t.added[i]
		t.forget(a.key)
		if a.reused {
			t.giveBack(a.d)
			t.reused--
			t.parents[a.d] = rootParent
			if t.keep {
				t.orig[a.d] = 0
			}
			continue
		}
		t.parents = t.parents[:a.d]
		if t.keep {
			t.orig = t.orig[:a.d]
		}
	}
	t.added = t.added[:0]
}

// setScope starts a new id scope: ids interned from now on are new blocks
// even when numerically equal to earlier ones, and their original ids are
// recorded as ns + id. Earlier blocks keep their dense ids and parents.
// kv-cache-tester's per-file ids use it with ns = rank << 32.
func (t *Table) setScope(ns uint64) {
	clear(t.direct)
	clear(t.ids)
	t.ns = ns
}
