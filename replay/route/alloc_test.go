package route

import (
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// Routing allocates nothing beyond amortized growth.
func TestRouteAllocations(t *testing.T) {
	gen := newChainGen(1, 16, 3)
	reqs := make([]*trace.Request, 256)
	for i := range reqs {
		reqs[i] = gen.request(i, 12)
	}
	for _, spec := range conformanceSpecs {
		r := mustNew(t, spec, Env{Workers: 8, BlockSize: 16, Blocks: int(gen.next), Rand: rng(1), MissMs: 0.1, Cluster: stubCluster{}})
		now := time.Duration(0)
		i := 0
		step := func() {
			rq := reqs[i%len(reqs)]
			i++
			now += 3 * time.Millisecond
			for at, ok := r.NextObserve(); ok && at <= now; at, ok = r.NextObserve() {
				r.Observe(at)
			}
			d := r.Route(now, rq)
			if err := r.Complete(Completion{Worker: d.Worker, Req: rq, Routed: now, Done: now, E2E: time.Millisecond}); err != nil {
				t.Fatal(err)
			}
		}
		for range 2000 {
			step()
		}
		if a := testing.AllocsPerRun(5000, step); a > 0.02 {
			t.Errorf("%s: %.3f allocations per routing", spec, a)
		}
	}
}
