package live

import "github.com/kvscope/kvscope/replay/trace"

// clusterView is route.Cluster over the live workers: Match from the
// workers' KV-event mirrors when Config.KVEvents is on (and prompts are
// token ids), else from kvscope's model of each worker's cache, Waiting and Usage from the latest /metrics reading, or,
// without one, the driver's own in-flight count and the model's pinned share.
// Called by the router under d.mu.
type clusterView struct{ d *driver }

func (v clusterView) Match(w int, r *trace.Request) (int, int) {
	d := v.d
	if d.kvWalk {
		// The worker's true cache, from its KV events: the leading run
		// of the prompt's blocks present there. r is the model's request
		// of the run's request r.Index (in flight); its prompt is built once for every worker.
		if d.matchIdx != r.Index {
			d.matchTok = d.plan.TokensOf(&d.reqs[r.Index].pr, d.matchTok)
			d.matchDig = blockDigests(d.matchTok, d.bs, d.matchDig)
			d.matchIdx = r.Index
		}
		_, p := d.kv.Mirrors[w].walkDigests(d.matchDig)
		return p, p * d.bs
	}
	h := d.workers[w].model.Match(r.Blocks)
	return h, h * d.bs
}

func (v clusterView) Waiting(w int) int {
	wk := v.d.workers[w]
	if l := wk.latest; l != nil && l.HasQueue {
		return int(l.Waiting)
	}
	return wk.inFlight
}

func (v clusterView) Usage(w int) float64 {
	wk := v.d.workers[w]
	if l := wk.latest; l != nil && l.HasUsage {
		return l.Usage
	}
	return float64(wk.model.PinnedWeight()) / float64(wk.model.Capacity())
}
