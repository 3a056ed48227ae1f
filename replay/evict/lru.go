package evict

import "github.com/kvscope/kvscope/replay/kvcache"

// lru is leaf-LRU (sglang's RadixCache, SPEC §5). Each worker has a logical
// clock that advances by 1 per access; an access stamps the whole path with
// the new clock value, so ancestors are never older than descendants. Timed
// replay touches at prefill start, prefill end and completion; hit-only
// replay once (kvcache.HitOnly). Victim: the unpinned leaf with the smallest
// stamp; ties the deeper block, then the smaller dense id.
//
// The evictable leaves sit in a heap keyed by (stamp, depth, id); a stamp
// only changes on access, and an accessed path is pinned, so the heap is
// rarely rekeyed.
type lru struct {
	nop
	clock uint64
	stamp []uint64
	h     keyHeap
}

func newLRU(*paramArgs, Env) (Policy, error) { return &lru{}, nil }

func (p *lru) Attach(c *kvcache.Cache) {
	p.c = c
	p.stamp = make([]uint64, 0, c.SizeHint())
	p.h.pos = make([]int32, 0, c.SizeHint())
}

func (p *lru) Inserted(b BlockID) {
	p.stamp = grow(p.stamp, int(b)+1)
	p.stamp[b] = p.clock
}

func (p *lru) Access(path []BlockID, _ kvcache.Event) {
	p.clock++
	t := p.clock
	for _, b := range path {
		p.stamp[b] = t
		if p.h.has(b) {
			p.h.rekey(b, t, 0, tie(p.c, b))
		}
	}
}

func (p *lru) Evictable(b BlockID, yes bool) {
	if yes {
		p.h.push(b, p.stamp[b], 0, tie(p.c, b))
	} else {
		p.h.remove(b)
	}
}

func (p *lru) Victim(int64) (BlockID, bool) { return p.h.min() }
