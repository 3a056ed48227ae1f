package evict_test

import (
	"testing"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// SPEC §5's tie rule: among equal keys the deeper block goes first, then
// the smaller id. Blocks inserted without any access share lru's and lfu's
// stamp and count, and opt's next use (never).
func TestTies(t *testing.T) {
	for _, name := range []string{"lru", "lfu", "opt"} {
		c, rec := newCache(t, name, kvcache.Blocks, 10, 1, nil, nil)
		// Roots 5 and 2, 7 under 5 (depth 2), 3 under 2 (depth 2),
		// root 1 (depth 1).
		ins := [][2]trace.BlockID{{kvcache.NoBlock, 5}, {kvcache.NoBlock, 2}, {5, 7}, {2, 3}, {kvcache.NoBlock, 1}}
		for _, e := range ins {
			if err := c.Insert(e[0], e[1], 1, 0); err != nil {
				t.Fatal(err)
			}
		}
		// Victims one at a time: depth-2 leaves by id (3, 7), then the
		// depth-1 leaves by id (1, 2, 5).
		for range 5 {
			if _, err := c.MakeRoom(c.Free() + 1); err != nil {
				t.Fatal(err)
			}
		}
		want := []trace.BlockID{3, 7, 1, 2, 5}
		if len(rec.victims) != 5 {
			t.Fatalf("%s: victims %v", name, rec.victims)
		}
		for i := range want {
			if rec.victims[i] != want[i] {
				t.Errorf("%s: victims %v, want %v", name, rec.victims, want)
				break
			}
		}
	}
}
