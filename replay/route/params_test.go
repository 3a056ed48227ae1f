package route

import (
	"testing"

	"github.com/kvscope/kvscope/replay/param/paramtest"
)

// TestParams: every router's declared parameters (what help, completion
// and `kvscope list routers --long` show) agree with its constructor's
// parsing, and ParamDocs documents exactly those, one line each.
func TestParams(t *testing.T) {
	docs := func(n string) (map[string]string, error) {
		in, err := lookup(n)
		return in.ParamDocs, err
	}
	for _, err := range paramtest.Registry(Names(), docs, Resolve, Params) {
		t.Error(err)
	}
}
