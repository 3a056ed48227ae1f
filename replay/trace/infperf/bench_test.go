package infperf

import (
	"io"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

// BenchmarkGenerate generates a workload the size of the largest measured
// run of ../shared/vllm-groundtruth (Llama-2-7B general: 10 groups × 10
// prompts of 100 + 447 tokens, 248 out, constant stages 8/s and 20/s for
// 600 s each: 16,800 requests) into the native writer, discarding the
// bytes.
func BenchmarkGenerate(b *testing.B) {
	c := load(b, "testdata/dump_shared_prefix.yaml")
	c.Data.SharedPrefix = &SharedPrefix{Groups: 10, PromptsPerGroup: 10,
		SystemPromptLen: Length{Const: 100}, QuestionLen: Length{Const: 447}, OutputLen: Length{Const: 248}}
	c.Load.Stages = []Stage{{Rate: 8, Duration: 600}, {Rate: 20, Duration: 600}}
	p := &Params{Config: c, BlockSize: DefaultBlockSize, Seed: 1}
	var n int64
	for b.Loop() {
		w, err := trace.NewNativeWriter(io.Discard, p.BlockSize, p.Canonical())
		if err != nil {
			b.Fatal(err)
		}
		sum, err := p.Run(func(r *trace.Request) error { return w.Write(r, nil) })
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		n += sum.Requests
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "requests/s")
}
