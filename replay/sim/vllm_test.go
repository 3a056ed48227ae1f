package sim

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
)

// frontend_ms=0: requests enter the waiting queue at their arrival.
const vllmBase = "round_robin+lru;profile=h100-sxm-llama-2-7b;latency=vllm:block_size=4,frontend_ms=0"

func runVLLM(t *testing.T, tr *trace.Trace, sc string) (*Run, *fixedIter) {
	t.Helper()
	f := &fixedIter{}
	run, err := Simulate(context.Background(), tr, mustScenario(t, sc), Options{iterModel: f})
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, tr, run)
	return run, f
}

func ms10(n int) time.Duration { return time.Duration(n) * 10 * time.Millisecond }

func TestVLLMChunkedPrefill(t *testing.T) {
	// 40 tokens, budget 16: chunks 16, 16, 8 (first token at the end of
	// the third step), then two decode steps at contexts 40 and 41.
	tr := mkTrace(t, 4, 0, 3, seqIDs(1, 10))
	run, f := runVLLM(t, tr, vllmBase+",max_num_batched_tokens=16")
	r := run.Records[0]
	if r.FirstToken != ms10(3) || r.Done != ms10(5) {
		t.Fatalf("first token %v done %v, want 30ms and 50ms", r.FirstToken, r.Done)
	}
	want := [][]Chunk{{{16, 0}}, {{16, 16}}, {{8, 32}}, nil, nil}
	for i, w := range want {
		if !slices.Equal(f.batches[i], w) {
			t.Fatalf("step %d prefill %v, want %v", i+1, f.batches[i], w)
		}
	}
	if len(f.batches) != 5 || f.decodes[3] != 1 || f.decodes[4] != 1 {
		t.Fatalf("%d steps, decodes %v", len(f.batches), f.decodes)
	}
}

func TestVLLMAdmissionMaxNumSeqs(t *testing.T) {
	// Three 4-token requests at t=0, 2 outputs each. The first arrival
	// starts step 1 alone; with max_num_seqs=2 request 2 waits until
	// request 0 finishes at 20 ms; with 3 it joins request 1 in step 2.
	tr := mkTrace(t, 4, 0, 2, seqIDs(1, 1), seqIDs(11, 1), seqIDs(21, 1))
	run, f := runVLLM(t, tr, vllmBase+",max_num_seqs=2")
	want := [][3]int{{0, 1, 2}, {1, 2, 3}, {2, 3, 4}} // start, first token, done (×10 ms)
	for i, w := range want {
		r := run.Records[i]
		if r.Start != ms10(w[0]) || r.FirstToken != ms10(w[1]) || r.Done != ms10(w[2]) {
			t.Fatalf("max_num_seqs=2: request %d start %v first %v done %v, want %v ×10ms", i, r.Start, r.FirstToken, r.Done, w)
		}
	}
	if !slices.Equal(f.batches[1], []Chunk{{4, 0}}) || f.decodes[1] != 1 {
		t.Fatalf("step 2: prefill %v decodes %d", f.batches[1], f.decodes[1])
	}
	run, f = runVLLM(t, tr, vllmBase+",max_num_seqs=3")
	if r := run.Records[2]; r.Start != ms10(1) || r.Done != ms10(3) {
		t.Fatalf("max_num_seqs=3: request 2 start %v done %v, want 10ms and 30ms", r.Start, r.Done)
	}
	if !slices.Equal(f.batches[1], []Chunk{{4, 0}, {4, 0}}) {
		t.Fatalf("max_num_seqs=3: step 2 prefill %v", f.batches[1])
	}
}

func TestVLLMPrefixHitKeepsLastToken(t *testing.T) {
	// Request 1 repeats request 0's 3-block prompt after it finished: the
	// hit is capped at num_tokens−1, so 2 blocks hit and the last block's
	// 4 tokens are computed on top of 8 cached.
	tr := mkTrace(t, 4, 100*time.Millisecond, 1, seqIDs(1, 3), seqIDs(1, 3))
	run, f := runVLLM(t, tr, vllmBase)
	r := run.Records[1]
	if r.HitBlocks != 2 || r.HitTokens != 8 {
		t.Fatalf("hit %d blocks %d tokens, want 2 and 8", r.HitBlocks, r.HitTokens)
	}
	if !slices.Equal(f.batches[1], []Chunk{{4, 8}}) || r.Done != 110*time.Millisecond {
		t.Fatalf("second request's step %v done %v", f.batches[1], r.Done)
	}
}

func TestVLLMPreemptionRecomputeAndTailFirstEviction(t *testing.T) {
	// A pool of 5 blocks of 4 tokens; two 8-token prompts (different
	// chains) at t=0, 8 outputs each. Hand-derived schedule (10 ms steps):
	//  1 r0 prefill 8 (blocks 0,1)              → r0 first token at 10
	//  2 r0 decode (block 2); r1 prefill 8 (3,4) → r1 first token at 20
	//  3 r0 decode; r1 needs a 3rd block, none free: r1 is the last
	//    running request and is preempted, freeing 4 then 3 (tail first)
	//  4,5 r1's 2 cached blocks (in the free queue) + 1 new > 2 free: waits
	//  6 r0 takes a 4th block, the free queue's head: block 4, r1's tail,
	//    whose hash is dropped; r1 now hits 1 block (needs 1+2 > 1): waits
	//  7,8 r0 decodes; r0 done at 80, freeing 4 blocks
	//  9 r1 resumes: hits block 3 (4 tokens), recomputes 5 tokens (4 of
	//    its prompt and its first output) → its 2nd token at 90
	// 10–15 decodes → r1 done at 150.
	tr := mkTrace(t, 4, 0, 8, seqIDs(1, 2), seqIDs(11, 2))
	run, f := runVLLM(t, tr, vllmBase+";cache_blocks=5")
	r0, r1 := run.Records[0], run.Records[1]
	if r0.Done != ms10(8) || r1.FirstToken != ms10(2) || r1.Done != ms10(15) {
		t.Fatalf("r0 done %v, r1 first %v done %v; want 80ms, 20ms, 150ms", r0.Done, r1.FirstToken, r1.Done)
	}
	if run.Capacity != 5 || run.Unit != "blocks" {
		t.Fatalf("capacity %d %s, want the pool's 5 blocks", run.Capacity, run.Unit)
	}
	if run.Preemptions != 1 {
		t.Fatalf("%d preemptions, want 1", run.Preemptions)
	}
	if !slices.Equal(f.batches[8], []Chunk{{5, 4}}) {
		t.Fatalf("step 9 prefill %v, want the recompute {5 4}", f.batches[8])
	}
	for s := 2; s < 8; s++ {
		if len(f.batches[s]) != 0 || f.decodes[s] != 1 {
			t.Fatalf("step %d: prefill %v decodes %d, want r0's decode alone", s+1, f.batches[s], f.decodes[s])
		}
	}
	n := 0
	for _, e := range run.Events {
		if e.Kind == LogPreempt {
			n++
			if e.Req != 1 || e.T != ms10(2) {
				t.Fatalf("preempt event %+v", e)
			}
		}
	}
	if n != 1 || len(f.batches) != 15 {
		t.Fatalf("%d preempt events, %d steps", n, len(f.batches))
	}
}

func TestVLLMPoolFromProfile(t *testing.T) {
	// Llama-2-7B on one H100 SXM (80 GiB) at 0.9 utilization, 2 GiB
	// reserve: (72 GiB − 12.55 GiB of weights − 2 GiB) / (16 tokens ×
	// 512 KiB) blocks, cache_tokens giving the pool in tokens instead.
	tr := mkTrace(t, 16, 0, 1, seqIDs(1, 2))
	run, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;profile=h100-sxm-llama-2-7b;latency=vllm"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const gib = 1 << 30
	weights := 2 * float64(6738415616) // Llama-2-7B's parameters, bf16
	want := int64((80*gib*0.9 - weights - 2*gib) / (16 * 524288))
	if run.Capacity != want {
		t.Fatalf("pool %d blocks, want %d", run.Capacity, want)
	}
	run, err = Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;profile=h100-sxm-llama-2-7b;cache_tokens=160;latency=vllm"), Options{})
	if err != nil || run.Capacity != 10 {
		t.Fatalf("cache_tokens=160: %v, %d blocks", err, run.Capacity)
	}
}

func TestVLLMTimeoutAndLimits(t *testing.T) {
	// timeout_s=0.025: request 0 (1 output per step, 10 outputs) is
	// aborted at the first step boundary past 25 ms; request 1's prompt
	// plus outputs exceed max_model_len and fail at arrival.
	tr := mkTrace(t, 4, 0, 10, seqIDs(1, 1), seqIDs(11, 3))
	run, _ := runVLLM(t, tr, vllmBase+",timeout_s=0.025,max_model_len=16")
	r0, r1 := run.Records[0], run.Records[1]
	if r0.Status != Failed || !strings.Contains(r0.Fail, "timeout") {
		t.Fatalf("request 0: %v %q", r0.Status, r0.Fail)
	}
	if r1.Status != Failed || !strings.Contains(r1.Fail, "max_model_len 16") {
		t.Fatalf("request 1: %v %q", r1.Status, r1.Fail)
	}
}

func TestVLLMBadParams(t *testing.T) {
	tr := mkTrace(t, 16, 0, 1, seqIDs(1, 2))
	for _, c := range []struct{ sc, want string }{
		{"round_robin+lru;profile=h100-sxm-llama-2-7b;latency=vllm:max_num_seqs=0", "max_num_seqs"},
		{"round_robin+lru;profile=h100-sxm-llama-2-7b;latency=vllm:gpu_memory_utilization=2", "gpu_memory_utilization"},
		{"round_robin+lru;profile=h100-sxm-llama-2-7b;latency=vllm:max_num_batched_token=8", "max_num_batched_token"},
		{"round_robin+lru;profile=h100-sxm-llama-2-7b;latency=vllm:block_size=32", "block_size 32 differs from the trace's block size 16"},
		{"round_robin+lru;profile=h100-sxm-llama-2-7b;latency=vllm:tp=2", "tp=2 differs"},
		{"round_robin+lru;profile=h100-sxm-llama-2-7b;latency=vllm:gpu_memory_utilization=0.1", "leaves no KV blocks"},
		{"round_robin+lru;cache_blocks=10;latency=vllm", "needs a profile"},
		{"round_robin+lru;profile=h100-sxm-llama-2-7b;keep_outputs=true;latency=vllm", "keep_outputs is not modeled"},
	} {
		sc, err := scenario.Parse(c.sc, scenario.Default(param.Spec{}, param.Spec{}))
		if err == nil {
			_, err = Simulate(context.Background(), tr, sc, Options{})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.sc, err, c.want)
		}
	}
}

// FuzzVLLM runs random small workloads through a tight pool: every
// request ends exactly once, times are ordered, and a second run gives
// the same records.
func FuzzVLLM(f *testing.F) {
	f.Add(uint64(1), uint8(6), uint8(16), uint8(2))
	f.Add(uint64(7), uint8(3), uint8(4), uint8(1))
	f.Fuzz(func(t *testing.T, seed uint64, blocks, budget, seqs uint8) {
		rng := rand.New(rand.NewPCG(seed, 3))
		var chains [][]uint64
		for range 1 + rng.IntN(12) {
			n := 1 + rng.IntN(3)
			ch := seqIDs(1+rng.IntN(3)*10, n) // shared prefixes across requests
			chains = append(chains, ch)
		}
		tr := mkTrace(t, 4, time.Duration(rng.IntN(20))*time.Millisecond, 1+rng.IntN(6), chains...)
		sc := vllmBase + ",max_num_batched_tokens=" + strconv.Itoa(1+int(budget)%40) + ",max_num_seqs=" + strconv.Itoa(1+int(seqs)%5) +
			",timeout_s=" + strconv.Itoa(rng.IntN(2)) + ";cache_blocks=" + strconv.Itoa(1+int(blocks)%12)
		a, _ := runVLLM(t, tr, sc)
		b, _ := runVLLM(t, tr, sc)
		if !reflect.DeepEqual(a.Records, b.Records) {
			t.Fatal("two runs differ")
		}
	})
}

// The latency registry answers what the scenario grammar and help ask:
// names, docs, parameters, whether a profile is needed.
func TestLatencyRegistry(t *testing.T) {
	if got := LatencyNames(); !slices.Equal(got, []string{"engine", "linear", "vllm"}) {
		t.Fatalf("names %v", got)
	}
	for _, n := range LatencyNames() {
		in, err := LookupLatency(n)
		if err != nil || in.Doc == "" {
			t.Fatalf("%s: %v, doc %q", n, err, in.Doc)
		}
		ps, err := LatencyParams(param.Spec{Name: n})
		if err != nil {
			t.Fatal(err)
		}
		// Every parameter read is documented, and nothing else.
		if len(ps) != len(in.ParamDocs) {
			t.Errorf("%s reads %d parameters, documents %d", n, len(ps), len(in.ParamDocs))
		}
		for _, d := range ps {
			if in.ParamDocs[d.Key] == "" {
				t.Errorf("%s: parameter %s has no doc", n, d.Key)
			}
		}
		if in.NeedsProfile == (n == "linear") || in.LowerBound != (n == "linear") {
			t.Errorf("%s: needs profile %v, lower bound %v", n, in.NeedsProfile, in.LowerBound)
		}
	}
	tr := mkTrace(t, 16, 0, 1, seqIDs(1, 2))
	for _, c := range []struct{ sc, want string }{
		{"lbgr+rlt;cache_blocks=5;latency=engine", "latency=engine needs a profile"},
		{"lbgr+rlt;cache_blocks=5;latency=warp", `unknown latency model "warp" (valid: engine, linear, vllm)`},
		{"lbgr+rlt;cache_blocks=5;latency=vlm", `did you mean "vllm"`},
	} {
		sc := mustScenario(t, c.sc)
		_, err := Simulate(context.Background(), tr, sc, Options{})
		if _, rerr := Resolve(sc); err == nil || rerr == nil || !strings.Contains(err.Error(), c.want) || rerr.Error() != err.Error() {
			t.Errorf("%s: got %v / %v, want an error containing %q", c.sc, err, rerr, c.want)
		}
	}
}

func TestVLLMFrontendDelay(t *testing.T) {
	// frontend_ms=5: the request reaches the waiting queue 5 ms after its
	// arrival; its one-step prefill ends 10 ms later.
	tr := mkTrace(t, 4, 0, 1, seqIDs(1, 2))
	run, _ := runVLLM(t, tr, "round_robin+lru;profile=h100-sxm-llama-2-7b;latency=vllm:block_size=4,frontend_ms=5")
	if r := run.Records[0]; r.Start != 5*time.Millisecond || r.Done != 15*time.Millisecond {
		t.Fatalf("start %v done %v, want 5ms and 15ms", r.Start, r.Done)
	}
}
