package curve_test

import (
	"path/filepath"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

func loadShared(t testing.TB, rel string) *trace.Trace {
	t.Helper()
	tr, err := trace.Load(filepath.Join(testenv.SharedTraces(t), rel), trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// The curve equals replay --evict lru at many capacities on the whole
// Mooncake conversation trace, in both units, on one and on four workers.
func TestSharedMooncake(t *testing.T) {
	testenv.SkipIfShort(t, "replays the whole Mooncake conversation trace at ~100 capacities; the embedded 2,000-request slice runs under -short")
	tr := loadShared(t, "mooncake/conversation_trace.jsonl")
	for _, c := range []struct {
		unit    kvcache.Unit
		workers int
		router  string
		n       int
	}{{kvcache.Blocks, 1, "round_robin", 40}, {kvcache.Tokens, 1, "round_robin", 20}, {kvcache.Blocks, 4, "consistent_hash", 20}, {kvcache.Tokens, 3, "random", 10}} {
		cfg := curve.Config{Workers: c.workers, Router: spec(c.router), Unit: c.unit, Seed: 1}
		cv, err := curve.Compute(tr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, capacity := range spread(cv.MinCapacity, cv.MaxCapacity, c.n) {
			checkAt(t, tr, cfg, cv, capacity)
		}
	}
}

// The same on the kv-cache-tester archive (94 million block lookups; ids
// local to each session, id-less tail tokens reserved like outputs).
func TestSharedKVTester(t *testing.T) {
	testenv.SkipIfShort(t, "replays the whole kv-cache-tester archive at 8 capacities; the embedded samples and random traces run under -short")
	tr := loadShared(t, "kv-cache-tester/traces.tar.xz")
	for _, c := range []struct {
		unit kvcache.Unit
		n    int
	}{{kvcache.Blocks, 5}, {kvcache.Tokens, 2}} {
		cfg := curve.Config{Workers: 1, Router: spec("round_robin"), Unit: c.unit}
		cv, err := curve.Compute(tr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: L = %d, saturation %d, unbounded %+v", c.unit, cv.MinCapacity, cv.MaxCapacity, cv.Unbounded())
		for _, capacity := range spread(cv.MinCapacity, cv.MaxCapacity, c.n)[2:] {
			checkAt(t, tr, cfg, cv, capacity)
		}
	}
	// Below L (13,988 blocks, one 894k-token request): one H100's 7,045
	// blocks for Llama-3.1-8B, with the larger requests bypassed.
	cfg := curve.Config{Workers: 1, Router: spec("round_robin"), Oversize: "bypass"}
	lv, err := curve.Below(tr, cfg, 7045)
	if err != nil {
		t.Fatal(err)
	}
	checkAt(t, tr, cfg, lv, 7045)
}
