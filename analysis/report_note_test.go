package analysis

import (
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

// TestTraceRowsNoPrefixNote: a report on a trace without prefix data
// (Azure) says once why its hit ratios are 0; other formats get no note
// (their goldens stay as they were).
func TestTraceRowsNoPrefixNote(t *testing.T) {
	for _, c := range []struct {
		format trace.Format
		notes  int
	}{{trace.FormatAzure, 1}, {trace.FormatMooncake, 0}, {trace.FormatNative, 0}} {
		r := &Report{Comparison: &Comparison{Trace: trace.Info{Format: c.format, BlockSize: 16}}}
		n := 0
		for _, row := range r.traceRows() {
			if row[0] == "note" {
				n++
				if row[1] != trace.NoPrefixNote(c.format) || row[1] == "" {
					t.Errorf("%s: note %q", c.format, row[1])
				}
			}
		}
		if n != c.notes {
			t.Errorf("%s: %d note rows, want %d", c.format, n, c.notes)
		}
	}
}
