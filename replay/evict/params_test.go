package evict

import (
	"testing"

	"github.com/kvscope/kvscope/replay/param/paramtest"
)

// TestParams: every policy's declared parameters (what help, completion
// and `kvscope list evictions --long` show) agree with its constructor's
// parsing, and ParamDocs documents exactly those, one line each.
func TestParams(t *testing.T) {
	docs := func(n string) (map[string]string, error) {
		in, err := Lookup(n)
		return in.ParamDocs, err
	}
	for _, err := range paramtest.Registry(Names(), docs, Resolve, Params) {
		t.Error(err)
	}
}
