package tracetest

import (
	"bytes"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

// Sample reads the embedded sample file name as a trace whose source is
// "sample:"+name (trace.LoadSample), failing tb on any error.
func Sample(tb testing.TB, name string) *trace.Trace {
	tb.Helper()
	tr, err := trace.LoadSample(name)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// Generator is what Generate needs of a workload generator (replay/trace/gen's
// Generator, infperf.Params).
type Generator interface {
	Generate(emit func(*trace.Request) error) error
	TraceBlockSize() int
}

// Generate writes g's requests in format (a format with a writer: native
// or mooncake) under the provenance source (the writer validates every
// request), reads them back as that format, named source, with g's block
// size (the reader checks the one-parent rule) and returns both. It fails
// tb on any error.
func Generate(tb testing.TB, g Generator, format trace.Format, source string) (*trace.Trace, []byte) {
	tb.Helper()
	f, ok := trace.LookupFormat(format)
	if !ok || f.NewWriter == nil {
		tb.Fatalf("format %q: not a format kvscope writes", format)
	}
	var buf bytes.Buffer
	w, err := f.NewWriter(&buf, g.TraceBlockSize(), source)
	if err != nil {
		tb.Fatal(err)
	}
	if err := g.Generate(func(r *trace.Request) error { return w.Write(r, nil) }); err != nil {
		tb.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	tr, err := trace.LoadBytes(source, buf.Bytes(), trace.ReadOptions{Format: format, BlockSize: g.TraceBlockSize()})
	if err != nil {
		tb.Fatalf("reading the generated %s trace back: %v", format, err)
	}
	return tr, buf.Bytes()
}
