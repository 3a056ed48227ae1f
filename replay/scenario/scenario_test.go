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
			want: "round_robin+lru;cache_blocks=10;keep_outputs=false;latency=linear;oversize=bypass;profile=none;rate=12.5;seed=1;session_timing=open;time_scale=1;workers=8",
		},
		{
			// No size: the default, named only once a trace sizes it.
			in:   "lbgr+rlt",
			want: "lbgr+rlt;keep_outputs=false;latency=linear;oversize=error;profile=none;rate=trace;seed=1;session_timing=open;time_scale=1;workers=8",
		},
		{in: "lbgr", err: "want router+evict"},
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

func TestSized(t *testing.T) {
	base := Default(param.Spec{}, param.Spec{})
	for _, tc := range []struct {
		in        string
		blockSize int
		want      string // the size key of the canonical string
	}{
		{"lbgr+rlt", 512, "cache_blocks=2000"},
		{"lbgr+rlt", 64, "cache_blocks=16000"},
		{"lbgr+rlt", 16, "cache_blocks=64000"},
		{"lbgr+rlt", 1000, "cache_blocks=1024"},               // rounded down to whole blocks
		{"lbgr+rlt", 4 << 20, "cache_blocks=1"},               // at least one
		{"lbgr+rlt;cache_tokens=300", 64, "cache_tokens=300"}, // a size given stays
		{"lbgr+rlt;profile=h200-llama-3.1-8b", 64, ""},        // so does a profile's
	} {
		sc, err := Parse(tc.in, base)
		if err != nil {
			t.Fatal(err)
		}
		sized := sc.Sized(tc.blockSize)
		got, _ := sized.Canonical(asIs, asIs, asIs)
		key := ""
		for _, kv := range strings.Split(got, ";") {
			if strings.HasPrefix(kv, "cache_") {
				key = kv
			}
		}
		if key != tc.want {
			t.Errorf("%s at block size %d: %q, want %q", tc.in, tc.blockSize, key, tc.want)
		}
	}
	// The default means the same memory whatever the block size.
	for _, bs := range []int{16, 64, 512} {
		if sc := base.Sized(bs); sc.Capacity*bs != DefaultCacheTokens || sc.Unit != Blocks {
			t.Errorf("block size %d: %d %s", bs, sc.Capacity, sc.Unit)
		}
	}
}

func TestOversizedError(t *testing.T) {
	e := &OversizedError{Capacity: 2000, Unit: "blocks"}
	e.NoteOversize("t.json:3", 5, 2025)
	e.NoteOversize("t.json:9", 9, 13988)
	e.NoteOversize("t.json:12", 12, 2100)
	msg := e.Error()
	for _, want := range []string{"t.json:3: request 5 needs 2025 blocks", "3 requests do, up to 13988). To go on",
		"cache_blocks=13988 or more (--cache-blocks 13988)", "--oversize bypass", "--oversize fail"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	e = &OversizedError{Capacity: 100, Unit: "tokens"}
	e.NoteOversize("", 0, 150)
	if msg := e.Error(); !strings.HasPrefix(msg, "request 0 needs 150 tokens") || !strings.Contains(msg, "--cache-tokens 150") ||
		strings.Contains(msg, "requests do") {
		t.Errorf("one request in tokens: %q", msg)
	}
}
