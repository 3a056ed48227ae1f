package scenario

import (
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/param"
)

func asIs(sp param.Spec) (string, error) { return sp.String(), nil }

func TestParseCanonical(t *testing.T) {
	base := Default(param.Spec{}, param.Spec{})
	tests := []struct{ in, want, err string }{
		{
			in:   "lbgr:preset=code+rlt;workers=4;cache_tokens=200000;latency=linear:miss_ms=0.15;seed=1",
			want: "lbgr:preset=code+rlt;cache_tokens=200000;keep_outputs=false;latency=linear:miss_ms=0.15;oversize=error;profile=none;rate=trace;seed=1;session_timing=open;time_scale=1;workers=4",
		},
		{
			in:   "round_robin+lru;cache_blocks=10;rate=12.5;oversize=bypass",
			want: "round_robin+lru;cache_blocks=10;keep_outputs=false;latency=linear;oversize=bypass;profile=none;rate=12.5;seed=1;session_timing=open;time_scale=1;workers=1",
		},
		{in: "lbgr", err: "want router+evict"},
		{in: "lbgr+rlt", err: "no cache size"},
		{in: "lbgr+rlt;cache_blocks=1;cache_tokens=2", err: "not both"},
		{in: "lbgr+rlt;cache_blocks=0", err: "key cache_blocks"},
		{in: "lbgr+rlt;cache_blocks=5;colour=red", err: `unknown key "colour"`},
		{in: "lbgr+rlt;cache_blocks=5;oversize=drop", err: "error, fail or bypass"},
		{in: "lbgr+rlt;cache_blocks=5;seed=1;seed=2", err: "given twice"},
		{in: "Lbgr+rlt;cache_blocks=5", err: "router"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			sc, err := Parse(tc.in, base)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := sc.Canonical(asIs, asIs, asIs)
			if err != nil || got != tc.want {
				t.Fatalf("canonical\n got %q (%v)\nwant %q", got, err, tc.want)
			}
			// The canonical form parses back to itself.
			sc2, err := Parse(got, base)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := sc2.Canonical(asIs, asIs, asIs); again != got {
				t.Fatalf("round trip changed %q to %q", got, again)
			}
		})
	}
}

func TestRandomized(t *testing.T) {
	base := Default(param.Spec{}, param.Spec{})
	for in, want := range map[string]bool{
		"cache_aware+lru;cache_blocks=1":                    false,
		"cache_aware+rlt;cache_blocks=1":                    true,
		"p2c+lru;cache_blocks=1":                            true,
		"dynamo+lru;cache_blocks=1":                         false,
		"dynamo:temperature=0.5+lru;cache_blocks=1":         true,
		"round_robin+lru;cache_blocks=1;rate=3":             true,
		"round_robin+random_leaf;cache_blocks=1;rate=trace": true,
	} {
		sc, err := Parse(in, base)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Randomized() != want {
			t.Errorf("%s: Randomized = %v, want %v", in, !want, want)
		}
	}
}
