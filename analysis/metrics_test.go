package analysis

import (
	"context"
	"testing"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
	"github.com/kvscope/kvscope/samples"
)

// TestMaxLoadLowerBoundHolds: no run beats SPEC §9's lower bound on
// max_load_s, whatever the router, policy, cache or worker count; and the
// metrics account for every request.
func TestMaxLoadLowerBoundHolds(t *testing.T) {
	tr := tracetest.Sample(t, samples.Mooncake)
	tr.Requests = tr.Requests[:500]
	for _, s := range []string{
		"round_robin+lru;workers=4;cache_blocks=300;oversize=bypass",
		"lbgr+rlt;workers=2;cache_blocks=2000",
		"cache_aware+lru;workers=8;cache_tokens=400000;oversize=fail;latency=linear:cached_ms=0.01,miss_ms=0.1,out_ms=1",
		"least_load+fifo;workers=1;cache_blocks=5000;rate=50",
	} {
		sc, err := scenario.Parse(s, scenario.Default(param.Spec{}, param.Spec{}))
		if err != nil {
			t.Fatal(err)
		}
		run, err := sim.Simulate(context.Background(), tr, sc, sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m := Summary(tr, run, sc)
		if m.MaxLoadRatio == nil || *m.MaxLoadRatio < 1-1e-9 {
			t.Errorf("%s: max_load_s %.3f below its lower bound (ratio %v)", s, m.MaxLoadS, m.MaxLoadRatio)
		}
		if m.Completed+m.Failed != m.Requests || m.Requests != len(tr.Requests) {
			t.Errorf("%s: completed %d + failed %d != requests %d", s, m.Completed, m.Failed, m.Requests)
		}
		if m.InputTokens == 0 || m.TokenHitRatio < 0 || m.TokenHitRatio > 1 {
			t.Errorf("%s: token hit ratio %v over %d tokens", s, m.TokenHitRatio, m.InputTokens)
		}
	}
}
