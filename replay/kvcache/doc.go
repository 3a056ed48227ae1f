// Package kvcache is one worker's prefix KV cache (SPEC §4): a tree over
// dense block ids (replay/trace's BlockID) in either capacity unit (tokens,
// or blocks where every block weighs 1 and an allowance of t tokens takes
// ceil(t/block_size) blocks), with reference-counted pins, prefix match,
// reservations, insertion and the one evict-until-fits routine (MakeRoom).
//
// In block mode a request's tail tokens (kv-cache-tester's tokens past the
// last full block, which have no id) and its output are rounded up to pages
// separately, ceil(tail/bs) + ceil(output/bs): this project's choice, the
// conservative reading of SPEC §4, which defines only the output's ceiling.
// A paged engine that continues the output in the tail's partial page would
// hold one page less in the worst case.
//
// It owns capacity and accounting; it does not choose victims. An eviction
// policy (replay/evict, behind the Policy interface defined here) hears
// about insertions, removals, accesses and changes of the set of unpinned
// leaves, is told the shortfall before an episode, and names the next
// leaf. The cache checks each victim is a present, unpinned leaf and removes
// one block at a time until the shortfall is covered. Nodes live in a slice
// indexed by dense id (grown on demand, 20 bytes a slot), or by local slot
// (below): a lookup is an index, or one hash probe per block, and nothing
// on the per-request path allocates once the slices have grown.
//
// Recycled ids: a streamed replay's block table (trace.Table with a limit)
// hands dense ids out again once no cache holds them. Live names what a
// cache holds (present blocks, and what a Retainer policy remembers of
// absent ones) for the table's sweep. An absent node carries no state
// (removal clears it, insertion sets every field) and every built-in
// policy resets its per-block state when a block is Inserted, so a
// recycled id starts clean; a policy that keeps per-id state of absent
// blocks beyond that must implement Retainer.
//
// Local slots (Config.LocalSlots, slots.go): a node slice indexed by the
// trace's dense id is as long as the trace's id range in every cache, so
// a long trace over many workers spends its memory on empty slots (a 1M-
// request multiturn trace: 65 M ids × 8 workers × ~32 bytes of cache and
// policy arrays). With local slots the cache numbers its blocks itself: a
// per-cache open-addressing table maps a trace id to a slot, a removed
// block's slot is reused by the next insertion, and the cache's and its
// policy's arrays hold at most as many slots as the cache has held blocks
// at once (≤ Capacity). Callers still pass trace ids to every operation;
// each call translates its chain once, and the policy hears and asks about
// slots (ID and TraceID convert). Only a policy whose choices never depend
// on the numbering may be used so (evict.Info.LocalSlots): one that never
// lets an id decide (evict.Info.IDFree), or one that orders blocks by
// TraceID, the block's trace id in either numbering, instead of by the
// number it is told (evict.Info.TraceOrder: rlt's and random_leaf's
// uniform draws over their candidates in trace id order). A Retainer's
// retained blocks (s3fifo's ghosts) keep their slots, mapped to their
// trace ids, until a sweep finds the policy has forgotten them, so a ghost
// is never aliased by another block and a returning block finds its
// ghost. replay/sim uses local slots for every such policy; evict's
// TestLocalSlotsMatchGlobal drives both numberings in lockstep and
// requires the same hits, victims, marks and Live sets. Under local slots
// Match keeps its translation for the Pin that follows and Commit extends
// it, so a request's whole path is translated about once (slots.go).
//
// Accounting: Used = cached blocks + reserved units ≤ Capacity at every
// moment. Reserved units hold capacity without a block: output allowance,
// tail tokens (ids-less tokens past the chain) and blocks a running
// request is computing.
//
// # Hit-only replay
//
// HitOnly(r) does SPEC §4's sequence for one request.
//
// # Timed replay (replay/sim)
//
// Per worker, per request r with chain = r.Blocks:
//
//	// prefill start
//	h := c.Match(chain)                       // hit = chain[:h]
//	c.Pin(chain[:h])
//	c.Access(chain[:h], kvcache.PrefillStart) // lru touch
//	miss := Σ c.ReqWeight(r, i) for i ≥ h
//	allow := c.Allowance(r.TailTokens(bs)) + c.Allowance(r.Output)
//	short, err := c.MakeRoom(miss + allow)    // one episode; short > 0: does not fit now
//	c.Reserve(miss + allow)
//	// each prefill chunk, for every block i it completes, in order
//	dup, err := c.Commit(parentOf(i), chain[i], c.ReqWeight(r, i))
//	//   matchable from now on; dup: another running request computed it
//	//   first, this copy's reservation is released and the block pinned
//	// prefill end
//	c.Access(chain, kvcache.PrefillEnd)       // lru touch, rlt marking, lfu/s3fifo use
//	// completion
//	c.Access(chain, kvcache.Complete)         // lru touch
//	c.Unpin(chain)
//	c.Release(allow)
//
// Footprint(r) > Capacity is SPEC's oversize request. Snapshot() gives the
// fill split into pinned, marked and unmarked (unpinned) weight, reserved,
// evicted and rlt's phases; Evicted() is the running total.
//
// kvcache imports only replay/trace; it must not import evict, routers,
// the simulator or terminal code (charm).
package kvcache
