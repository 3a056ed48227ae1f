package route

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// Router picks a worker for each arriving request (SPEC §7).
//
// Calls come in nondecreasing simulated time: Route, Complete, Observe and
// Loads each carry the time they happen at, and a router first processes
// every time-driven instant of its own (cache_aware's trims, lbgr's W decay)
// that is ≤ that time, so its behaviour does not depend on how often it is
// called. A call with a time earlier than one already seen panics: it is a
// bug in the caller, not bad input. Routers without timing (Info.NeedsTiming
// false: round_robin, random, consistent_hash) ignore time altogether.
type Router interface {
	// Route decides where req goes at simulated time now. The returned
	// Decision's Scores slice is owned by the router, read-only and valid
	// until the next call to Route; copy it to keep it. Routers with
	// routing-history trees keep req (the pointer) in their trim log, so a
	// request must not change while the router lives.
	Route(now time.Duration, req *trace.Request) Decision
	// Complete tells the router that a request it routed has finished (or
	// failed). Every routed request must be completed exactly once, failed
	// ones included, at a time ≥ its routing time. It returns an error when
	// the completion cannot be right: an unknown worker, no request in
	// flight there, done before routed (lbgr, which keeps a record per
	// request, also catches an unknown request or the wrong worker).
	Complete(c Completion) error
	// NextObserve returns the next simulated instant at which the router
	// must sample the cluster (llmd's scrape), and false if it never needs
	// to. The simulator calls Observe(at) exactly at that instant, before
	// any Route at the same time; where completions at the same instant go
	// is the simulator's choice (replay/sim puts them first, so a scrape at
	// t sees what ended at t).
	NextObserve() (at time.Duration, ok bool)
	// Observe samples the cluster at instant at (see NextObserve).
	Observe(at time.Duration)
	// Loads appends the router's own per-worker load, as of time now, to
	// dst and returns it; LoadUnit names it ("requests", "tokens in
	// flight", "W (ms)", ...). This is what the router itself believes, for
	// display and checkpoints.
	Loads(now time.Duration, dst []float64) []float64
	LoadUnit() string
}

// Decision is one routing decision, explainable on its own: the winner, each
// worker's score in the router's units (Unit), and why the winner won.
type Decision struct {
	// Worker is the chosen worker, in [0, workers).
	Worker int
	// Scores has one entry per worker in the units Unit names. The slice is
	// owned by the router and overwritten by the next Route.
	Scores []float64
	// Why holds the rule that decided and its numbers; Reason formats it.
	// It is plain data so that a run can keep it for every request and
	// format it only when shown.
	Why Why
}

// Reason is the human explanation of why Worker won.
func (d Decision) Reason() string { return d.Why.Reason(d.Worker) }

// Ranked writes into dst (reused, returned) every worker in the router's
// order of preference: Worker first, then the others by their Scores in
// the direction the deciding rule prefers, ties by index. Without scores
// or a direction it is Worker, then the workers after it by index,
// wrapping around. The live driver takes the first worker of it that it
// can use.
func (d Decision) Ranked(dst []int) []int {
	n := len(d.Scores)
	dst = dst[:0]
	dst = append(dst, d.Worker)
	var pref Prefer
	if d.Why.Rule != nil {
		pref = d.Why.Rule.Prefer
	}
	if pref == 0 || n == 0 {
		for k := 1; k < max(n, d.Worker+1); k++ {
			dst = append(dst, (d.Worker+k)%max(n, d.Worker+1))
		}
		return dst
	}
	for w := range n {
		if w != d.Worker {
			dst = append(dst, w)
		}
	}
	rest := dst[1:]
	slices.SortStableFunc(rest, func(a, b int) int {
		if pref == PreferHigh {
			return cmp.Compare(d.Scores[b], d.Scores[a])
		}
		return cmp.Compare(d.Scores[a], d.Scores[b])
	})
	return dst
}

// Unit names the units of Scores ("tokens in flight", "matched tokens", ...).
func (d Decision) Unit() string { return d.Why.Unit() }

// Holder is implemented by routers that keep state per block id (the
// routing-history trees of cache_aware, and of dynamo, lbgr and llmd with
// precise=false). Live names through keep every block id the router holds
// state for: a caller that recycles dense ids (trace.Table.Sweep) passes
// it to the sweep, and every id the router does not name may be handed out
// again for another block. The router keeps no state for an id it did not
// name (history.live says why), so a recycled id reads as a block it has
// never seen. Routers without it hold no block ids, except consistent_hash,
// whose key is a hash of the request's first ids: a recycled id changes
// it, so a caller must not recycle under it.
type Holder interface {
	Live(keep func(trace.BlockID))
}

// Completion is the simulator's notice that a routed request finished.
type Completion struct {
	// Worker is the worker the request was routed to.
	Worker int
	// Req is the request as passed to Route.
	Req *trace.Request
	// Routed is the time passed to Route; Done the completion (or failure)
	// time, when the router learns of it.
	Routed, Done time.Duration
	// E2E is the request's end-to-end latency (arrival → last token), the
	// quantity lbgr learns from.
	E2E time.Duration
	// Failed marks a request that ended without being served (SPEC §1
	// oversize=fail, or any failure the simulator reports): load counters
	// drop, but lbgr does not learn from it.
	Failed bool
}

// Cluster is what a precise router (precise=true) and llmd may read of the
// simulated workers; the simulator implements it. Routers with precise=false
// never call Match.
type Cluster interface {
	// Match returns the longest prefix of req's block chain cached on worker
	// w right now, in blocks and in tokens (SPEC §4's hit, as a
	// KV-event-fed router would see it).
	Match(w int, req *trace.Request) (blocks, tokens int)
	// Waiting is the number of requests queued at worker w that have not
	// started their prefill.
	Waiting(w int) int
	// Usage is worker w's (pinned + reserved output capacity) / B, in [0, 1].
	Usage(w int) float64
}

// Env is what a router's constructor gets besides its parameters.
type Env struct {
	// Workers is the number of workers (≥ 1).
	Workers int
	// BlockSize is the trace's tokens per block (≥ 1).
	BlockSize int
	// Rand is the router's own stream, derived from the scenario seed.
	// Required by random, p2c, dynamo with temperature > 0 and llmd (exact
	// score ties).
	Rand *rand.Rand
	// CachedMs and MissMs are the latency model's ms per cached and per
	// missed prefill token (SPEC §8's linear cached_ms/miss_ms, or the
	// engine profile's marginal prefill ms per token at batch 1 for context
	// 0 and 4096). lbgr:preset=paper uses them as a_c and a_m.
	CachedMs, MissMs float64
	// Blocks, when known, is the number of distinct block ids of the trace
	// (trace.Table.Len()): routing-history trees are then allocated once
	// instead of growing. Optional; ids beyond it still work.
	Blocks int
	// Cluster is the simulator's view of the workers, nil in hit-only
	// replay. Required by precise=true routers and by llmd.
	Cluster Cluster
	// Orig, when known, maps a dense block id to the trace's own id
	// (trace.Table.OrigFunc). consistent_hash hashes those, so it routes as
	// a router keyed on the trace's hash_ids would, however the trace was
	// cut. Nil: the dense ids are hashed.
	Orig func(trace.BlockID) uint64
}

func (e Env) check() error {
	if e.Workers < 1 {
		return fmt.Errorf("workers = %d: need at least 1", e.Workers)
	}
	if e.BlockSize < 1 {
		return fmt.Errorf("block size = %d: need at least 1", e.BlockSize)
	}
	return nil
}

// base holds what every router counts: requests routed and not completed
// per worker (SPEC §7's "load"), the time of the latest call, and the
// scores buffer.
type base struct {
	n      int
	reqs   []int64
	scores []float64
	last   time.Duration
	// timeless routers (round_robin, random, consistent_hash) have no
	// time-driven behaviour and accept calls in any time order, so hit-only
	// replay may pass any time.
	timeless bool
}

func newBase(n int) base {
	return base{n: n, reqs: make([]int64, n), scores: make([]float64, n)}
}

// at checks that time does not go backwards.
func (b *base) at(now time.Duration) {
	if b.timeless {
		return
	}
	if now < b.last {
		panic(fmt.Sprintf("route: time went backwards: %v after %v", now, b.last))
	}
	b.last = now
}

// complete checks c and drops the worker's request count.
func (b *base) complete(c Completion) error {
	if c.Worker < 0 || c.Worker >= b.n {
		return fmt.Errorf("route: completion for worker %d of %d", c.Worker, b.n)
	}
	if c.Req == nil {
		return fmt.Errorf("route: completion on worker %d without a request", c.Worker)
	}
	if c.Done < c.Routed {
		return fmt.Errorf("route: request %d completed at %v before it was routed at %v", c.Req.Index, c.Done, c.Routed)
	}
	if b.reqs[c.Worker] <= 0 {
		return fmt.Errorf("route: request %d completed on worker %d, which has none in flight", c.Req.Index, c.Worker)
	}
	b.at(c.Done)
	b.reqs[c.Worker]--
	return nil
}

func (b *base) NextObserve() (time.Duration, bool) { return 0, false }
func (b *base) Observe(at time.Duration)           { b.at(at) }

// requestLoads is the Loads of routers whose load is the request count.
func (b *base) requestLoads(now time.Duration, dst []float64) []float64 {
	b.at(now)
	for _, r := range b.reqs {
		dst = append(dst, float64(r))
	}
	return dst
}

// argmin returns the lowest index of the smallest value (ties to the lowest
// worker index).
func argmin(v []float64) int {
	best := 0
	for i := 1; i < len(v); i++ {
		if v[i] < v[best] {
			best = i
		}
	}
	return best
}

// argmax returns the lowest index of the largest value.
func argmax(v []float64) int {
	best := 0
	for i := 1; i < len(v); i++ {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// inputBlocks is the request's input in blocks: ceil(Input/BlockSize), at
// least its chain length (tokens past the chain count as blocks too, as a
// paged engine would hold them).
func inputBlocks(r *trace.Request, bs int) int {
	n := (r.Input + bs - 1) / bs
	if n < len(r.Blocks) {
		n = len(r.Blocks)
	}
	return n
}
