package evict

import (
	"testing"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/param/paramtest"
)

// TestParamsRoundTrip: every policy's declared parameters (what help and
// `kvscope list evictions` show) agree with its constructor's parsing.
func TestParamsRoundTrip(t *testing.T) {
	for _, n := range Names() {
		decls, err := Params(param.Spec{Name: n})
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if err := paramtest.RoundTrip(n, decls, Resolve, Params); err != nil {
			t.Error(err)
		}
	}
}
