package seq_test

import (
	"bytes"
	"testing"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/gen"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
)

// multiturnNative is `kvscope gen multiturn --clients N` as native bytes.
func multiturnNative(b *testing.B, clients int) []byte {
	p := gen.DefaultMultiturn()
	p.Clients = clients
	_, data := tracetest.Generate(b, &p, trace.FormatNative, "bench")
	return data
}

var benchCfg = seq.Config{Workers: 8, Router: spec("round_robin"), Evict: spec("lru"), Unit: kvcache.Blocks, Capacity: 4000, Seed: 1}

// Whole-process hit-only replay of a 10k-request multiturn trace, 8
// workers of 4,000 blocks, lru: streamed (RunStream, what `kvscope replay`
// does) against loading the trace first (Run). Reading and parsing are
// included. go test ./replay/seq -run '^$' -bench Multiturn -benchmem
func BenchmarkStreamMultiturn(b *testing.B) {
	data := multiturnNative(b, 2000)
	n := 0
	for b.Loop() {
		s, err := trace.OpenReader("bench", bytes.NewReader(data), trace.ReadOptions{KeepIDs: true})
		if err != nil {
			b.Fatal(err)
		}
		res, err := seq.RunStream(s, benchCfg, 0)
		if err != nil {
			b.Fatal(err)
		}
		n += res.Requests
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "requests/s")
}

func BenchmarkLoadRunMultiturn(b *testing.B) {
	data := multiturnNative(b, 2000)
	n := 0
	for b.Loop() {
		tr, err := trace.LoadBytes("bench", data, trace.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := seq.Run(tr, benchCfg)
		if err != nil {
			b.Fatal(err)
		}
		n += res.Requests
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "requests/s")
}
