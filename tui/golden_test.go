package tui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
)

// sampleModel is the zero-argument explorer at w×h with a fixed theme,
// its replays finished and the cursor at 30%.
func sampleModel(t testing.TB, w, h int, dark bool) *Model {
	t.Helper()
	cfg, err := SampleConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dark = &dark
	m := newDone(t, cfg, w, h)
	press(m, "F", "F", "F")
	return m
}

// TestViewGolden pins what a user sees (ANSI stripped) at 80, 120 and 200
// columns, on dark and light backgrounds. Refresh with -update.
func TestViewGolden(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		for _, dark := range []bool{true, false} {
			theme := map[bool]string{true: "dark", false: "light"}[dark]
			t.Run(fmt.Sprintf("%dx%d_%s", sz[0], sz[1], theme), func(t *testing.T) {
				m := sampleModel(t, sz[0], sz[1], dark)
				out := plain(m)
				checkFrame(t, out, sz[0], sz[1])
				golden.RequireEqual(t, out)
			})
		}
	}
}

// checkFrame asserts a frame has exactly h lines of exactly w cells.
func checkFrame(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Fatalf("frame has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := len([]rune(l)); n != w {
			t.Fatalf("line %d has %d cells, want %d: %q", i, n, w, l)
		}
	}
}

// TestViewStyledGolden pins the styled frame (escape sequences escaped) on
// both backgrounds, and checks the themes differ only in their styling.
func TestViewStyledGolden(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	dark := sampleModel(t, 80, 24, true).View().Content
	light := sampleModel(t, 80, 24, false).View().Content
	if dark == light {
		t.Fatal("dark and light themes render the same bytes")
	}
	if stripANSI(dark) != stripANSI(light) {
		t.Fatal("dark and light themes differ in text")
	}
	t.Run("dark", func(t *testing.T) { golden.RequireEqual(t, dark) })
	t.Run("light", func(t *testing.T) { golden.RequireEqual(t, light) })
}

var sgrColor = regexp.MustCompile(`\x1b\[[0-9;]*(38|48);[0-9;]*m`)

// TestNoColor: with NO_COLOR set, no color escape reaches the frame, and
// the focused pane is still told apart (heavy border, reverse title).
func TestNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	m := sampleModel(t, 120, 40, true)
	out := m.View().Content
	if sgrColor.MatchString(out) {
		t.Fatalf("NO_COLOR frame has color escapes: %q", sgrColor.FindString(out))
	}
	if !strings.Contains(stripANSI(out), "┏━") {
		t.Fatal("focused pane not marked without color")
	}
	t.Setenv("NO_COLOR", "")
	m = sampleModel(t, 120, 40, true)
	if !sgrColor.MatchString(m.View().Content) {
		t.Fatal("colors missing with NO_COLOR unset: the test cannot tell")
	}
}

func TestOverlaysGolden(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	t.Run("help_120x40", func(t *testing.T) {
		m := sampleModel(t, 120, 40, true)
		press(m, "tab", "tab", "tab", "?") // compare pane's keys
		out := plain(m)
		for _, want := range []string{"Global keys", "Compare pane keys", "next event", "cycle charts", "write report"} {
			if !strings.Contains(out, want) {
				t.Errorf("help lacks %q", want)
			}
		}
		golden.RequireEqual(t, out)
	})
	t.Run("whatif_80x24", func(t *testing.T) {
		m := sampleModel(t, 80, 24, true)
		press(m, "]", "a")
		out := plain(m)
		golden.RequireEqual(t, out)
	})
}
