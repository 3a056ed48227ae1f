package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/internal/testenv"
)

// tmuxSession drives the built binary in a real terminal: its own tmux
// server (socket), one session of a fixed size.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	cmd := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (s *tmuxSession) must(args ...string) string {
	s.t.Helper()
	out, err := s.tmux(args...)
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *tmuxSession) capture() string { return s.must("capture-pane", "-p", "-t", s.name) }

func (s *tmuxSession) keys(keys ...string) {
	s.must(append([]string{"send-keys", "-t", s.name}, keys...)...)
}

func (s *tmuxSession) text(text string) { s.must("send-keys", "-t", s.name, "-l", text) }

// tmuxPatience bounds every wait on the screen: a deadline against a
// hang, generous enough that a loaded machine does not reach it (a step
// usually shows within a second). How fast a step shows is no test's
// business: the explorer's speed is measured by the tui benchmarks.
const tmuxPatience = 3 * time.Minute

// waitUntil polls the screen until ok accepts it, failing at the
// deadline with the last screen and what was awaited.
func (s *tmuxSession) waitUntil(step, what string, ok func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(tmuxPatience)
	for {
		screen := s.capture()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: %s not seen after %s:\n%s", step, what, tmuxPatience, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFor polls the screen until every string shows.
func (s *tmuxSession) waitFor(step string, want ...string) string {
	s.t.Helper()
	return s.waitUntil(step, fmt.Sprintf("every one of %q on screen", want), func(screen string) bool {
		for _, w := range want {
			if !strings.Contains(screen, w) {
				return false
			}
		}
		return true
	})
}

// waitGone polls until gone is off the screen.
func (s *tmuxSession) waitGone(step string, gone string) {
	s.t.Helper()
	s.waitUntil(step, fmt.Sprintf("%q off the screen", gone), func(screen string) bool {
		return !strings.Contains(screen, gone)
	})
}

// eventLine is the timeline's "event N of M" (the first event after the
// cursor), or "" when not on screen.
var eventLine = regexp.MustCompile(`event [0-9]+ of [0-9]+`)

// startTmux builds kvscope and starts it with args in a fresh tmux server
// at w×h, in a temporary directory (returned) where reports land.
func startTmux(t *testing.T, w, h int, args ...string) (*tmuxSession, string) {
	t.Helper()
	return startTmuxCmd(t, w, h, false, args...)
}

// startTmuxStatus is startTmux with kvscope run under sh, its stderr going
// to the file stderr.txt and its exit status written to the file status
// (both in the returned directory) when it ends: a test reads how it ended
// from the files, not from tmux.
func startTmuxStatus(t *testing.T, w, h int, args ...string) (*tmuxSession, string) {
	t.Helper()
	return startTmuxCmd(t, w, h, true, args...)
}

func startTmuxCmd(t *testing.T, w, h int, status bool, args ...string) (*tmuxSession, string) {
	t.Helper()
	_, err := exec.LookPath("tmux")
	testenv.Require(t, "tmux (Debian package tmux)", err == nil)
	testenv.SkipIfShort(t, "builds the kvscope binary and drives it in a real terminal")
	dir := t.TempDir()
	bin := filepath.Join(dir, "kvscope")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("kvscope-test-%d-%s", os.Getpid(), t.Name()), name: "kv"}
	t.Cleanup(func() { s.tmux("kill-server") })
	// Colors stay on (the capture is text); TERM is tmux's.
	argv := append([]string{bin}, args...)
	if status {
		argv = append([]string{"sh", "-c", `"$0" "$@" 2>stderr.txt; echo $? >status.tmp && mv status.tmp status; sleep 600`}, argv...)
	}
	s.must(append([]string{"new-session", "-d", "-s", s.name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "-c", dir, "-e", "NO_COLOR="}, argv...)...)
	return s, dir
}

// TestTmuxOpen opens a trace file with three scenarios.
func TestTmuxOpen(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(wd, "..", "..", "replay", "trace", "testdata", "mooncake_300.jsonl")
	s, _ := startTmux(t, 120, 40, "open", tr, "-s", "lbgr+rlt", "-s", "round_robin+lru", "-s", "cache_aware+lru;workers=2")
	// The source path is cut to the pane's width wherever the checkout
	// lives, so check the trace by its statistics line.
	s.waitFor("replays", "[A] ✓  B ✓  C ✓", "mooncake · 512 tokens/block · 300 requests",
		"A lbgr+rlt", "B round_robin+lru", "C cache_aware+lru;workers=2", "vs Belady")
	s.keys("q")
	s.waitExit()
}

// TestTmuxExplorer runs `kvscope` (the zero-argument explorer on the
// embedded sample) in tmux at 120×40 and checks what a user sees after
// each step: panes, finished replays, focus, scrubbing, help, the what-if
// form, the report key, a resize to 80×24 and quitting.
func TestTmuxExplorer(t *testing.T) {
	s, dir := startTmux(t, 120, 40)
	// 1. The screen is usable at once and the replays finish.
	s.waitFor("start", "1 Timeline", "2 Trace", "3 Workers", "4 Compare", "5 Bounds", "6 Request")
	screen := s.waitFor("replays", "[A] ✓  B ✓", "vs Belady", "cache_aware:preset=sglang-0.4.6+lru", "lbgr+rlt")
	if !strings.Contains(screen, "┏━ 1 Timeline") {
		t.Fatalf("timeline not focused at start:\n%s", screen)
	}

	// 2. Tab moves focus to the trace pane (heavy border).
	s.keys("Tab")
	s.waitFor("tab", "┏━ 2 Trace", "╭─ 1 Timeline")

	// 3. Two 10% jumps and one event step.
	// The step moves the cursor to the next event: the timeline's "event
	// N of M" changes (awaited, since the key is handled asynchronously).
	s.keys("F", "F")
	screen = s.waitFor("jump", "( 20.0%)")
	before := eventLine.FindString(screen)
	if before == "" {
		t.Fatalf("no \"event N of M\" line on the timeline:\n%s", screen)
	}
	s.keys("Right")
	s.waitUntil("step", "the event line change from "+before, func(screen string) bool {
		now := eventLine.FindString(screen)
		return now != "" && now != before
	})

	// 4. Help shows the global keys and the focused pane's.
	s.keys("?")
	s.waitFor("help", "Global keys", "Trace pane keys", "next event", "input/output lengths")
	s.keys("?")
	s.waitGone("help closed", "Global keys")

	// 5. What-if: an unknown router is refused inline, then a valid
	// scenario replays and joins the comparison as C.
	s.keys("a")
	s.waitFor("form", "What if… Add a scenario", "routers:")
	s.keys("C-u")
	s.text("nope")
	s.keys("Enter")
	s.waitFor("form error", "nope")
	s.keys("C-u")
	s.text("round_robin")
	s.keys("Tab", "C-u")
	s.text("lru")
	s.keys("Enter")
	s.waitFor("scenario C", "C round_robin+lru", "[C] ✓", "C replayed in")

	// 6. The report key asks for the file name (the default prefilled),
	// writes the comparison and shows the path.
	s.keys("w")
	s.waitFor("report prompt", "write report to: kvscope-report.md")
	s.keys("Enter")
	report := filepath.Join(dir, "kvscope-report.md")
	s.waitFor("report", "wrote "+report[:min(len(report), 40)])
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	for _, w := range []string{"cache_aware", "lbgr", "round_robin"} {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("report lacks %q", w)
		}
	}

	// 7. At 80×24 the panes stack: the focused one open, the others one
	// line each.
	s.must("resize-window", "-t", s.name, "-x", "80", "-y", "24")
	s.waitFor("stack", "▸ 1 Timeline", "▸ 3 Workers", "▸ 6 Request", "┏━ 2 Trace")

	// 8. q quits: the session ends.
	s.keys("q")
	s.waitExit()
}

// waitExit waits until the program ended (tmux closes the session).
func (s *tmuxSession) waitExit() {
	s.t.Helper()
	deadline := time.Now().Add(tmuxPatience)
	for {
		if _, err := s.tmux("has-session", "-t", s.name); err != nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("still running %v after q:\n%s", tmuxPatience, s.capture())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
