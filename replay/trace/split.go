package trace

import "fmt"

// Splitter rewrites requests of a trace with block size from into pages of
// to tokens (`trace convert --block-size`): each block becomes
// ceil(weight/to) sub-blocks. Sub-block j of dense block d gets the derived
// id d·k + j with k = from/to, so sub-blocks of one block chain under each
// other, the first under the last sub-block of the parent, and the one-parent
// rule keeps holding. The derived ids are interned into Out (which keeps
// them as original ids), so writers emit them with Out as the table.
type Splitter struct {
	From, To int
	Out      *Table
	ids      []uint64
	k        uint64
}

// NewSplitter checks that from is a multiple of to.
func NewSplitter(from, to int) (*Splitter, error) {
	if to < 1 {
		return nil, fmt.Errorf("block size %d: must be positive", to)
	}
	if from%to != 0 {
		return nil, fmt.Errorf("block size %d does not divide the trace's block size %d", to, from)
	}
	return &Splitter{From: from, To: to, Out: NewTable(true), k: uint64(from / to)}, nil
}

// Split rewrites r in place: Blocks become ids of s.Out, LastBlockTokens the
// weight of the last sub-block.
func (s *Splitter) Split(r *Request) error {
	s.ids = s.ids[:0]
	last := r.LastBlockTokens
	for i, d := range r.Blocks {
		w := s.From
		if i == len(r.Blocks)-1 {
			w = r.LastBlockTokens
		}
		n := (w + s.To - 1) / s.To
		for j := range n {
			s.ids = append(s.ids, uint64(d)*s.k+uint64(j))
		}
		if i == len(r.Blocks)-1 {
			last = w - (n-1)*s.To
		}
	}
	var err error
	r.Blocks, err = s.Out.Intern(r.Blocks[:0], s.ids)
	if err != nil {
		return fmt.Errorf("%s: split: %w", r.Source, err)
	}
	if len(r.Blocks) > 0 {
		r.LastBlockTokens = last
	} else {
		r.LastBlockTokens = 0
	}
	return nil
}
