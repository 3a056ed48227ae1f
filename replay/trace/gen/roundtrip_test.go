package gen

import (
	"bytes"
	"slices"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
	"github.com/kvscope/kvscope/samples"
)

// TestRoundTrip writes each generator's trace with the chains as they are
// (t == nil) and reads it back: the reader's dense ids must be the
// generator's ids, and every field must survive.
func TestRoundTrip(t *testing.T) {
	gens := []Generator{
		&GSP{Groups: 5, PromptsPerGroup: 3, PrefixRatio: 0.3, TotalLens: []int{40, 100}, OutputLen: 2, Order: OrderRandom, Rate: 3, BlockSize: 16, Seed: 5},
		&Multiturn{Clients: 4, Turns: []int{3, 1}, UserLen: 21, OutputLen: 3, Rate: 7, ThinkS: 0.25, BlockSize: 8, Seed: 2},
		&Longdoc{Docs: 3, DocLens: []int{33}, Questions: 4, QuestionLen: 5, OutputLen: 1, Rate: 1, BlockSize: 16, Seed: 3},
		&Cycle{K: 4, PrefixBlocks: 2, OutputLen: 0, BlockSize: 1},
	}
	for _, g := range gens {
		t.Run(g.Name(), func(t *testing.T) {
			want := collect(t, g)
			for _, format := range []trace.Format{trace.FormatNative, trace.FormatMooncake} {
				got, _ := tracetest.Generate(t, g, format, "kvscope gen "+g.Canonical())
				if got.Info.BlockSize != g.TraceBlockSize() || len(got.Requests) != len(want) {
					t.Fatalf("%s: block size %d, %d requests; want %d, %d", format, got.Info.BlockSize, len(got.Requests), g.TraceBlockSize(), len(want))
				}
				for k := range want {
					a, b := &want[k], &got.Requests[k]
					same := a.Arrival == b.Arrival && a.Input == b.Input && a.Output == b.Output &&
						slices.Equal(a.Blocks, b.Blocks) && a.LastBlockTokens == b.LastBlockTokens
					if format == trace.FormatNative {
						same = same && a.Session == b.Session && a.ID == b.ID && a.Parent == b.Parent &&
							a.Turn == b.Turn && a.ThinkS == b.ThinkS
					}
					if !same {
						t.Fatalf("%s request %d:\nwrote %+v\n read %+v", format, k, *a, *b)
					}
				}
			}
		})
	}
}

// TestSampleUpToDate checks that samples/gsp_small.jsonl is what the
// command in samples/doc.go writes today.
func TestSampleUpToDate(t *testing.T) {
	want, err := samples.ReadFile("gsp_small.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultGSP()
	p.Groups, p.PromptsPerGroup, p.Seed = 16, 8, 1
	// The source string is the one `kvscope gen` writes.
	_, got := tracetest.Generate(t, &p, trace.FormatNative, "kvscope gen "+p.Canonical())
	if !bytes.Equal(got, want) {
		t.Fatal("samples/gsp_small.jsonl is stale: regenerate it with the command in samples/doc.go")
	}
}
