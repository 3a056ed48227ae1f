package sim

import (
	"context"
	"testing"
	"time"
)

// fixedIter times every iteration at 10 ms and records the batches.
type fixedIter struct {
	batches [][]Chunk
	decodes []int
}

func (f *fixedIter) Iteration(prefill []Chunk, decodes []int) time.Duration {
	f.batches = append(f.batches, append([]Chunk(nil), prefill...))
	f.decodes = append(f.decodes, len(decodes))
	return 10 * time.Millisecond
}

func TestEngineChunkingAndDecode(t *testing.T) {
	// One 20-block request of 1,000-token blocks (20,000 tokens): chunks of
	// 8192, 8192, 3616 → first token at the end of the third iteration;
	// 3 output tokens → 2 more decode iterations.
	tr := mkTrace(t, 1000, time.Second, 3, seqIDs(1, 20))
	sc := mustScenario(t, "round_robin+lru;cache_blocks=40;latency=engine;profile=h200-llama-3.1-8b-hf")
	f := &fixedIter{}
	run, err := Simulate(context.Background(), tr, sc, Options{iterModel: f})
	if err != nil {
		t.Fatal(err)
	}
	r := run.Records[0]
	if r.FirstToken != 30*time.Millisecond || r.Done != 50*time.Millisecond {
		t.Fatalf("first token %v done %v, want 30ms and 50ms", r.FirstToken, r.Done)
	}
	want := []Chunk{{8192, 0}, {8192, 8192}, {3616, 16384}}
	for i, w := range want {
		if len(f.batches[i]) != 1 || f.batches[i][0] != w {
			t.Fatalf("iteration %d prefill %v, want %v", i, f.batches[i], w)
		}
	}
	if f.decodes[3] != 1 || f.decodes[4] != 1 || len(f.batches) != 5 {
		t.Fatalf("decode iterations %v over %d iterations", f.decodes, len(f.batches))
	}
}

func TestEngineHeadOfLineAndSharedCompute(t *testing.T) {
	// Capacity 6 blocks of 10 tokens. Request 0 takes 4 blocks + 1 output
	// block and runs 3 decode iterations; request 1 (also 4 blocks, a
	// different chain) cannot be admitted until 0 completes, and request 2,
	// small, waits behind it (strict FCFS).
	tr := mkTrace(t, 10, 0, 4, seqIDs(1, 4), seqIDs(11, 4), seqIDs(21, 1))
	sc := mustScenario(t, "round_robin+lru;cache_blocks=6;latency=engine;profile=h200-llama-3.1-8b-hf")
	run, err := Simulate(context.Background(), tr, sc, Options{iterModel: &fixedIter{}})
	if err != nil {
		t.Fatal(err)
	}
	r0, r1, r2 := run.Records[0], run.Records[1], run.Records[2]
	if r0.Start != 0 || r0.Done != 40*time.Millisecond {
		t.Fatalf("request 0: start %v done %v", r0.Start, r0.Done)
	}
	if r1.Start != r0.Done || r2.Start < r1.Start {
		t.Fatalf("head of line: r1 start %v (want %v), r2 start %v", r1.Start, r0.Done, r2.Start)
	}
	checkRun(t, tr, run)
}

func seqIDs(from, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(from + i)
	}
	return out
}
