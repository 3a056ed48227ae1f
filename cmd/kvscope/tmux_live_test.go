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
	s, _ := startTmux(t, 120, 40, "open", tr, "--attach", bad.URL, "--api", "sglang")
	s.must("set-option", "-t", s.name, "remain-on-exit", "on")
	s.waitFor("no cache size", "live failed", "no sglang:max_total_num_tokens in /metrics")
	s.keys("q")
	if st := s.waitDead(); st != "1" {
		t.Fatalf("exit status %s, want 1", st)
	}
	// stderr's first line may have scrolled up: read the history too.
	screen := s.must("capture-pane", "-p", "-S", "-100", "-t", s.name)
	if flat := strings.Join(strings.Fields(screen), " "); !strings.Contains(flat, "live run failed: live: worker 0") || !strings.Contains(flat, "--live-cache-blocks") {
		t.Errorf("stderr after the explorer closed lacks the cause:\n%q", screen)
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

// waitDead polls tmux (remain-on-exit on) until the pane's process has
// exited and returns its exit status; tmux's own pane_dead flag, not the
// "Pane is dead" line it draws, which a loaded machine was seen not to
// show within the deadline.
func (s *tmuxSession) waitDead() string {
	s.t.Helper()
	deadline := time.Now().Add(tmuxPatience)
	for {
		out, err := s.tmux("display-message", "-p", "-t", s.name, "#{pane_dead} #{pane_dead_status}")
		if f := strings.Fields(out); err == nil && len(f) == 2 && f[0] == "1" {
			return f[1]
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the pane's process still running %v after q (%q, %v):\n%s", tmuxPatience, out, err, s.capture())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
