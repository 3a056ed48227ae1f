package route

import (
	"testing"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/param/paramtest"
)

// TestParams: every router's declared parameters (what help, completion
// and `kvscope list routers --long` show) agree with its constructor's
// parsing, and ParamDocs documents exactly those, one line each.
func TestParams(t *testing.T) {
	for _, n := range Names() {
		in, err := lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		decls, err := Params(param.Spec{Name: n})
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if err := paramtest.RoundTrip(n, decls, Resolve, Params); err != nil {
			t.Error(err)
		}
		if err := paramtest.Docs(n, decls, in.ParamDocs); err != nil {
			t.Error(err)
		}
	}
}
