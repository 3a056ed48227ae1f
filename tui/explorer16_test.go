package tui

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// fmtMs picks the unit by magnitude: the 8,115,355.7 ms of issue 16 reads
// in hours.
func TestFmtMs(t *testing.T) {
	for _, c := range []struct {
		ms   float64
		fine bool
		want string
	}{
		{0, false, "0 s"},
		{0.15, false, "0.15 ms"},
		{12.34, false, "12.3 ms"},
		{812.3, false, "812.3 ms"},
		{1234, false, "1.23 s"},
		{1234, true, "1.234 s"},
		{59_994, false, "59.99 s"},
		{90_000, false, "1.50 min"},
		{90_000, true, "1m30.000s"},
		{8_115_355.7, false, "2.25 h"},
		{8_115_355.7, true, "2h15m15.356s"},
		{-1500, false, "-1.50 s"},
		{math.NaN(), false, "–"},
		{math.Inf(1), true, "–"},
	} {
		if got := fmtMs(c.ms, c.fine); got != c.want {
			t.Errorf("fmtMs(%v, %v) = %q, want %q", c.ms, c.fine, got, c.want)
		}
	}
	if got := fmtDur(2*time.Hour, false); got != "2.00 h" {
		t.Errorf("fmtDur(2h) = %q", got)
	}
}

// Count axes get whole-number ticks, never "-0".
func TestCountTick(t *testing.T) {
	for v, want := range map[float64]string{61.96: "62", -0.2: "0", math.Copysign(0, -1): "0", 0.4: "0", 1234: "1.2k", 7: "7"} {
		if got := countTick(v); got != want {
			t.Errorf("countTick(%v) = %q, want %q", v, got, want)
		}
	}
}

// Every filter of the v key lists events of its kind, or says "none":
// "arrivals only" (the log's routed entries: routing happens on arrival)
// is not empty, and "fail only" on a run without failures says so instead
// of a blank list.
func TestTimelineFilters(t *testing.T) {
	m := newDone(t, smallConfig(t, 200), 120, 40)
	m.setFocus(paneTimeline)
	press(m, "f", "f", "f", "f", "f") // 5% in: events on both sides
	tp := m.panes[paneTimeline].(*timelinePane)
	run := runOf(m.s.selected())
	for i, f := range eventFilters {
		if tp.filter != i {
			t.Fatalf("filter %d, want %d", tp.filter, i)
		}
		lines := tp.lines()
		var listed []string
		for _, l := range lines[3:] {
			listed = append(listed, ansi.Strip(l))
		}
		n := 0
		for j := range run.Events {
			if f.keep(&run.Events[j]) {
				n++
			}
		}
		switch {
		case n == 0:
			if len(listed) != 1 || !strings.Contains(listed[0], "none ("+f.name+": no such event in this run)") {
				t.Errorf("%s: no events, listed %q", f.name, listed)
			}
		case len(listed) == 0 || strings.Contains(listed[0], "none"):
			t.Errorf("%s: %d events in the run, listed %q", f.name, n, listed)
		}
		if f.name == "arrivals only" {
			if n != len(m.s.tr.Requests) {
				t.Errorf("arrivals only keeps %d events, want one per request (%d)", n, len(m.s.tr.Requests))
			}
			for _, l := range listed {
				if !strings.HasSuffix(strings.TrimSpace(l), sim.LogRouted.String()) {
					t.Errorf("arrivals only lists %q", l)
				}
			}
		}
		if f.name == "fail only" && n != 0 {
			t.Errorf("the sample head has %d failures; the test wants a run without", n)
		}
		press(m, "v")
	}
	if tp.filter != 0 {
		t.Errorf("v after the last filter: %d, want 0 (all events)", tp.filter)
	}
}

// Space at the end of the timeline plays again from the start.
func TestPlayAtEndRestarts(t *testing.T) {
	m := newDone(t, smallConfig(t, 200), 120, 40)
	press(m, "end")
	if m.s.cursor != m.s.span.End {
		t.Fatal("end did not reach the end")
	}
	_, cmd := m.Update(keyMsg("space"))
	if !m.s.playing || cmd == nil {
		t.Fatal("space at the end did not play")
	}
	if m.s.cursor != m.s.span.Start || !strings.Contains(plain(m), "playing from the start") {
		t.Errorf("cursor %v after space at the end, want the start %v, said", m.s.cursor, m.s.span.Start)
	}
	// Played to the end (the ticks run out), space again restarts.
	for m.s.playing {
		m.Update(playTickMsg{seq: m.s.playSeq})
		if m.s.cursor > m.s.span.End {
			t.Fatal("played past the end")
		}
	}
	if m.s.cursor != m.s.span.End {
		t.Fatalf("play stopped at %v, not the end %v", m.s.cursor, m.s.span.End)
	}
	if !strings.Contains(plain(m), "end of the timeline: space plays from the start") {
		t.Error("the end of play is not said")
	}
	m.Update(keyMsg("space"))
	if !m.s.playing || m.s.cursor != m.s.span.Start {
		t.Errorf("second space at the end: playing %v, cursor %v", m.s.playing, m.s.cursor)
	}
}

// Worker rows keep their columns whether the hit ratio is a number or
// "–" (a worker no request reached): every row's "hit" starts in the same
// cell, so the bars have one width.
func TestWorkerRowsAligned(t *testing.T) {
	cfg := smallConfig(t, 3)
	entries, err := ParseEntries([]string{"round_robin+lru;workers=8"}, cfg.Base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Scenarios = entries
	m := newDone(t, cfg, 120, 40)
	press(m, "end")
	wp := m.panes[paneWorkers].(*workersPane)
	col, dash, num := -1, 0, 0
	for _, l := range wp.lines() {
		l = ansi.Strip(l)
		if !strings.HasPrefix(l, "  w") {
			continue
		}
		i := strings.Index(l, " hit ")
		if i < 0 {
			t.Fatalf("row without hit: %q", l)
		}
		c := ansi.StringWidth(l[:i])
		if col >= 0 && c != col {
			t.Fatalf("hit column %d, another row's %d:\n%s", c, col, ansi.Strip(strings.Join(wp.lines(), "\n")))
		}
		col = c
		if strings.HasSuffix(l, "–") {
			dash++
		} else {
			num++
		}
	}
	if dash == 0 || num == 0 {
		t.Fatalf("want rows of both kinds: %d with –, %d with a ratio", dash, num)
	}
}

// TestExplorer16Golden pins the issue-16 screens at 80×24: the Compare
// pane focused says its charts are below (the bottom edge's scroll hint)
// and scrolls to them; the timeline's "arrivals only" and "fail only"
// filters; the confirmations of x and w. Refresh with -update.
func TestExplorer16Golden(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	frame := func(t *testing.T, m *Model) string {
		t.Helper()
		out := plain(m)
		checkFrame(t, out, 80, 24)
		return out
	}
	t.Run("compare_80x24", func(t *testing.T) {
		m := sampleModel(t, 80, 24, true)
		press(m, "4")
		out := frame(t, m)
		if !strings.Contains(out, "more lines · j scrolls") {
			t.Errorf("no scroll hint under the compare table:\n%s", out)
		}
		golden.RequireEqual(t, out)
	})
	t.Run("compare_80x24_scrolled", func(t *testing.T) {
		m := sampleModel(t, 80, 24, true)
		press(m, "4")
		for range 40 {
			press(m, "j")
		}
		out := frame(t, m)
		for _, want := range []string{"TTFT p50 (per window)", "lines above"} {
			if !strings.Contains(out, want) {
				t.Errorf("scrolled compare pane lacks %q:\n%s", want, out)
			}
		}
		golden.RequireEqual(t, out)
	})
	t.Run("timeline_arrivals_80x24", func(t *testing.T) {
		m := sampleModel(t, 80, 24, true)
		press(m, "v")
		golden.RequireEqual(t, frame(t, m))
	})
	t.Run("timeline_fail_80x24", func(t *testing.T) {
		m := sampleModel(t, 80, 24, true)
		press(m, "v", "v", "v", "v", "v")
		out := frame(t, m)
		if !strings.Contains(out, "none (fail only") {
			t.Errorf("fail only on a run without failures:\n%s", out)
		}
		golden.RequireEqual(t, out)
	})
	t.Run("confirm_remove_80x24", func(t *testing.T) {
		m := sampleModel(t, 80, 24, true)
		press(m, "]", "x")
		out := frame(t, m)
		if len(m.s.slots) != 2 || !strings.Contains(out, "remove B lbgr+rlt?") {
			t.Errorf("x did not ask (%d scenarios):\n%s", len(m.s.slots), out)
		}
		golden.RequireEqual(t, out)
		press(m, "n")
		if len(m.s.slots) != 2 {
			t.Error("n removed the scenario")
		}
		press(m, "x", "y")
		if len(m.s.slots) != 1 || !strings.Contains(plain(m), "removed B lbgr+rlt") {
			t.Errorf("y did not remove B: %d scenarios", len(m.s.slots))
		}
	})
	t.Run("write_prompt_80x24", func(t *testing.T) {
		m := sampleModel(t, 80, 24, true)
		press(m, "w")
		golden.RequireEqual(t, frame(t, m))
	})
}

// An Azure trace (no prefix data) says in the trace pane, and in its
// collapsed summary, that its hit ratios are 0 by construction.
func TestAzureNoPrefixNote(t *testing.T) {
	csv := "TIMESTAMP,ContextTokens,GeneratedTokens\n" +
		"2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n2023-11-16 18:15:51.0000000,120,10\n"
	tr, err := trace.LoadBytes("az.csv", []byte(csv), trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(t, 3)
	cfg.Trace, cfg.Stats = tr, TraceStats(tr)
	m := newDone(t, cfg, 120, 40)
	if v := plain(m); !strings.Contains(v, "note: azure: no prefix data") {
		t.Errorf("trace pane lacks the no-prefix note:\n%s", v)
	}
	if s := m.panes[paneTrace].summary(); !strings.Contains(s, "no prefix data: hit ratios 0") {
		t.Errorf("summary %q lacks the note", s)
	}
}
