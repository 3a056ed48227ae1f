package evict

import "math/rand/v2"

// randomLeaf evicts a uniformly drawn unpinned leaf, with no marks: each
// draw is rng.IntN(|leaves|) over the unpinned leaves in trace id order
// (Cache.TraceID, as rlt's), from the worker's eviction stream.
type randomLeaf struct {
	nop
	rng  *rand.Rand
	cand idset
}

func newRandomLeaf(_ *paramArgs, env Env) (Policy, error) {
	return &randomLeaf{rng: env.Rand}, nil
}

func (p *randomLeaf) Evictable(b BlockID, yes bool) {
	if yes {
		p.cand.add(b, p.c.TraceID(b))
	} else {
		p.cand.del(b, p.c.TraceID(b))
	}
}

func (p *randomLeaf) Victim(int64) (BlockID, bool) {
	if p.cand.n == 0 {
		return 0, false
	}
	return p.cand.kth(p.rng.IntN(p.cand.n)), true
}
