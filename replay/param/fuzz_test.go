package param

import (
	"maps"
	"testing"
)

// FuzzParse: a spec that parses writes (String) a spec that parses to the
// same name and parameters; nothing panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"lru", "rlt:seed_offset=3", "cache_aware:preset=sglang-0.4.6,balance_abs_threshold=32",
		"lbgr:preset=paper, a_c = 0.1", "x:", "x:a", "x:a=1,a=2", "linear:cached_ms=0.5,miss_ms=1e-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(sp.String())
		if err != nil {
			t.Fatalf("%q parsed to %q, which does not parse: %v", s, sp.String(), err)
		}
		if back.Name != sp.Name || !maps.Equal(back.Params, sp.Params) {
			t.Fatalf("%q: String %q parses to %+v, want %+v", s, sp.String(), back, sp)
		}
	})
}
