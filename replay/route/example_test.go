package route_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// How a simulator drives a router: observe the instants the router asks
// for, route each arrival, report each completion, all in time order.
func Example() {
	r, canon, err := route.New("lbgr", route.Env{
		Workers: 2, BlockSize: 16,
		Rand:   rand.New(rand.NewPCG(1, 2)), // the scenario's router stream
		MissMs: 0.15,                        // the latency model's ms per missed token
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(canon)
	a := &trace.Request{Index: 0, Input: 40, Blocks: []trace.BlockID{0, 1, 2}, LastBlockTokens: 8}
	b := &trace.Request{Index: 1, Input: 40, Blocks: []trace.BlockID{0, 1, 3}, LastBlockTokens: 8}
	for _, rq := range []*trace.Request{a, b} {
		now := time.Duration(rq.Index) * time.Millisecond
		for at, ok := r.NextObserve(); ok && at <= now; at, ok = r.NextObserve() {
			r.Observe(at) // llmd's scrapes; no-op for the others
		}
		d := r.Route(now, rq)
		fmt.Printf("request %d → worker %d, %s %v: %s\n", rq.Index, d.Worker, d.Unit(), d.Scores, d.Reason())
	}
	if err := r.Complete(route.Completion{Worker: 0, Req: a, Routed: 0, Done: 30 * time.Millisecond, E2E: 30 * time.Millisecond}); err != nil {
		panic(err)
	}
	fmt.Println(r.LoadUnit(), r.Loads(30*time.Millisecond, nil))
	// Output:
	// lbgr:precise=false,preset=code
	// request 0 → worker 0, E (ms) [40 40]: lbgr: lowest E → worker 0: 40 ms = prefill 40 + W 0 + learned 0, 0 tokens cached in the router's view; next best worker 1: 40 ms = prefill 40 + W 0 + learned 0, 0 cached
	// request 1 → worker 1, E (ms) [48 40]: lbgr: lowest E → worker 1: 40 ms = prefill 40 + W 0 + learned 0, 0 tokens cached in the router's view; next best worker 0: 48 ms = prefill 8 + W 40 + learned 0, 32 cached; largest difference: W, 40 ms lower on worker 1
	// W (ms) [0 38.75]
}
