package route

import (
	"errors"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// overlap is what the cache-aware routers (cache_aware, dynamo, lbgr, llmd)
// know of each worker's cached prefix: the worker's true cache (precise,
// Cluster.Match) or the router's own routing-history tree (history.go).
// They embed it, so its fields read as theirs.
type overlap struct {
	precise bool
	cluster Cluster
	// tree is the routing-history tree; nil when precise, except for
	// cache_aware, which keeps it for the smallest-tree fallback.
	tree *history
	// tok and blk are each worker's matched tokens and blocks for the
	// request being routed (match fills them).
	tok []float64
	blk []int
}

// newOverlap checks that precise has the workers' caches to read and
// sizes the per-worker matches; the caller sets tree.
func newOverlap(env Env, precise bool) (overlap, error) {
	if precise && env.Cluster == nil {
		return overlap{}, errors.New("precise=true reads the workers' caches, which need the simulator (no cluster here); use precise=false for a routing-history tree")
	}
	n := env.Workers
	return overlap{precise: precise, cluster: env.Cluster, tok: make([]float64, n), blk: make([]int, n)}, nil
}

// match fills tok and blk with every worker's match for req.
func (o *overlap) match(req *trace.Request) {
	if !o.precise {
		o.tree.match(req, o.tok, o.blk)
		return
	}
	for i := range o.blk {
		b, t := o.cluster.Match(i, req)
		o.blk[i], o.tok[i] = b, float64(t)
	}
}

// advanceTree moves the tree's clock to now (its periodic trims).
func (o *overlap) advanceTree(now time.Duration) {
	if o.tree != nil {
		o.tree.advance(now)
	}
}

// routed records in the tree that req went to worker w.
func (o *overlap) routed(w int, req *trace.Request) {
	if o.tree != nil {
		o.tree.insert(w, req)
	}
}

// Live names the block ids in the routing-history tree (Holder); a router
// without one (precise=true, except cache_aware) holds none.
func (o *overlap) Live(keep func(trace.BlockID)) {
	if o.tree != nil {
		o.tree.live(keep)
	}
}
