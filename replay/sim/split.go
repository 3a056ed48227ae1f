package sim

import "github.com/kvscope/kvscope/replay/kvcache"

// markedWeight is implemented by marking policies (rlt).
type markedWeight interface {
	kvcache.Marker
	Marked() int64
}

// split returns worker w's capacity split for display: pinned (blocks held
// by running requests plus reserved room), and the unpinned cached weight
// split by rlt's marks (all unmarked for other policies). The policy tracks
// the total marked weight; the marked weight among pinned blocks is found by
// walking the running requests' pinned paths once each (shared prefixes are
// counted once, through a per-worker visit stamp).
func (c *cluster) split(w *worker) (pinned, marked, unmarked int64) {
	cache := w.cache
	pinned = cache.PinnedWeight() + cache.Reserved()
	unpinned := cache.Cached() - cache.PinnedWeight()
	m, ok := cache.Policy().(markedWeight)
	if !ok {
		return pinned, 0, unpinned
	}
	total := m.Marked()
	if total == 0 {
		return pinned, 0, unpinned
	}
	w.visit++
	var markedPinned int64
	for _, rn := range w.run {
		if rn.bypass {
			continue
		}
		for _, b := range rn.req.Blocks[:rn.committed] {
			b := cache.ID(b) // committed blocks are pinned, so present: a slot under LocalSlots
			if int(b) >= len(w.seen) {
				w.seen = append(w.seen, make([]uint32, int(b)+1-len(w.seen))...)
			}
			if w.seen[b] == w.visit {
				continue
			}
			w.seen[b] = w.visit
			if m.IsMarked(b) {
				markedPinned += cache.BlockWeight(b)
			}
		}
	}
	marked = total - markedPinned
	return pinned, marked, unpinned - marked
}

func phases(c *kvcache.Cache) int64 {
	if m, ok := c.Policy().(kvcache.Marker); ok {
		return m.Phases()
	}
	return 0
}
