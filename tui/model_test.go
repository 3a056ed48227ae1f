package tui

import (
	"errors"
	"fmt"
	"image/color"
	"math/rand/v2"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/replay/sim"
)

func TestKeysMoveTheCursor(t *testing.T) {
	m := newDone(t, smallConfig(t, 300), 120, 40)
	sp := m.s.span
	if m.s.cursor != sp.Start {
		t.Fatalf("cursor starts at %v, want %v", m.s.cursor, sp.Start)
	}
	press(m, "F")
	if want := sp.jump(sp.Start, 0.1); m.s.cursor != want {
		t.Errorf("F: %v, want %v", m.s.cursor, want)
	}
	press(m, "b")
	if want := sp.jump(sp.jump(sp.Start, 0.1), -0.01); m.s.cursor != want {
		t.Errorf("b: %v, want %v", m.s.cursor, want)
	}
	before := m.s.cursor
	press(m, "right")
	run := runOf(m.s.slots[0])
	if want := stepEvent(run.Events, before, 1); m.s.cursor != want || want == before {
		t.Errorf("right: %v, want the next event %v", m.s.cursor, want)
	}
	press(m, ".")
	r := m.s.requestAtCursor()
	if r < 0 || run.Records[r].Arrival != m.s.cursor {
		t.Errorf(".: cursor %v is not the arrival of the request at it (%d)", m.s.cursor, r)
	}
	press(m, "end")
	if m.s.cursor != sp.End {
		t.Errorf("end: %v", m.s.cursor)
	}
	press(m, "home")
	if m.s.cursor != sp.Start {
		t.Errorf("home: %v", m.s.cursor)
	}
	// Go to a time.
	press(m, "g")
	typeText(m, "50%")
	press(m, "enter")
	if want := sp.jump(sp.Start, 0.5); m.s.cursor != want {
		t.Errorf("go to 50%%: %v, want %v", m.s.cursor, want)
	}
	press(m, "g")
	typeText(m, "soon")
	press(m, "enter")
	if m.statusOK || !strings.Contains(m.status, "go to") {
		t.Errorf("bad go-to not reported: %q", m.status)
	}
	if !strings.Contains(plain(m), "go to") {
		t.Error("status line lacks the go-to error")
	}
	// The error is about what was typed: the next key clears it.
	press(m, "right")
	if m.status != "" || strings.Contains(plain(m), "go to:") {
		t.Errorf("go-to error still shown after the next key: %q", m.status)
	}
}

func TestPlay(t *testing.T) {
	m := newDone(t, smallConfig(t, 300), 120, 40)
	_, cmd := m.Update(keyMsg("space"))
	if !m.s.playing || cmd == nil {
		t.Fatal("space did not start playing")
	}
	press(m, "+")
	speed := speeds[m.s.speed]
	start := m.s.cursor
	m.Update(playTickMsg{seq: m.s.playSeq})
	if want, _ := playStep(m.s.span, start, speed, playTick); m.s.cursor != want {
		t.Errorf("tick: cursor %v, want %v", m.s.cursor, want)
	}
	// A tick of an older play session is ignored.
	c := m.s.cursor
	m.Update(playTickMsg{seq: m.s.playSeq - 1})
	if m.s.cursor != c {
		t.Error("stale tick moved the cursor")
	}
	m.Update(keyMsg("space"))
	m.Update(playTickMsg{seq: m.s.playSeq})
	if m.s.playing || m.s.cursor != c {
		t.Error("paused but still moving")
	}
	if !strings.Contains(plain(m), "⏸ "+fmtSpeed(speed)) {
		t.Error("timeline does not show the paused speed")
	}
}

func TestMouse(t *testing.T) {
	m := newDone(t, smallConfig(t, 300), 120, 40)
	tl := m.lay.Panes[paneTimeline]
	before := m.s.cursor
	m.Update(tea.MouseWheelMsg{X: tl.X + 3, Y: tl.Y + 2, Button: tea.MouseWheelDown})
	if m.s.cursor <= before {
		t.Errorf("wheel over the timeline did not scrub: %v", m.s.cursor)
	}
	rq := m.lay.Panes[paneRequest]
	m.Update(tea.MouseClickMsg{X: rq.X + 2, Y: rq.Y + 2, Button: tea.MouseLeft})
	if m.s.focus != paneRequest {
		t.Errorf("click did not focus the request pane: %d", m.s.focus)
	}
	top := strings.Split(plain(m), "\n")[rq.Y+1]
	m.Update(tea.MouseWheelMsg{X: rq.X + 2, Y: rq.Y + 2, Button: tea.MouseWheelDown})
	if p := m.panes[paneRequest].(*requestPane); p.scroll.off != 1 {
		t.Errorf("wheel over the request pane: offset %d", p.scroll.off)
	}
	if after := strings.Split(plain(m), "\n")[rq.Y+1]; after == top {
		t.Error("request pane did not scroll")
	}
}

func TestBackgroundAndZoom(t *testing.T) {
	cfg := smallConfig(t, 100)
	cfg.Dark = nil // follow the terminal
	m := newDone(t, cfg, 120, 40)
	if !m.s.st.dark {
		t.Fatal("dark until the terminal answers")
	}
	v := m.s.version
	m.Update(tea.BackgroundColorMsg{Color: color.RGBA{250, 250, 250, 255}})
	if m.s.st.dark || m.s.version == v {
		t.Error("light background did not switch to the light theme")
	}
	m.Update(tea.BackgroundColorMsg{Color: color.RGBA{10, 10, 20, 255}})
	if !m.s.st.dark {
		t.Error("dark background did not switch back")
	}
	press(m, "4", "z")
	if m.lay.Mode != modeZoom || m.lay.Panes[paneCompare].W != 120 {
		t.Errorf("zoom: %s %+v", m.lay.Mode, m.lay.Panes[paneCompare])
	}
	press(m, "z")
	if m.lay.Mode != modeGrid2 {
		t.Errorf("unzoom: %s", m.lay.Mode)
	}
}

func TestProgressAndFirstFrame(t *testing.T) {
	m, err := New(smallConfig(t, 300))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	// Before any replay finished the screen is drawn, from the trace.
	out := plain(m)
	for _, want := range []string{"1 Timeline", "replaying", "[A] 0%", "B 0%"} {
		if !strings.Contains(out, want) {
			t.Errorf("first frame lacks %q", want)
		}
	}
	sl := m.s.slots[1]
	_, next := m.Update(progressMsg{id: sl.id, gen: sl.gen, done: 150, total: 300, next: func() tea.Msg { return nil }})
	if next == nil || !strings.Contains(plain(m), "B 50%") {
		t.Error("progress not shown or not continued")
	}
}

// TestFailedScenario: a scenario whose replay fails (requests larger than
// its cache) shows the reason in every pane; the other still compares.
func TestFailedScenario(t *testing.T) {
	cfg := smallConfig(t, 100)
	small, err := ParseEntries([]string{"lbgr+rlt;cache_blocks=4"}, cfg.Base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Scenarios = append(cfg.Scenarios[:1], small...)
	m := newDone(t, cfg, 200, 60)
	if m.s.slots[1].state != slotFailed {
		t.Fatalf("B state %v, want failed", m.s.slots[1].state)
	}
	out := plain(m)
	for _, want := range []string{"B failed", "failed: ", "larger than the cache: press o to re-run with oversize=bypass"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if oe := oversizeOf(m.s.slots[1].err); oe == nil || !strings.Contains(oe.Error(), "more than the cache") {
		t.Errorf("B's error %v is not the oversize stop", m.s.slots[1].err)
	}
	if _, _, ok := m.s.metricsAt(m.s.slots[0]); !ok {
		t.Error("A has no metrics table")
	}
	// The offer: o re-runs B with oversize=bypass; A, which did not stop,
	// is left alone.
	runA := runOf(m.s.slots[0])
	press(m, "o")
	if !m.Done() {
		t.Fatal("the re-run did not finish")
	}
	b := m.s.slots[1]
	bypassed := 0
	if b.data != nil {
		for _, r := range runOf(b).Records {
			if r.Status == sim.Bypassed {
				bypassed++
			}
		}
	}
	if b.state != slotDone || b.entry.Label != "lbgr+rlt;cache_blocks=4;oversize=bypass" || bypassed == 0 {
		t.Fatalf("B after o: state %v label %q err %v", b.state, b.entry.Label, b.err)
	}
	if runOf(m.s.slots[0]) != runA {
		t.Error("o replayed A, which had not failed")
	}
	press(m, "o")
	if !strings.Contains(plain(m), "none is") {
		t.Error("o with nothing to re-run says nothing")
	}
}

func TestWithKey(t *testing.T) {
	for in, want := range map[string]string{
		"lbgr+rlt":                              "lbgr+rlt;oversize=bypass",
		"lbgr+rlt;oversize=fail;cache_blocks=4": "lbgr+rlt;cache_blocks=4;oversize=bypass",
		"lbgr+rlt; oversize=error;":             "lbgr+rlt;oversize=bypass",
	} {
		if got := withKey(in, "oversize", "bypass"); got != want {
			t.Errorf("withKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFailureWraps: a failure's whole message shows, wrapped in the panes
// that give a scenario its own lines, at every width, however long the
// trace path in it (the kv-cache-tester archive's members are named
// ARCHIVE[MEMBER]:field).
func TestFailureWraps(t *testing.T) {
	cfg := smallConfig(t, 100)
	for i := range cfg.Trace.Requests {
		cfg.Trace.Requests[i].Source = fmt.Sprintf("/home/someone/work/shared/traces/kv-cache-tester/traces.tar.xz[traces/trace_0007.json]:requests[%d]", i)
	}
	small, err := ParseEntries([]string{"lbgr+rlt;cache_blocks=4"}, cfg.Base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Scenarios = append(cfg.Scenarios[:1], small...)
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		m := newDone(t, cfg, size[0], size[1])
		sl := m.s.slots[1]
		full := "failed: " + failureText(sl.err)
		if !strings.Contains(full, "trace_0007.json]:requests[0]") || !strings.Contains(full, "more than the cache") {
			t.Fatalf("unexpected failure %q", full)
		}
		// Each pane that lists B on its own lines, focused (at 80×24 the
		// others are one-line summaries) and zoomed off.
		for _, pane := range []int{paneTimeline, paneWorkers, paneCompare, paneRequest} {
			press(m, fmt.Sprint(pane+1))
			if pane == paneTimeline {
				press(m, "]") // select B
			}
			if pane == paneRequest {
				// B comes last, below the fold at 80×24: scroll to it.
				for range 20 {
					press(m, "j")
				}
			}
			screen := plain(m)
			var text strings.Builder
			for _, l := range strings.Split(screen, "\n") {
				// The pane's inside, borders and padding dropped, one
				// line after the other.
				l = strings.Trim(l, "│┃ ")
				text.WriteString(l)
			}
			flat := strings.ReplaceAll(text.String(), " ", "")
			if !strings.Contains(flat, strings.ReplaceAll(full, " ", "")) {
				t.Errorf("%dx%d pane %d: the whole failure is not on screen:\n%s", size[0], size[1], pane+1, screen)
			}
		}
	}
}

// TestStatusLinesWrap: slotStatusLines never exceeds the width and keeps
// every character of the message.
func TestStatusLinesWrap(t *testing.T) {
	st := newStyles(true, false)
	s := &shared{st: &st}
	msg := "/a/very/long/path/without/spaces/traces.tar.xz[traces/trace_0007.json]:requests[3]: request 3 needs 9 blocks, more than the cache's 4"
	sl := &slot{state: slotFailed, err: errors.New(msg)}
	for _, w := range []int{3, 12, 30, 57, 200} {
		lines := s.slotStatusLines(sl, w, "  ")
		var got strings.Builder
		for _, l := range lines {
			if n := ansi.StringWidth(l); n > w {
				t.Errorf("width %d: line %q is %d cells", w, l, n)
			}
			got.WriteString(strings.TrimPrefix(ansi.Strip(l), "  "))
		}
		if strings.ReplaceAll(got.String(), " ", "") != strings.ReplaceAll("failed: "+msg, " ", "") {
			t.Errorf("width %d: %q, want the whole message", w, got.String())
		}
	}
	sl = &slot{state: slotRunning, done: 3, total: 4, phase: phaseRatios}
	if got := s.slotStatusLines(sl, 80, ""); len(got) != 1 || !strings.Contains(got[0], "opt & Belady… 75%") {
		t.Errorf("running slot: %q", got)
	}
}

// Random scrub keys with the metrics commands running in goroutines, as
// under tea.Program (the scrub benchmark's driver, on the sample's head):
// once the keys stop and the commands have answered, every scenario's
// metrics table is the one at the cursor.
func TestScrubCatchesUp(t *testing.T) {
	m := newDone(t, smallConfig(t, 300), 200, 60)
	rng := rand.New(rand.NewPCG(1, 2))
	if lat := scrub(m, rng, 100); len(lat) != 100 {
		t.Fatalf("%d keys timed, want 100", len(lat))
	}
	checkCaughtUp(t, m)
}
