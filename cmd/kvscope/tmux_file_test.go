package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTmuxFile: `kvscope FILE` on a terminal opens the explorer on the
// file with the default scenarios, as `kvscope open FILE` does (without a
// terminal it prints the statistics: cli_small.txtar).
func TestTmuxFile(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(wd, "..", "..", "replay", "trace", "testdata", "mooncake_300.jsonl")
	s, _ := startTmux(t, 120, 40, tr)
	s.waitFor("replays", "[A] ✓  B ✓", "mooncake · 512 tokens/block · 300 requests",
		"cache_aware:preset=sglang-0.4.6+lru", "lbgr+rlt")
	s.keys("q")
	s.waitExit()
}
