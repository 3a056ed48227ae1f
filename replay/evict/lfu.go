package evict

import "github.com/kvscope/kvscope/replay/kvcache"

// lfu evicts the unpinned leaf with the fewest uses, ties by the older
// stamp (as lru stamps), then the deeper block, then the smaller id. A use
// is counted once per request, when its whole path is present (hit-only
// access or prefill end); stamps advance at every access like lru's. Every
// use of a block uses its ancestors, so a parent's count is never below its
// children's and the leaf restriction removes nothing LFU would keep.
// Counts are forgotten when a block is evicted.
type lfu struct {
	nop
	clock uint64
	stamp []uint64
	count []uint32
	h     keyHeap
}

func newLFU(*paramArgs, Env) (Policy, error) { return &lfu{}, nil }

func (p *lfu) Inserted(b BlockID) {
	n := int(b) + 1
	p.stamp = grow(p.stamp, n)
	p.count = grow(p.count, n)
	p.stamp[b] = p.clock
	p.count[b] = 0
}

func (p *lfu) Access(path []BlockID, ev kvcache.Event) {
	p.clock++
	use := ev == kvcache.HitOnly || ev == kvcache.PrefillEnd
	for _, b := range path {
		p.stamp[b] = p.clock
		if use && p.count[b] < ^uint32(0) {
			p.count[b]++
		}
		if p.h.has(b) {
			p.h.rekey(b, uint64(p.count[b]), p.stamp[b], tie(p.c, b))
		}
	}
}

func (p *lfu) Evictable(b BlockID, yes bool) {
	if yes {
		p.h.push(b, uint64(p.count[b]), p.stamp[b], tie(p.c, b))
	} else {
		p.h.remove(b)
	}
}

func (p *lfu) Victim(int64) (BlockID, bool) { return p.h.min() }
