package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTmuxOpenAttachSGLang drives `kvscope open --attach --api sglang` in a
// real terminal against fake sglang workers on 127.0.0.1: without a cache
// size the explorer shows the cause, and after q the process exits 1 with
// it on stderr; with --live-cache-blocks the run ends and w writes the
// comparison report and, beside it, the live report.
func TestTmuxOpenAttachSGLang(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(wd, "..", "..", "replay", "trace", "testdata", "mooncake_300.jsonl")

	bad := fakeSGLang(t, "sglang:token_usage 0\n")
	s, bdir := startTmuxStatus(t, 120, 40, "open", tr, "--attach", bad.URL, "--api", "sglang")
	s.waitFor("no cache size", "live failed", "no sglang:max_total_num_tokens in /metrics")
	s.keys("q")
	if st := waitStatus(t, bdir); st != "1" {
		t.Fatalf("exit status %s, want 1", st)
	}
	stderr, err := os.ReadFile(filepath.Join(bdir, "stderr.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if flat := strings.Join(strings.Fields(string(stderr)), " "); !strings.Contains(flat, "live run failed: live: worker 0") || !strings.Contains(flat, "--live-cache-blocks") {
		t.Errorf("stderr after the explorer closed lacks the cause:\n%q", stderr)
	}
	s.tmux("kill-server")

	good := fakeSGLang(t, "sglang:token_usage 0\n")
	s, dir := startTmux(t, 120, 40, "open", tr, "--attach", good.URL, "--api", "sglang", "--live-cache-blocks", "500",
		"--limit", "20", "--time-scale", "0.001")
	s.waitFor("live run", "live ✓", "live: 20 requests: 20 completed")
	s.keys("w")
	s.waitFor("prompt", "write report to:")
	s.keys("Enter")
	// The live report is written right after the comparison, before
	// the status line says "wrote".
	s.waitFor("written", "wrote ")
	for _, name := range []string{"kvscope-report.md", "kvscope-report-live.md"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "kvscope-report-live.md" && !strings.Contains(string(b), "20 requests") {
			t.Errorf("%s:\n%s", name, b)
		}
	}
	s.keys("q")
	s.waitExit()
}

// waitStatus polls for the exit status startTmuxStatus's shell writes
// when kvscope ends, and returns it.
func waitStatus(t *testing.T, dir string) string {
	t.Helper()
	deadline := time.Now().Add(tmuxPatience)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("kvscope still running %v after q", tmuxPatience)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
