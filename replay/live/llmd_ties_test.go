package live

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// idleGauges is a fake worker whose /metrics also reports an empty queue
// and an empty KV cache, always: llmd's queue and kv scores then tie on
// every worker, as on equally loaded real workers.
type idleGauges struct{ *fake }

func (g idleGauges) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.fake.ServeHTTP(w, r)
	if r.URL.Path == "/metrics" {
		fmt.Fprintf(w, "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name=\"m\"} 0\n")
		fmt.Fprintf(w, "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{model_name=\"m\"} 0\n")
	}
}

// Issue 17, finding 7: llmd at concurrency 8 sent none of 500 requests to
// worker 3, because its tied scores went to the lowest index. Live, its
// exact ties are drawn from the router stream seeded by Config.Seed: every
// worker gets a fair share; at concurrency 1 (where the routing order is
// the trace's, not the goroutines') the same seed routes every request the
// same way and another seed differently.
func TestLiveLLMDBreaksTiesFromTheSeed(t *testing.T) {
	var urls []string
	for range 4 {
		srv := httptest.NewServer(idleGauges{newFake()})
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	// No shared prefixes: the prefix score is 0 everywhere, so every
	// decision is a four-way tie.
	tr := treeTrace(t, 4, 500, 1, 6, 4, 0, 0)
	run := func(seed uint64, concurrency int) []int {
		res := liveRun(t, tr, urls, Config{Router: "llmd", Seed: seed, Concurrency: concurrency, Client: ClientConfig{Model: "m"}})
		if res.Completed != 500 {
			t.Fatalf("seed %d: %d of 500 completed: %v", seed, res.Completed, res.FailReasons)
		}
		routed := make([]int, len(res.Records))
		count := make([]int, 4)
		for i, r := range res.Records {
			routed[i] = r.Routed
			count[r.Routed]++
		}
		// 125 expected each; binomial σ ≈ 9.7, so 75..175 is over 5σ.
		for w, c := range count {
			if c < 75 || c > 175 {
				t.Errorf("seed %d concurrency %d: worker %d routed %d of 500 (counts %v)", seed, concurrency, w, c, count)
			}
		}
		t.Logf("seed %d concurrency %d: routed per worker %v", seed, concurrency, count)
		return routed
	}
	run(1, 8)
	a, b, other := run(1, 1), run(1, 1), run(2, 1)
	if !slices.Equal(a, b) {
		t.Error("the same seed routed differently")
	}
	if slices.Equal(a, other) {
		t.Error("seeds 1 and 2 routed alike: the ties do not come from the seed")
	}
}
