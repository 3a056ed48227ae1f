package kvcache

import "fmt"

// Snapshot is a cache's state for display and checkpoints (in the cache's
// unit). Used = Pinned + Marked + Unmarked + Reserved.
type Snapshot struct {
	Capacity int64 `json:"capacity"`
	Used     int64 `json:"used"`
	Blocks   int   `json:"blocks"`
	// Pinned is the weight of cached blocks held by running requests.
	Pinned int64 `json:"pinned"`
	// Marked and Unmarked split the unpinned cached weight (all unmarked
	// for policies without marks).
	Marked   int64 `json:"marked"`
	Unmarked int64 `json:"unmarked"`
	// Reserved is capacity held without a cached block: outputs, tail
	// tokens and blocks being computed.
	Reserved int64 `json:"reserved"`
	Evicted  int64 `json:"evicted"`
	Phases   int64 `json:"phases"`
}

// Snapshot walks the tree (O(slots)): meant for checkpoints, not per event.
func (c *Cache) Snapshot() Snapshot {
	s := Snapshot{Capacity: c.capacity, Used: c.Used(), Blocks: c.count, Pinned: c.pinned,
		Reserved: c.reserved, Evicted: c.evicted}
	m, ok := c.policy.(Marker)
	if ok {
		s.Phases = m.Phases()
	}
	for i := range c.nodes {
		n := &c.nodes[i]
		if n.weight == 0 || n.pins > 0 {
			continue
		}
		if ok && m.IsMarked(BlockID(i)) {
			s.Marked += int64(n.weight)
		} else {
			s.Unmarked += int64(n.weight)
		}
	}
	return s
}

// Check verifies the tree's accounting from scratch (O(slots)); tests and
// fuzzers call it after every operation.
func (c *Cache) Check() error {
	var cached, pinned int64
	count := 0
	kids := make([]uint32, len(c.nodes))
	for i := range c.nodes {
		n := &c.nodes[i]
		if n.weight == 0 {
			if n.pins != 0 || n.kids != 0 {
				return fmt.Errorf("absent block %d has pins %d kids %d", i, n.pins, n.kids)
			}
			continue
		}
		count++
		cached += int64(n.weight)
		if n.pins > 0 {
			pinned += int64(n.weight)
		}
		if n.parent != NoBlock {
			if !c.Present(n.parent) {
				return fmt.Errorf("block %d cached without its parent %d", i, n.parent)
			}
			if n.depth != c.nodes[n.parent].depth+1 {
				return fmt.Errorf("block %d depth %d, parent depth %d", i, n.depth, c.nodes[n.parent].depth)
			}
			kids[n.parent]++
		} else if n.depth != 1 {
			return fmt.Errorf("root block %d depth %d", i, n.depth)
		}
	}
	if c.local {
		if err := c.checkSlots(); err != nil {
			return err
		}
	}
	for i := range c.nodes {
		if kids[i] != c.nodes[i].kids {
			return fmt.Errorf("block %d counts %d children, has %d", i, c.nodes[i].kids, kids[i])
		}
	}
	switch {
	case cached != c.cached:
		return fmt.Errorf("cached weight %d, counted %d", c.cached, cached)
	case pinned != c.pinned:
		return fmt.Errorf("pinned weight %d, counted %d", c.pinned, pinned)
	case count != c.count:
		return fmt.Errorf("%d blocks, counted %d", c.count, count)
	case c.reserved < 0:
		return fmt.Errorf("reserved %d", c.reserved)
	case c.cached+c.reserved > c.capacity:
		return fmt.Errorf("used %d exceeds capacity %d", c.cached+c.reserved, c.capacity)
	}
	return nil
}
