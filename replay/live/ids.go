package live

import (
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// The model's block ids: the server blocks sent are interned in the plan's
// model table (liverun.Plan.Model.Blocks) as requests are sent, and each
// worker's model cache keeps arrays indexed by those dense ids. Left alone
// they grow with the distinct blocks sent in the run. The table recycles
// them (trace.Table.SetLimit, Sweep): once its live ids reach the limit,
// the driver sweeps before interning the next request, keeping every id
// something still holds, and every other id is forgotten and handed out
// again. The holders:
//   - the model caches (kvcache.Cache.Live: present blocks, and what the
//     policy retains for absent ones);
//   - the chains of the requests in flight;
//   - the router's per-block state (route.Holder: the routing-history
//     trees of cache_aware, and of dynamo, lbgr and llmd with
//     precise=false);
//   - with KV events, the correction from the mirror (correct.go): the
//     blocks of requests completed in the last two recentFor periods, and
//     the chains of the attempts a restart may put back (correction.sent).
//     The mirrors themselves key blocks by their token digests, not by
//     dense ids.
// The caches' arrays then stay bounded by the limit, about twice the
// workers' capacities in blocks (the table doubles it when a sweep leaves
// more than half live), not by the run; a router's trees are bounded by
// their own trims (max_tree_size), and keep their ids live until then.
//
// Recycling is off (the table exact, as before) when:
//   - the run keeps its plan (Config.KeepPlan: the comparison simulation
//     and the explorer's export read every request's chain);
//   - the router is consistent_hash: its key hashes the first block ids
//     (the dense ids here: the model table keeps no original ids), so a
//     prefix whose first block was forgotten and came back under another
//     id would route elsewhere;
//   - the router is one kvscope does not know to hold no block ids and
//     that does not name them (route.Holder).

// recycleIDs reports whether the model table may recycle dense ids under
// cfg with router r (see above).
func recycleIDs(cfg Config, r route.Router) bool {
	if cfg.KeepPlan || cfg.idLimit < 0 {
		return false
	}
	if _, ok := r.(route.Holder); ok {
		return true
	}
	sp, err := param.Parse(cfg.Router)
	if err != nil {
		return false
	}
	switch sp.Name {
	case "round_robin", "random", "least_load", "p2c":
		return true
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
// model caches hold, the chains of the requests in flight, the router's
// (route.Holder) and the correction's (correction.live).
func (d *driver) sweep() {
	tb := d.plan.Model.Blocks
	if !tb.Full() {
		return
	}
	tb.Sweep(func(keep func(trace.BlockID)) {
		for _, w := range d.workers {
			w.model.Live(keep)
			w.corr.live(keep)
		}
		for _, q := range d.reqs {
			for _, b := range q.mr.Blocks {
				keep(b)
			}
		}
		if d.holder != nil {
			d.holder.Live(keep)
		}
	})
}
