package sim

import (
	"context"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
)

// FuzzScenario: a scenario string that resolves has a canonical string that
// resolves to itself (what every result records reproduces the run), and
// running it on a small trace accounts for every request, with times that
// never go backwards. Nothing panics.
func FuzzScenario(f *testing.F) {
	for _, s := range []string{
		"lbgr+rlt;cache_blocks=8;workers=3",
		"cache_aware:preset=sglang-0.4.6+lru;cache_tokens=64;workers=2;keep_outputs=true",
		"p2c+random_leaf;cache_blocks=5;workers=4;rate=50;seed=9",
		"consistent_hash:n=2+s3fifo;cache_blocks=6;workers=2;time_scale=0.5",
		"round_robin+sieve;workers=2;latency=engine;profile=h200-llama-3.1-8b-hf;session_timing=closed",
		"dynamo:temperature=0.5+fifo;cache_blocks=3;oversize=bypass;workers=2",
		"least_load+lfu;cache_blocks=2;latency=linear:miss_ms=0.5,cached_ms=0.01",
	} {
		f.Add(s)
	}
	tr := mkTrace(f, 4, 3*time.Millisecond, 3,
		[]uint64{1, 2}, []uint64{1, 2, 3}, []uint64{4}, []uint64{1, 5, 6, 7}, []uint64{1, 2, 3, 8}, []uint64{})
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := scenario.Parse(s, scenario.Default(param.Spec{}, param.Spec{}))
		if err != nil {
			return
		}
		cfg, err := resolve(sc, 4)
		if err != nil {
			return
		}
		again, err := scenario.Parse(cfg.canonical, scenario.Default(param.Spec{}, param.Spec{}))
		if err != nil {
			t.Fatalf("%q: canonical %q does not parse: %v", s, cfg.canonical, err)
		}
		cfg2, err := resolve(again, 4)
		if err != nil {
			t.Fatalf("%q: canonical %q does not resolve: %v", s, cfg.canonical, err)
		}
		if cfg2.canonical != cfg.canonical {
			t.Fatalf("%q: canonical %q resolves to %q", s, cfg.canonical, cfg2.canonical)
		}
		if sc.Workers > 16 || cfg.capacity > 1<<20 {
			return // the run below stays small
		}
		run, err := Simulate(context.Background(), tr, sc, Options{})
		if err != nil {
			return // e.g. a request larger than the cache with oversize=error
		}
		if run.Scenario != cfg.canonical {
			t.Fatalf("run records %q, resolved %q", run.Scenario, cfg.canonical)
		}
		if len(run.Records) != len(tr.Requests) {
			t.Fatalf("%d records for %d requests", len(run.Records), len(tr.Requests))
		}
		for i, r := range run.Records {
			if r.Status == Failed {
				if r.Fail == "" {
					t.Fatalf("request %d failed without a reason", i)
				}
				continue
			}
			if r.Start < r.Arrival || r.FirstToken < r.Start || r.Done < r.FirstToken {
				t.Fatalf("request %d: arrival %v start %v first %v done %v", i, r.Arrival, r.Start, r.FirstToken, r.Done)
			}
		}
	})
}
