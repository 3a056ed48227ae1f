package trace

import "fmt"

// rootParent marks a block whose parent is the tree's root.
const rootParent = ^uint32(0)

// Table interns a trace's block ids into dense BlockIDs and enforces SPEC
// §1's rule that an id never appears under two different parents.
//
// Memory per unique block: one map entry (uint64 → uint32) plus the parent
// (4 bytes) and, when KeepOrig is set, the original id (8 bytes). Statistics
// over a streamed trace therefore cost about 40–60 bytes per unique block and
// nothing per request.
type Table struct {
	ids     map[uint64]BlockID
	parents []uint32
	orig    []uint64
	keep    bool
}

// NewTable returns an empty table. keepOrig records dense → original ids so
// writers can emit the trace's own ids.
func NewTable(keepOrig bool) *Table {
	return &Table{ids: make(map[uint64]BlockID), keep: keepOrig}
}

// Len is the number of unique blocks seen.
func (t *Table) Len() int { return len(t.parents) }

// Orig returns the original id of a dense block id. Without keepOrig it
// scans the map (meant for error messages only).
func (t *Table) Orig(b BlockID) uint64 {
	if t.keep {
		return t.orig[b]
	}
	for id, d := range t.ids {
		if d == b {
			return id
		}
	}
	return uint64(b)
}

// Parent returns the dense parent of b and whether b has one.
func (t *Table) Parent(b BlockID) (BlockID, bool) {
	p := t.parents[b]
	return p, p != rootParent
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

// Intern appends the dense ids of chain (original ids, root to leaf) to dst
// and returns it. On a parent conflict nothing of the chain is kept as new
// blocks' parents beyond the conflict point and a *ParentError is returned.
func (t *Table) Intern(dst []BlockID, chain []uint64) ([]BlockID, error) {
	parent := rootParent
	for i, id := range chain {
		d, ok := t.ids[id]
		if !ok {
			d = BlockID(len(t.parents))
			if uint64(d) == uint64(rootParent) {
				return dst, fmt.Errorf("hash_ids[%d]: more than %d unique blocks", i, rootParent-1)
			}
			t.ids[id] = d
			t.parents = append(t.parents, parent)
			if t.keep {
				t.orig = append(t.orig, id)
			}
		} else if p := t.parents[d]; p != parent {
			e := &ParentError{Index: i, ID: id, HasParent: p != rootParent}
			if e.HasParent {
				e.Parent = t.Orig(p)
			}
			return dst, e
		}
		dst = append(dst, d)
		parent = d
	}
	return dst, nil
}
