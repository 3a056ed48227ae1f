package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
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

// TestTmuxLoadingAndFailure opens the kv-cache-tester archive (1.3 MB of
// xz, 49,334 requests: seconds to read) with a cache too small for its
// prompts: the first frame is the loading frame, with the bytes read of
// the file against its size; then both scenarios fail, and the focused
// Compare pane shows the failure whole, wrapped, the same message
// `kvscope run` prints for that scenario.
func TestTmuxLoadingAndFailure(t *testing.T) {
	archive := filepath.Join(testenv.SharedTraces(t), "kv-cache-tester", "traces.tar.xz")
	// oversize=error said outright: whatever the defaults, a request
	// larger than 2000 blocks stops the replay.
	specs := []string{"cache_aware+lru;oversize=error", "lbgr+rlt;oversize=error"}
	s, dir := startTmux(t, 120, 40, "open", archive, "-s", specs[0], "-s", specs[1], "--cache-blocks", "2000")
	loading := regexp.MustCompile(`reading: [0-9.]+ [KM]?B of 1\.3 MB \([0-9]+%\)`)
	s.waitUntil("loading", "the loading frame with the bytes read", func(screen string) bool {
		return strings.Contains(screen, "kvscope · loading traces.tar.xz") && loading.MatchString(screen)
	})
	s.waitFor("failed", "[A] failed  B failed")

	// The message kvscope run gives for B's scenario.
	run := exec.Command(filepath.Join(dir, "kvscope"), "run", archive, "-s", specs[1], "--workers", "4", "--cache-blocks", "2000")
	out, err := run.CombinedOutput()
	if err == nil {
		t.Fatalf("kvscope run did not fail:\n%s", out)
	}
	msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "kvscope: "))
	if !strings.Contains(msg, "traces.tar.xz[traces/trace_") {
		t.Fatalf("unexpected run failure %q", msg)
	}

	// Compare pane, zoomed: the whole message, over several lines.
	s.keys("4", "z")
	// Zoomed means the Compare pane alone: the focused pane's heavy border
	// shows before the zoom too, so wait for the other panes to go.
	screen := s.waitUntil("zoomed", "the Compare pane alone", func(screen string) bool {
		return strings.Contains(screen, "┏━ 4 Compare") && !strings.Contains(screen, "1 Timeline")
	})
	var flat strings.Builder
	lines := 0
	for _, l := range strings.Split(screen, "\n") {
		l = strings.Trim(l, "┃│ ")
		if strings.HasPrefix(l, "failed: ") || lines > 0 && lines < 20 {
			lines++
			flat.WriteString(l)
		}
	}
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") }
	// run names the flags that go on; the explorer shows the same failure
	// and offers its key instead.
	brief, flags, ok := strings.Cut(msg, ". To go on, ")
	if !ok || !strings.Contains(flags, "--cache-blocks 13988") || !strings.Contains(flags, "--oversize bypass") {
		t.Errorf("run's message %q does not name the flags that go on", msg)
	}
	if !strings.Contains(squeeze(flat.String()), squeeze("failed: "+brief+" · press o to re-run with oversize=bypass")) {
		t.Errorf("the Compare pane does not show the whole failure %q and the o key:\n%s", brief, screen)
	}
	if len(brief) < 110 {
		t.Errorf("message %q fits one line: the test does not check the wrap", brief)
	}
	s.keys("q")
	s.waitExit()
}

// TestTmuxStream: `kvscope open FILE --stream --spill-dir DIR` in a real
// terminal shows the explorer at once, streams both scenarios into DIR,
// then shows the trace pane's figures from the replay, the workers at the
// cursor and the request at it with every worker's router score (from
// the run's detail file), and says why the ratios are not there; the runs
// stay in DIR for kvscope inspect, which reads them, scores included.
func TestTmuxStream(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(wd, "..", "..", "replay", "trace", "testdata", "mooncake_300.jsonl")
	s, dir := startTmux(t, 160, 50, "open", tr, "--stream", "--spill-dir", "runs")
	s.waitFor("replays", "[A] ✓  B ✓", "mooncake · 512 tokens/block · 300 requests",
		"no ratios: they replay each worker's whole")
	s.keys("6", "z", ".") // the Request pane, zoomed: its lines whole
	s.waitFor("request", "mooncake_300.jsonl:", "input ", "router scores: tree tokens · true cached prefix at arrival",
		"router scores: E (ms) · true cached prefix at arrival")
	s.keys("q")
	s.waitExit()
	for _, run := range []string{"A-0", "B-0"} {
		out, err := exec.Command(filepath.Join(dir, "kvscope"), "inspect", filepath.Join(dir, "runs", run), "--at", "end", "--count", "2").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "300 requests") || !strings.Contains(string(out), "request 1:  w0 ") {
			t.Errorf("inspect %s: %v\n%s", run, err, out)
		}
	}
}
