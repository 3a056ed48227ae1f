package seq_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
)

func mkTrace(bs, out int, chains ...[]trace.BlockID) *trace.Trace {
	tr := &trace.Trace{Info: trace.Info{Source: "test", BlockSize: bs}}
	for i, ch := range chains {
		r := trace.Request{Index: i, Input: len(ch) * bs, Output: out, Blocks: ch, LastBlockTokens: bs, Session: -1, Parent: trace.NoParent}
		if len(ch) == 0 {
			r.LastBlockTokens = 0
		}
		tr.Requests = append(tr.Requests, r)
	}
	return tr
}

func spec(s string) param.Spec {
	sp, err := param.Parse(s)
	if err != nil {
		panic(err)
	}
	return sp
}

func worked() *trace.Trace {
	return mkTrace(16, 0, []trace.BlockID{1, 2}, []trace.BlockID{3}, []trace.BlockID{1, 2, 4}, []trace.BlockID{5}, []trace.BlockID{3}, []trace.BlockID{1, 2})
}

func TestWorkedExampleRatios(t *testing.T) {
	for _, c := range []struct {
		evict  string
		hits   int64
		ratio  float64
		phases int64
	}{{"lru", 3, 7.0 / 6, 0}, {"opt", 4, 1, 0}, {"rlt", 3, 7.0 / 6, 5}} {
		res, err := seq.Run(worked(), seq.Config{Workers: 1, Router: spec("round_robin"), Evict: spec(c.evict),
			Unit: kvcache.Blocks, Capacity: 3, Seed: 1, VsOpt: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.HitBlocks != c.hits || res.Phases != c.phases || res.InputBlocks != 10 {
			t.Errorf("%s: hits %d phases %d", c.evict, res.HitBlocks, res.Phases)
		}
		if res.OptMissed != 6 || res.BeladyMissed != 6 || math.Abs(*res.RatioVsOpt-c.ratio) > 1e-12 || math.Abs(*res.RatioVsBelady-c.ratio) > 1e-12 {
			t.Errorf("%s: opt %d belady %d ratios %v %v", c.evict, res.OptMissed, res.BeladyMissed, *res.RatioVsOpt, *res.RatioVsBelady)
		}
		b := res.Bounds
		if b.K == nil || *b.K != 1 || *b.LRUBound != 1 || *b.HarmonicK != 1 || *b.RLTBound != 2 || b.Longest != 3 {
			t.Errorf("%s: bounds %+v", c.evict, b)
		}
		want := "round_robin+" + c.evict + ";cache_blocks=3;oversize=error;seed=1;workers=1"
		if res.Scenario != want {
			t.Errorf("scenario %q, want %q", res.Scenario, want)
		}
	}
}

func TestBoundsNA(t *testing.T) {
	res, err := seq.Run(mkTrace(1, 2, []trace.BlockID{0, 1, 2}), seq.Config{Workers: 1, Router: spec("round_robin"), Evict: spec("lru"),
		Unit: kvcache.Blocks, Capacity: 5, Seed: 1, VsOpt: true})
	if err != nil {
		t.Fatal(err)
	}
	// L = 3 blocks + 2 output = 5: k = 1. With B = 4 the request is oversize.
	if *res.Bounds.K != 1 {
		t.Fatalf("k = %v", *res.Bounds.K)
	}
}

// A cancelled context stops the ratio step with the context's error.
func TestSequentialRatiosCancel(t *testing.T) {
	tr := mkTrace(1, 0, []trace.BlockID{0}, []trace.BlockID{1}, []trace.BlockID{0})
	reqs := []*trace.Request{&tr.Requests[0], &tr.Requests[1], &tr.Requests[2]}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := seq.SequentialRatios(ctx, reqs, spec("lru"), nil, kvcache.Blocks, 2, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	r, err := seq.SequentialRatios(context.Background(), reqs, spec("lru"), nil, kvcache.Blocks, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	// B = 1: lru and opt both miss all three.
	if r.Sequence != 3 || r.PolicyMissed != 3 || r.OptMissed != 3 || *r.RatioVsOpt != 1 {
		t.Fatalf("%+v", r)
	}
}

func TestOversize(t *testing.T) {
	tr := mkTrace(16, 0, []trace.BlockID{0}, []trace.BlockID{1, 2, 3, 4}, []trace.BlockID{0, 5})
	tr.Requests[1].Source = "t.jsonl:2"
	cfg := seq.Config{Workers: 1, Router: spec("round_robin"), Evict: spec("lru"), Unit: kvcache.Blocks, Capacity: 3, Seed: 1}
	_, err := seq.Run(tr, cfg)
	var oe *seq.OversizeError
	if !errors.As(err, &oe) || oe.Index != 1 || !strings.Contains(err.Error(), "t.jsonl:2") {
		t.Fatalf("oversize=error: %v", err)
	}
	cfg.Oversize = "fail"
	res, err := seq.Run(tr, cfg)
	if err != nil || res.Failed.Count != 1 || res.Completed != 2 || res.Requests != 3 || res.HitBlocks != 1 || res.InputTokens != 48 {
		t.Fatalf("fail: %+v %v", res, err)
	}
	cfg.Oversize = "bypass"
	cfg.VsOpt = true
	res, err = seq.Run(tr, cfg)
	if err != nil || res.Bypassed != 1 || res.Completed != 3 || res.Failed.Count != 0 || res.InputBlocks != 7 || res.HitBlocks != 1 || res.OptMissed != 2 {
		t.Fatalf("bypass: %+v %v", res, err)
	}
	if !strings.Contains(res.Scenario, "oversize=bypass") {
		t.Error(res.Scenario)
	}
}

func TestWorkersAndJSON(t *testing.T) {
	var chains [][]trace.BlockID
	for i := range 40 {
		chains = append(chains, []trace.BlockID{trace.BlockID(i % 5), trace.BlockID(5 + i%7)})
	}
	tr := mkTrace(4, 3, chains...)
	for _, router := range []string{"round_robin", "random", "consistent_hash"} {
		cfg := seq.Config{Workers: 3, Router: spec(router), Evict: spec("rlt"), Unit: kvcache.Tokens, Capacity: 12, Seed: 7, VsOpt: true}
		var seen int
		cfg.OnRequest = func(seq.Outcome) { seen++ }
		a, err := seq.Run(tr, cfg)
		if err != nil {
			t.Fatal(router, err)
		}
		cfg.OnRequest = nil
		b, _ := seq.Run(tr, cfg)
		// ElapsedS is not serialised, so the JSON is byte-identical as is.
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("%s: same seed, different results", router)
		}
		if seen != 40 || len(a.Workers) != 3 {
			t.Fatalf("%s: %d outcomes, %d workers", router, seen, len(a.Workers))
		}
		var sumReq, sumHit int
		for _, w := range a.Workers {
			sumReq += w.Requests
			sumHit += int(w.HitTokens)
		}
		if sumReq != 40 || int64(sumHit) != a.HitTokens {
			t.Errorf("%s: per-worker sums %d %d", router, sumReq, sumHit)
		}
		for _, f := range []string{"requests", "completed", "failed", "bypassed", "skipped_lines", "token_hit_ratio", "block_hit_ratio",
			"hit_blocks", "hit_tokens", "input_tokens", "evicted", "phases", "opt_missed", "belady_missed", "ratio_vs_opt",
			"ratio_vs_belady", "bounds", "harmonic_k", "lru_bound", "rlt_bound", "scenario", "workers"} {
			if !strings.Contains(string(ja), `"`+f+`"`) {
				t.Errorf("JSON lacks %s", f)
			}
		}
		if a.OptLabel != "farthest-in-future heuristic" || a.BeladyLabel != "compulsory misses only" {
			t.Errorf("token-mode labels %q %q", a.OptLabel, a.BeladyLabel)
		}
		if router == "round_robin" && a.Workers[0].Requests != 14 {
			t.Errorf("round robin gave worker 0 %d requests", a.Workers[0].Requests)
		}
	}
	if _, err := seq.Run(tr, seq.Config{Workers: 2, Router: spec("lbgr"), Evict: spec("lru"), Unit: kvcache.Blocks, Capacity: 10}); err == nil ||
		!strings.Contains(err.Error(), "needs simulated time") {
		t.Errorf("timed router accepted: %v", err)
	}
	if _, err := seq.Run(tr, seq.Config{Workers: 1, Router: spec("round_robin"), Evict: spec("nope"), Unit: kvcache.Blocks, Capacity: 10}); err == nil ||
		!strings.Contains(err.Error(), "valid: fifo, lfu, lru, opt, random_leaf, rlt, s3fifo, server_lru, sieve") {
		t.Errorf("unknown policy: %v", err)
	}
	if _, err := seq.Run(tr, seq.Config{Workers: 1, Router: spec("round_robin"), Evict: spec("s3fifo:small_ratio=2"), Unit: kvcache.Blocks, Capacity: 10}); err == nil ||
		!strings.Contains(err.Error(), "parameter small_ratio: 2 outside the allowed range [0.01, 0.9]") {
		t.Errorf("bad parameter: %v", err)
	}
}

func TestCompareOptCycle(t *testing.T) {
	k := 8
	var reqs []*trace.Request
	tr := mkTrace(1, 0)
	for i := 0; i < (k+1)*(k+1); i++ {
		tr.Requests = append(tr.Requests, trace.Request{Index: i, Input: 1, Blocks: []trace.BlockID{trace.BlockID(i % (k + 1))}, LastBlockTokens: 1})
	}
	for i := range tr.Requests {
		reqs = append(reqs, &tr.Requests[i])
	}
	r, err := seq.CompareOpt(context.Background(), reqs, kvcache.Blocks, int64(k), 1, int64(len(reqs)))
	if err != nil {
		t.Fatal(err)
	}
	// opt misses the first round (k+1) and k+1 more after it.
	if r.OptMissed != 2*int64(k+1) || r.BeladyMissed != r.OptMissed || *r.Bounds.K != int64(k) {
		t.Fatalf("%+v", r)
	}
	if math.Abs(*r.Bounds.HarmonicK-2.717857142857143) > 1e-12 {
		t.Errorf("H_8 = %v", *r.Bounds.HarmonicK)
	}
}

// Progress hears each worker's end with the requests replayed so far, up
// to every request of the trace.
func TestProgress(t *testing.T) {
	tr := mkTrace(16, 0, []trace.BlockID{0}, []trace.BlockID{1, 2}, []trace.BlockID{0, 3}, []trace.BlockID{4})
	var steps [][2]int
	cfg := seq.Config{Workers: 3, Router: spec("round_robin"), Evict: spec("lru"), Unit: kvcache.Blocks, Capacity: 8, Seed: 1,
		Progress: func(done, total int) { steps = append(steps, [2]int{done, total}) }}
	if _, err := seq.Run(tr, cfg); err != nil {
		t.Fatal(err)
	}
	// Round robin over 3 workers: 2, 1 and 1 requests.
	if want := [][2]int{{2, 4}, {3, 4}, {4, 4}}; !slices.Equal(steps, want) {
		t.Errorf("progress %v, want %v", steps, want)
	}
}
