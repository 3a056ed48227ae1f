package evict

// fifo evicts in insertion order, restricted to leaves: the unpinned leaf
// inserted longest ago. A parent is always inserted before its children, so
// this is FIFO over the blocks a prefix cache may remove; an internal block
// waits until its subtree is gone. Ties cannot occur (one insertion number
// per block).
type fifo struct {
	nop
	seq uint64
	at  []uint64
	h   keyHeap
}

func newFIFO(*paramArgs, Env) (Policy, error) { return &fifo{}, nil }

func (p *fifo) Inserted(b BlockID) {
	p.at = grow(p.at, int(b)+1)
	p.seq++
	p.at[b] = p.seq
}

func (p *fifo) Evictable(b BlockID, yes bool) {
	if yes {
		p.h.push(b, p.at[b], 0, tie(p.c, b))
	} else {
		p.h.remove(b)
	}
}

func (p *fifo) Victim(int64) (BlockID, bool) { return p.h.min() }
