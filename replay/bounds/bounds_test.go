package bounds_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/bounds"
	"github.com/kvscope/kvscope/replay/kvcache"
)

func TestOf(t *testing.T) {
	// B = 10, L = 3: k = 8, H_8 = 761/280.
	b := bounds.Of(kvcache.Blocks, 10, 3)
	h8 := 761.0 / 280
	if b.K == nil || *b.K != 8 || *b.LRUBound != 8 || math.Abs(*b.HarmonicK-h8) > 1e-15 || math.Abs(*b.RLTBound-2*h8) > 1e-15 || b.Longest != 3 {
		t.Fatalf("%+v", b)
	}
	if tok := bounds.Of(kvcache.Tokens, 10, 3); tok.Note == b.Note {
		t.Errorf("token mode has the block note %q", tok.Note)
	}
	// k < 1, and an empty sequence (L = 0): n/a.
	for _, c := range [][2]int64{{4, 5}, {4, 0}} {
		b := bounds.Of(kvcache.Blocks, c[0], c[1])
		if b.K != nil || b.LRUBound != nil || b.RLTBound != nil || b.HarmonicK != nil {
			t.Fatalf("B=%d L=%d not n/a: %+v", c[0], c[1], b)
		}
		js, _ := json.Marshal(b)
		if !strings.Contains(string(js), `"k":null`) {
			t.Errorf("json %s", js)
		}
	}
}

func TestHarmonic(t *testing.T) {
	for _, c := range []struct {
		k    int64
		want float64
	}{{0, 0}, {1, 1}, {2, 1.5}, {3, 11.0 / 6}, {8, 761.0 / 280}} {
		if got := bounds.Harmonic(c.k); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("H_%d = %v, want %v", c.k, got, c.want)
		}
	}
}
