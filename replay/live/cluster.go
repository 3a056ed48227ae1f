package live

import "github.com/kvscope/kvscope/replay/trace"

// clusterView is route.Cluster over the live workers: Match from kvscope's
// model of each worker's cache (precise=true routers read it: no KV events
// are consumed), Waiting and Usage from the latest /metrics reading, or,
// without one, the driver's own in-flight count and the model's pinned share.
// Called by the router under d.mu.
type clusterView struct{ d *driver }

func (v clusterView) Match(w int, r *trace.Request) (int, int) {
	h := v.d.workers[w].model.Match(r.Blocks)
	return h, h * v.d.bs
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
