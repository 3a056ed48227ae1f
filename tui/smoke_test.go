package tui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// smallConfig is the sample's first n requests with the default
// scenarios: replays finish in milliseconds.
func smallConfig(t testing.TB, n int) Config {
	t.Helper()
	data, err := samples.ReadFile(samples.Mooncake)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfterN(data, []byte("\n"), n+1)
	small := bytes.Join(lines[:n], nil)
	tr, err := trace.LoadBytes("sample-head", small, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := DefaultBase()
	entries, err := ParseEntries(DefaultSpecs, base)
	if err != nil {
		t.Fatal(err)
	}
	dark := true
	return Config{Trace: tr, Scenarios: entries, Base: base, Dark: &dark,
		Stats: TraceStats(tr)}
}

// patience bounds every wait for the program (replays finishing, text
// showing, the final model): a deadline against a hang, generous enough
// that a loaded machine never reaches it, never a speed check.
const patience = 3 * time.Minute

// startTea runs the explorer under teatest and waits until its replays
// finished. Key effects are then deterministic: the program handles
// messages in order, so after Quit the final model has seen every key.
func startTea(t *testing.T, cfg Config, w, h int) (*teatest.TestModel, *Model) {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	select {
	case <-m.Ready():
	case <-time.After(patience):
		t.Fatalf("replays did not finish within %v", patience)
	}
	return tm, m
}

// waitText waits until the program's output shows s.
func waitText(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(patience), teatest.WithCheckInterval(20*time.Millisecond))
}

func finalModel(t *testing.T, tm *teatest.TestModel) *Model {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(patience)).(*Model)
}

func send(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		tm.Send(keyMsg(k))
	}
}

// TestSmokeScrubAndFocus: the screen comes up, replays finish in the
// background, focus cycles and the cursor moves.
func TestSmokeScrubAndFocus(t *testing.T) {
	tm, _ := startTea(t, smallConfig(t, 300), 120, 40)
	waitText(t, tm, "vs Belady") // the bounds pane shows a finished run
	send(tm, "tab", "tab", "shift+tab", "F", "F", "right", "right", ".", "]")
	m := finalModel(t, tm)
	if !m.Done() {
		t.Fatal("replays not finished")
	}
	if m.s.focus != paneTrace {
		t.Errorf("focus %d, want Trace", m.s.focus)
	}
	if m.s.sel != 1 {
		t.Errorf("selected scenario %d, want 1", m.s.sel)
	}
	// Two 10% jumps, then two events and a request of the first run.
	sp := m.s.span
	want := sp.jump(sp.jump(sp.Start, 0.1), 0.1)
	run := runOf(m.s.slots[0])
	want = stepEvent(run.Events, stepEvent(run.Events, want, 1), 1)
	want = stepTime(m.s.slots[0].data.(*memRun).arrivals, want, 1)
	if m.s.cursor != want {
		t.Errorf("cursor %v, want %v", m.s.cursor, want)
	}
	if m.lay.Mode != modeGrid2 {
		t.Errorf("layout %s at 120x40", m.lay.Mode)
	}
}

// TestSmokeWhatIf adds a scenario from the form, checks an invalid one is
// refused inline, and edits and removes one.
func TestSmokeWhatIf(t *testing.T) {
	tm, _ := startTea(t, smallConfig(t, 300), 120, 40)
	// Invalid router: the form stays open with the error.
	send(tm, "a", "ctrl+u")
	tm.Type("nope")
	send(tm, "enter")
	waitText(t, tm, "unknown")
	send(tm, "ctrl+u")
	tm.Type("round_robin")
	send(tm, "tab", "ctrl+u")
	tm.Type("lru")
	send(tm, "enter")
	// Edit B's workers, then remove A.
	send(tm, "[", "e", "tab", "tab", "ctrl+u")
	tm.Type("2")
	send(tm, "enter", "]", "]", "x", "y")
	m := finalModel(t, tm)
	if len(m.s.slots) != 2 {
		t.Fatalf("%d scenarios, want 2", len(m.s.slots))
	}
	a, b := m.s.slots[0], m.s.slots[1]
	if a.entry.Scenario.Router.Name != "lbgr" || a.entry.Scenario.Workers != 2 {
		t.Errorf("A = %q, want lbgr with 2 workers", a.entry.Label)
	}
	if b.entry.Scenario.Router.Name != "round_robin" || b.entry.Scenario.Evict.Name != "lru" {
		t.Errorf("B = %q, want round_robin+lru", b.entry.Label)
	}
	if len(m.dialogs) != 0 {
		t.Error("form still open")
	}
}

// TestSmokeResize shrinks the terminal to 80×24: the panes stack and the
// picked pane is the expanded one.
func TestSmokeResize(t *testing.T) {
	tm, _ := startTea(t, smallConfig(t, 200), 120, 40)
	tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	send(tm, "3")
	m := finalModel(t, tm)
	if m.lay.Mode != modeStack || m.w != 80 || m.lay.Collapsed[paneWorkers] || !m.lay.Collapsed[paneTrace] {
		t.Errorf("after resize: mode %s, width %d, workers collapsed %v", m.lay.Mode, m.w, m.lay.Collapsed[paneWorkers])
	}
}

// TestExportKey: w asks for the file name (the last one prefilled),
// writes the report (the command run to its end) and shows the path; an
// existing file is overwritten only after y; a bad extension keeps the
// prompt open with the reason.
func TestExportKey(t *testing.T) {
	cfg := smallConfig(t, 200)
	dir := t.TempDir()
	cfg.ExportPath = filepath.Join(dir, "cmp.md")
	m := newDone(t, cfg, 120, 40)
	press(m, "w")
	if v := plain(m); !strings.Contains(v, "write report to: "+cfg.ExportPath) || m.exporting {
		t.Fatalf("w did not ask for the file name:\n%s", v)
	}
	b := finishExport(t, m)
	for _, want := range []string{"cache_aware", "lbgr", "rlt"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(plain(m), "cmp.md") {
		t.Error("status line does not show the report's path")
	}
	// The file exists now: w, enter asks; n leaves it alone.
	if err := os.WriteFile(m.exported, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	press(m, "w", "enter")
	if v := plain(m); !strings.Contains(v, "cmp.md exists: overwrite it?") || m.exporting {
		t.Fatalf("no overwrite question:\n%s", v)
	}
	press(m, "n")
	if b, _ := os.ReadFile(m.exported); string(b) != "keep" || len(m.dialogs) != 0 {
		t.Fatalf("n overwrote the file or left a dialog (%d)", len(m.dialogs))
	}
	press(m, "w", "enter", "y")
	if b, _ := os.ReadFile(m.exported); string(b) == "keep" {
		t.Fatal("y did not overwrite the file")
	}
	// Another name: typed over the prefilled one, and the next default.
	other := filepath.Join(dir, "other.html")
	press(m, "w", "ctrl+u")
	typeText(m, other)
	press(m, "enter")
	if _, err := os.Stat(other); err != nil || m.cfg.ExportPath != other {
		t.Fatalf("typed name not written (%v) or not remembered (%q)", err, m.cfg.ExportPath)
	}
	// A bad extension keeps the prompt open with the reason.
	press(m, "w", "ctrl+u")
	typeText(m, filepath.Join(dir, "cmp.txt"))
	press(m, "enter")
	if v := plain(m); len(m.dialogs) != 1 || !strings.Contains(v, "extension") {
		t.Errorf("bad extension: %d dialogs,\n%s", len(m.dialogs), v)
	}
	press(m, "esc")
	if len(m.dialogs) != 0 {
		t.Error("esc did not close the prompt")
	}
}

// TestStaleResultDropped: a replay result for an edited scenario (older
// generation) does not land in the slot.
func TestStaleResultDropped(t *testing.T) {
	m, err := New(smallConfig(t, 100))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	sl := m.s.slots[0]
	m.restart(0, sl.entry)
	m.Update(replayDoneMsg{id: sl.id, gen: 0, err: context.Canceled})
	if sl.state != slotRunning {
		t.Fatalf("stale result applied: state %v", sl.state)
	}
	m.Update(replayDoneMsg{id: sl.id, gen: 1, err: context.Canceled})
	if sl.state != slotFailed {
		t.Fatalf("current result not applied: state %v", sl.state)
	}
}
