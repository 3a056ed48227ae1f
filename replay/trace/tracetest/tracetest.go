package tracetest

import (
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
