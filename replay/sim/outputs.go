package sim

import (
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// keep_outputs (SPEC §4): at completion a request's output tokens are
// inserted as a block chain after its input, so a multi-turn next turn can
// hit them. This project's reading:
//
//   - The chain hangs off the request's last full input block (a partial
//     last block stays a leaf of its own: the next turn names that span with
//     a different, full block).
//   - Its ids are the next turn's: when the trace has a request whose Parent
//     is this one's ID and whose chain starts with the same full blocks, the
//     output blocks are that child's blocks lying entirely within this
//     request's input + output tokens. Otherwise they are fresh ids, unique
//     to the request, which occupy capacity but no one can hit.
//   - They are converted from the output allowance reserved at prefill start,
//     block by block while it lasts; a block that would need more than what
//     remains is not kept. So keep_outputs never causes an eviction episode
//     of its own (SPEC: one episode per request, at prefill start).
//   - lru touches and rlt marks the whole path, input and outputs, at
//     completion like any access.
//   - Hit-only replay (`kvscope replay`) does not take keep_outputs.

// outputChain returns the block ids (dense) of r's kept outputs and the
// number of r's full input blocks they hang from.
func (c *cluster) outputChain(r *trace.Request) (ids []trace.BlockID, full int) {
	bs := c.tr.Info.BlockSize
	full = len(r.Blocks)
	if full > 0 && r.LastBlockTokens < bs {
		full--
	}
	if r.TailTokens(bs) > 0 {
		// Tail tokens have no ids: the outputs cannot be placed after them.
		return nil, full
	}
	end := (r.Input + r.Output) / bs // blocks entirely within input+output
	if end <= full {
		return nil, full
	}
	if ch := c.childOf(r); ch != nil && len(ch.Blocks) >= full && sameBlocks(ch.Blocks[:full], r.Blocks[:full]) {
		return ch.Blocks[full:min(end, len(ch.Blocks))], full
	}
	n := end - full
	for range n {
		ids = append(ids, c.nextFresh)
		c.nextFresh++
	}
	return ids, full
}

func sameBlocks(a, b []trace.BlockID) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// childOf finds the request whose Parent is r's ID (the first in trace
// order), or nil.
func (c *cluster) childOf(r *trace.Request) *trace.Request {
	if c.childByID == nil {
		c.childByID = make(map[int64]int32)
		for i := range c.tr.Requests {
			q := &c.tr.Requests[i]
			if q.Parent == trace.NoParent {
				continue
			}
			if _, ok := c.childByID[q.Parent]; !ok {
				c.childByID[q.Parent] = int32(i)
			}
		}
	}
	if x, ok := c.childByID[r.ID]; ok && int(x) != r.Index {
		return &c.tr.Requests[x]
	}
	return nil
}

// keepOutputs inserts rn's output chain at completion, converting reserved
// output allowance, and returns the path to touch and to unpin.
func (c *cluster) keepOutputs(w *worker, rn *running) (path []trace.BlockID) {
	r := rn.req
	cache := w.cache
	path = r.Blocks[:rn.committed]
	ids, full := c.outputChain(r)
	if len(ids) == 0 || rn.committed < full {
		return path
	}
	budget := cache.Allowance(r.Output)
	parent := kvcache.NoBlock
	if full > 0 {
		parent = r.Blocks[full-1]
	}
	out := append([]trace.BlockID(nil), r.Blocks[:full]...)
	wt := int64(1)
	if cache.Unit() == kvcache.Tokens {
		wt = int64(c.tr.Info.BlockSize)
	}
	for _, b := range ids {
		if wt > budget {
			break
		}
		if _, err := cache.Commit(parent, b, wt); err != nil {
			c.fail(err)
			break
		}
		budget -= wt
		rn.allow -= wt
		out = append(out, b)
		parent = b
	}
	// Unpin the partial last input block (if any) with the rest: it stays
	// pinned once by this request until completion.
	if rn.committed > full {
		if err := cache.Unpin(r.Blocks[full:rn.committed]); err != nil {
			c.fail(err)
		}
	}
	return out
}
