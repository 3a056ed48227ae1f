package tui

import (
	"testing"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
)

// TestReproduceCommand: an exported report reruns the scenarios on screen,
// what-if ones included, in their canonical form.
func TestReproduceCommand(t *testing.T) {
	base := scenario.Default(param.Spec{}, param.Spec{})
	var entries []Entry
	for _, s := range []string{"lbgr+rlt;cache_blocks=100", "round_robin+lru;cache_blocks=100;workers=2"} {
		sc, err := scenario.Parse(s, base)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, Entry{Scenario: sc})
	}
	got := reproduceCommand("kvscope open t.jsonl", "/data/my trace.jsonl", "r.md", entries, false)
	want := "kvscope compare '/data/my trace.jsonl'" +
		" -s 'lbgr:precise=false,preset=code+rlt;cache_blocks=100;keep_outputs=false;latency=linear:cached_ms=0,miss_ms=0.15,out_ms=0;oversize=error;profile=none;rate=trace;seed=1;session_timing=open;time_scale=1;workers=8'" +
		" -s 'round_robin+lru;cache_blocks=100;keep_outputs=false;latency=linear:cached_ms=0,miss_ms=0.15,out_ms=0;oversize=error;profile=none;rate=trace;seed=1;session_timing=open;time_scale=1;workers=2'" +
		" --seeds 1 -o r.md"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// The embedded sample: its file in the source tree, with the
	// scenarios (a bare "kvscope" would rerun the defaults, not them).
	got = reproduceCommand("kvscope", "sample:x.jsonl", "r.md", entries[1:], false)
	want = "kvscope compare samples/x.jsonl" +
		" -s 'round_robin+lru;cache_blocks=100;keep_outputs=false;latency=linear:cached_ms=0,miss_ms=0.15,out_ms=0;oversize=error;profile=none;rate=trace;seed=1;session_timing=open;time_scale=1;workers=2'" +
		" --seeds 1 -o r.md"
	if got != want {
		t.Fatalf("sample source:\ngot  %s\nwant %s", got, want)
	}
	if got := reproduceCommand("kvscope open x", "", "r.md", entries, false); got != "kvscope open x" {
		t.Fatalf("no source: %s", got)
	}
}
