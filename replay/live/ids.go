package live

import (
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// The model's block ids: the server blocks sent are interned in the plan's
// model table (liverun.Plan.Model.Blocks) as requests are sent, and each
// worker's model cache keeps arrays indexed by those dense ids. Left alone
// they grow with the distinct blocks sent in the run. When nothing else
// keeps dense ids, the table recycles them (trace.Table.SetLimit, Sweep):
// once its live ids reach the limit, the driver sweeps before interning
// the next request, keeping what the model caches hold (kvcache.Cache.Live:
// present blocks, and what the policy retains for absent ones) and the
// chains of the requests in flight; every other id is forgotten and handed
// out again. The caches' arrays then stay bounded by the limit, about
// twice the workers' capacities in blocks (the table doubles it when a
// sweep leaves more than half live), not by the run.
//
// Nothing else may hold dense ids for recycling to be on, so it is off
// (the table exact, as before) when:
//   - the run keeps its plan (Config.KeepPlan: the comparison simulation
//     and the explorer's export read every request's chain);
//   - the router keeps per-block state: a routing-history tree
//     (cache_aware always, dynamo, lbgr and llmd unless precise=true) or a
//     hash of the first block ids (consistent_hash, whose key would change
//     when an id is reused);
//   - KV events are on (Config.KVEvents, KVMirror): the mirrors key blocks
//     by their token digests, not by dense ids, but what the model learns
//     from them may keep dense ids of its own (the correction from the
//     mirror keeps recently touched ids); recycling stays off there until
//     sweep names those holders too.

// recycleIDs reports whether the model table may recycle dense ids under
// cfg (see above).
func recycleIDs(cfg Config) bool {
	if cfg.KeepPlan || cfg.idLimit < 0 || len(cfg.KVEvents) > 0 || cfg.KVMirror != nil {
		return false
	}
	sp, err := param.Parse(cfg.Router)
	if err != nil {
		return false
	}
	switch sp.Name {
	case "round_robin", "random", "least_load", "p2c":
		return true
	case "dynamo", "lbgr", "llmd":
		return sp.Params["precise"] == "true"
	}
	return false
}

// idLimit is the model table's starting limit: twice the blocks all
// workers' caches hold (the caches full, and as many again in flight),
// at least 65,536.
func (d *driver) idLimit() int {
	if d.cfg.idLimit != 0 {
		return d.cfg.idLimit
	}
	var blocks int64
	for _, w := range d.workers {
		blocks += w.capacity
	}
	return int(max(1<<16, min(2*blocks, 1<<30)))
}

// sweep recycles the model table's ids when it is full (under d.mu,
// before the next request's chain is interned): kept are the ids the
// model caches hold and the chains of the requests in flight.
func (d *driver) sweep() {
	tb := d.plan.Model.Blocks
	if !tb.Full() {
		return
	}
	tb.Sweep(func(keep func(trace.BlockID)) {
		for _, w := range d.workers {
			w.model.Live(keep)
		}
		for _, q := range d.reqs {
			for _, b := range q.mr.Blocks {
				keep(b)
			}
		}
	})
}
