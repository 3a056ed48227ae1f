package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
)

// markLine is the overlay's line for the mark at 2000 blocks: replay's
// hit ratios there (hit-only, lru, round_robin, seed 1).
func markLine(t *testing.T, m *Model, workers int) string {
	t.Helper()
	res, err := seq.Run(m.s.tr, seq.Config{Workers: workers, Router: param.Spec{Name: "round_robin"}, Evict: param.Spec{Name: "lru"},
		Unit: kvcache.Blocks, Capacity: 2000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("▲ 2000 blocks: block hit %.4f · token hit %.4f (lru, %d worker%s)",
		res.BlockHitRatio, res.TokenHitRatio, workers, plural(workers))
}

// C opens the curve of the loaded trace with the selected scenario's cache
// marked; the figure at the mark is replay's at that size (hit-only,
// round_robin for the default scenarios' timed routers, the default workers).
func TestCurveOverlay(t *testing.T) {
	m := newDone(t, smallConfig(t, 300), 120, 40)
	if strings.Contains(plain(m), "Hit-ratio curve") {
		t.Fatal("curve shown before C")
	}
	press(m, "C")
	if _, ok := m.top().(*curveDialog); !ok {
		t.Fatalf("C: top dialog is %T, want the curve", m.top())
	}
	v := plain(m)
	for _, want := range []string{"Hit-ratio curve", "A cache_aware:preset=sglang-0.4.6+lru",
		"cache_aware needs timing: the curve routes round_robin",
		markLine(t, m, scenario.DefaultWorkers), "knees 50% "} {
		if !strings.Contains(v, want) {
			t.Fatalf("curve overlay lacks %q:\n%s", want, v)
		}
	}
	// ] selects B (lbgr+rlt): the same curve parameters, its own notes.
	press(m, "]")
	if m.s.sel != 1 {
		t.Fatalf("] in the overlay: selected %d", m.s.sel)
	}
	if len(m.curves.done) != 1 {
		t.Errorf("%d curves computed, want 1 (A and B share workers, router and unit)", len(m.curves.done))
	}
	v = plain(m)
	if !strings.Contains(v, "B lbgr+rlt") || !strings.Contains(v, "the scenario evicts with rlt") {
		t.Fatalf("after ]:\n%s", v)
	}
	// Help shows over it, listing the overlay's keys, and closes first;
	// then esc closes the curve.
	press(m, "?")
	if v := plain(m); !strings.Contains(v, "Hit-ratio curve keys") || !strings.Contains(v, "esc/C/q") {
		t.Fatalf("help over the curve lacks its keys:\n%s", v)
	}
	press(m, "esc")
	if !m.curveOpen() {
		t.Fatal("esc closed the curve under the help")
	}
	press(m, "esc")
	if strings.Contains(plain(m), "Hit-ratio curve") || m.curveOpen() {
		t.Fatal("esc did not close the curve")
	}
	// Reopening reuses the computed curve.
	_, cmd := m.Update(keyMsg("C"))
	if cmd != nil || !strings.Contains(plain(m), "Hit-ratio curve") {
		t.Fatal("reopening recomputed or did not show the curve")
	}
	// q closes it (and does not quit); C closes it, under the help too.
	press(m, "q")
	if m.curveOpen() || m.quitting {
		t.Fatalf("q: curve open %v, quitting %v", m.curveOpen(), m.quitting)
	}
	press(m, "C", "C")
	if m.curveOpen() {
		t.Fatal("C did not close the curve")
	}
	press(m, "C", "?", "C")
	if m.curveOpen() || len(m.dialogs) != 1 {
		t.Fatalf("C under the help: curve open %v, %d dialogs", m.curveOpen(), len(m.dialogs))
	}
}

// The curve is computed in a command, not in Update, and follows the
// selected scenario however the selection changes under the overlay
// (], or removing the scenario shown).
func TestCurveOverlayFollowsSelection(t *testing.T) {
	cfg := smallConfig(t, 300)
	entries, err := ParseEntries([]string{"round_robin+lru", "round_robin+lru;workers=2"}, cfg.Base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Scenarios = entries
	m := newDone(t, cfg, 120, 40)
	_, cmd := m.Update(keyMsg("C"))
	if cmd == nil {
		t.Fatal("C started no command")
	}
	if v := plain(m); !strings.Contains(v, "computing the curve of sample-head") || len(m.curves.done) != 0 {
		t.Fatalf("before its command ran: %d curves,\n%s", len(m.curves.done), v)
	}
	drive(t, m, cmd)
	if v := plain(m); !strings.Contains(v, markLine(t, m, scenario.DefaultWorkers)) {
		t.Fatalf("A's curve lacks %q:\n%s", markLine(t, m, scenario.DefaultWorkers), v)
	}
	press(m, "]")
	if v := plain(m); !strings.Contains(v, markLine(t, m, 2)) || len(m.curves.done) != 2 {
		t.Fatalf("B's curve (%d computed) lacks %q:\n%s", len(m.curves.done), markLine(t, m, 2), v)
	}
	// x goes through the overlay: B is removed, A is selected, and its
	// curve (kept) shows.
	press(m, "x")
	if len(m.s.slots) != 2 {
		t.Fatal("x removed a scenario without asking")
	}
	_, cmd = m.Update(keyMsg("y"))
	if cmd != nil {
		t.Fatal("A's curve recomputed")
	}
	if v := plain(m); len(m.s.slots) != 1 || !strings.Contains(v, markLine(t, m, scenario.DefaultWorkers)) {
		t.Fatalf("after x: %d slots,\n%s", len(m.s.slots), v)
	}
}

// The overlay fits every terminal size and says so when it cannot draw.
func TestCurveOverlaySizes(t *testing.T) {
	m := newDone(t, smallConfig(t, 300), 120, 40)
	press(m, "C")
	for _, sz := range [][2]int{{200, 60}, {100, 30}, {80, 24}, {60, 20}, {40, 12}, {24, 8}} {
		m.Update(winSize(sz[0], sz[1]))
		v := m.View().Content
		lines := strings.Split(v, "\n")
		if len(lines) != sz[1] {
			t.Fatalf("%v: %d lines", sz, len(lines))
		}
		for i, l := range lines {
			if w := ansi.StringWidth(l); w != sz[0] {
				t.Fatalf("%v: line %d is %d cells wide", sz, i, w)
			}
		}
		if sz[0] >= 60 && !strings.Contains(ansi.Strip(v), "block hit ratio") {
			t.Fatalf("%v: no chart:\n%s", sz, ansi.Strip(v))
		}
	}
	k, _ := curveKeyOf(m.s.selected().entry.Scenario)
	if got := curveLines(m.s.st, m.curves.done[k].rep, 0, "A", nil, 12, 6); len(got) != 1 || got[0] != "too small for the curve" {
		t.Fatalf("tiny: %q", got)
	}
}
