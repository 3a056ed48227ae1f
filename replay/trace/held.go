package trace

import (
	"slices"
	"time"
)

// held is an in-memory buffer of requests in compact form, for --sort and
// for kv-cache-tester input (whose sessions interleave, so requests can only
// be put in arrival order once all are read). A chain is kept as its leaf and
// length (Table.Chain rebuilds it), so a held request costs a few dozen bytes
// whatever its length.
type held struct {
	recs []heldReq
	pos  int
}

type heldReq struct {
	arrival  time.Duration
	input    int
	output   int
	leaf     BlockID
	nblocks  int32
	last     int32
	turn     int32
	session  int64
	id       int64
	parent   int64
	think    float64
	typ      string
	tags     []string
	source   string
	sortKey1 int64 // tie-breakers: file rank, then order in file
	sortKey2 int64
}

func (h *held) add(r *Request) {
	hr := heldReq{
		arrival: r.Arrival, input: r.Input, output: r.Output,
		nblocks: int32(len(r.Blocks)), last: int32(r.LastBlockTokens), turn: int32(r.Turn),
		session: r.Session, id: r.ID, parent: r.Parent, think: r.ThinkS, typ: r.Type,
		source: r.Source, sortKey2: int64(len(h.recs)),
	}
	if len(r.Blocks) > 0 {
		hr.leaf = r.Blocks[len(r.Blocks)-1]
	}
	if len(r.Tags) > 0 {
		hr.tags = slices.Clone(r.Tags)
	}
	h.recs = append(h.recs, hr)
}

// sort orders by arrival; ties keep reading order (stable).
func (h *held) sort() {
	slices.SortStableFunc(h.recs, func(a, b heldReq) int {
		switch {
		case a.arrival != b.arrival:
			return cmpDur(a.arrival, b.arrival)
		case a.sortKey1 != b.sortKey1:
			return cmpInt(a.sortKey1, b.sortKey1)
		default:
			return cmpInt(a.sortKey2, b.sortKey2)
		}
	})
}

func cmpDur(a, b time.Duration) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// next fills r with the next held request, releasing its record.
func (h *held) next(r *Request, t *Table) bool {
	if h.pos >= len(h.recs) {
		h.recs = nil
		return false
	}
	hr := &h.recs[h.pos]
	h.pos++
	blocks := r.Blocks[:0]
	if hr.nblocks > 0 {
		blocks = t.Chain(blocks, hr.leaf, int(hr.nblocks))
	}
	*r = Request{
		Source: hr.source, Arrival: hr.arrival, Input: hr.input, Output: hr.output,
		Blocks: blocks, LastBlockTokens: int(hr.last), Session: hr.session, ID: hr.id,
		Parent: hr.parent, Turn: int(hr.turn), ThinkS: hr.think, Type: hr.typ, Tags: hr.tags,
	}
	*hr = heldReq{}
	return true
}
