package infperf

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/trace"
)

// BenchmarkGenerate generates the largest measured workload of
// ../shared/vllm-groundtruth (Llama-2-7B general: 16,800 requests in two
// stages) into the native writer, discarding the bytes.
func BenchmarkGenerate(b *testing.B) {
	dir := filepath.Join(testenv.VLLMGroundTruth(b), "20260217-231439-llama-2-7b-tp1-general", "results", "config.yaml")
	c := load(b, dir)
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
