package trace

import "fmt"

// rootParent marks a block whose parent is the tree's root.
const rootParent = ^uint32(0)

// maxBlocks is the most unique blocks one table holds (dense ids are uint32
// and rootParent is reserved).
const maxBlocks = int(rootParent) - 1

// Table interns a trace's block ids into dense BlockIDs and enforces SPEC
// §1's rule that an id never appears under two different parents.
//
// Ids below about twice the number of blocks seen so far (the common case:
// Mooncake, Azure and generated traces number blocks from 0) are looked up in
// a flat slice, 4 bytes per slot; other ids (hashes) go to a map. Memory per
// unique block: the parent (4 bytes), the lookup (about 4–8 bytes flat, or
// 20–40 bytes in the map) and, when keepOrig is set, the original id (8
// bytes). Statistics over a streamed trace therefore cost well under 64 bytes
// per unique block and nothing per request.
type Table struct {
	direct  []uint32 // id → dense+1 for small ids; 0 = absent
	ids     map[uint64]BlockID
	parents []uint32
	orig    []uint64
	keep    bool
	// ns is added to ids on the way in: kv-cache-tester's per-file scope
	// (see setScope).
	ns uint64
}

// NewTable returns an empty table. keepOrig records dense → original ids so
// writers can emit the trace's own ids.
func NewTable(keepOrig bool) *Table {
	return &Table{ids: make(map[uint64]BlockID), keep: keepOrig}
}

// Len is the number of unique blocks seen.
func (t *Table) Len() int { return len(t.parents) }

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
	for id, d := range t.direct {
		if d == b+1 {
			return uint64(id) + t.ns
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

func (t *Table) lookup(id uint64) (BlockID, bool) {
	if id < uint64(len(t.direct)) {
		if d := t.direct[id]; d != 0 {
			return d - 1, true
		}
	}
	if len(t.ids) == 0 {
		return 0, false
	}
	d, ok := t.ids[id]
	return d, ok
}

func (t *Table) store(id uint64, d BlockID) {
	if id >= uint64(len(t.direct)) && id < uint64(2*len(t.parents)+4096) {
		n := max(2*len(t.direct), int(id)+1, 4096)
		nd := make([]uint32, n)
		copy(nd, t.direct)
		t.direct = nd
	}
	if id < uint64(len(t.direct)) {
		t.direct[id] = d + 1
		return
	}
	t.ids[id] = d
}

func (t *Table) forget(id uint64) {
	if id < uint64(len(t.direct)) && t.direct[id] != 0 {
		t.direct[id] = 0
		return
	}
	delete(t.ids, id)
}

// Intern appends the dense ids of chain (original ids, root to leaf) to dst
// and returns it. On error (a parent conflict, a *ParentError) the table is
// left as it was before the call, so a skipped record leaves no blocks behind.
func (t *Table) Intern(dst []BlockID, chain []uint64) ([]BlockID, error) {
	parent := rootParent
	before := len(t.parents)
	for i, id := range chain {
		d, ok := t.lookup(id)
		if !ok {
			if len(t.parents) >= maxBlocks {
				t.rollback(chain[:i], before)
				return dst, fmt.Errorf("hash_ids[%d]: more than %d unique blocks", i, maxBlocks)
			}
			d = BlockID(len(t.parents))
			t.store(id, d)
			t.parents = append(t.parents, parent)
			if t.keep {
				t.orig = append(t.orig, id+t.ns)
			}
		} else if p := t.parents[d]; p != parent {
			// Ids in messages are the file's own (without the namespace).
			e := &ParentError{Index: i, ID: id, HasParent: p != rootParent}
			if e.HasParent {
				e.Parent = t.Orig(p) - t.ns
			}
			t.rollback(chain[:i], before)
			return dst, e
		}
		dst = append(dst, d)
		parent = d
	}
	return dst, nil
}

// rollback removes the blocks that an aborted Intern added.
func (t *Table) rollback(chain []uint64, before int) {
	for _, id := range chain {
		if d, ok := t.lookup(id); ok && int(d) >= before {
			t.forget(id)
		}
	}
	t.parents = t.parents[:before]
	if t.keep {
		t.orig = t.orig[:before]
	}
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
