package kvcache

import (
	"fmt"

	"github.com/kvscope/kvscope/replay/trace"
)

// HitOnly serves r as SPEC §4's hit-only replay does: match, pin the
// matched path, one eviction episode for the missing input weight plus the
// output allowance and tail tokens, insert the missing blocks, one HitOnly
// access (lru touch, rlt marking, opt/lfu use), then unpin and release the
// allowance. It returns the hit in blocks and tokens.
//
// The caller decides oversize requests first (Footprint > Capacity): a
// request that fits always succeeds, since every block but its own matched
// path is unpinned between requests. If room cannot be made the cache is
// left as it was before the call, except for blocks already evicted, and an
// error wrapping ErrNoRoom is returned.
func (c *Cache) HitOnly(r *trace.Request) (hitBlocks, hitTokens int, err error) {
	chain := r.Blocks
	// path is chain in the cache's numbering: chain itself, or the slots
	// of its cached prefix, extended below as blocks are inserted.
	path := chain
	var h int
	if c.local {
		path, h = c.toSlots(chain)
		c.memo = nil // path grows below
	} else {
		h = c.Match(chain)
	}
	if err := c.pin(path[:h]); err != nil {
		return 0, 0, err
	}
	var miss int64
	if c.unit == Blocks {
		miss = int64(len(chain) - h)
	} else if h < len(chain) {
		miss = int64(r.ChainTokens(c.blockSize) - h*c.blockSize)
	}
	allow := c.Allowance(r.TailTokens(c.blockSize)) + c.Allowance(r.Output)
	need := miss + allow
	short, err := c.MakeRoom(need)
	if err == nil && short > 0 {
		err = fmt.Errorf("kvcache: request %d: %d short after evicting every unpinned leaf: %w", r.Index, short, ErrNoRoom)
	}
	if err == nil {
		err = c.Reserve(need)
	}
	if err != nil {
		c.unpin(path[:h])
		return 0, 0, err
	}
	parent := NoBlock
	if h > 0 {
		parent = path[h-1]
	}
	for i := h; i < len(chain); i++ {
		id, err := c.commitAbsent(parent, chain[i], c.ReqWeight(r, i))
		if err != nil {
			c.unpin(path[:i])
			return 0, 0, fmt.Errorf("kvcache: request %d: %w", r.Index, err)
		}
		if c.local {
			path = append(path, id)
		}
		parent = id
	}
	if c.local {
		c.scratch = path[:0] // keep the grown buffer
	}
	c.policy.Access(path, HitOnly)
	c.unpin(path)
	c.reserved -= allow
	hitBlocks = h
	if h == len(chain) {
		hitTokens = r.ChainTokens(c.blockSize)
	} else {
		hitTokens = h * c.blockSize
	}
	return hitBlocks, hitTokens, nil
}
