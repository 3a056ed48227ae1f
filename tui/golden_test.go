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
	// At 80 columns the key groups wrap into rows: every key still shows.
	for _, dark := range []bool{true, false} {
		theme := map[bool]string{true: "dark", false: "light"}[dark]
		t.Run("help_80x24_"+theme, func(t *testing.T) {
			m := sampleModel(t, 80, 24, dark)
			press(m, "tab", "tab", "tab", "?") // compare pane's keys
			out := plain(m)
			checkFrame(t, out, 80, 24)
			if strings.Contains(out, "…") {
				t.Error("help truncates a line")
			}
			for _, b := range m.keys.FullHelp() {
				for _, k := range b {
					if !helpShows(out, k.Help().Key, k.Help().Desc) {
						t.Errorf("help lacks %q", k.Help().Key+" "+k.Help().Desc)
					}
				}
			}
			for _, want := range []string{"Global keys", "Compare pane keys", "cycle charts", "scroll to top", "esc closes"} {
				if !strings.Contains(out, want) {
					t.Errorf("help lacks %q", want)
				}
			}
			if dark {
				golden.RequireEqual(t, out)
			}
		})
	}
	// Both themes' styled help: a theme difference shows in the goldens.
	styled := map[bool]string{}
	for _, dark := range []bool{true, false} {
		m := sampleModel(t, 80, 24, dark)
		press(m, "?")
		styled[dark] = m.View().Content
	}
	if styled[true] == styled[false] {
		t.Error("dark and light help render the same bytes")
	}
	t.Run("help_80x24_styled_dark", func(t *testing.T) { golden.RequireEqual(t, styled[true]) })
	t.Run("help_80x24_styled_light", func(t *testing.T) { golden.RequireEqual(t, styled[false]) })
	t.Run("whatif_80x24", func(t *testing.T) {
		m := sampleModel(t, 80, 24, true)
		press(m, "]", "a")
		out := plain(m)
		golden.RequireEqual(t, out)
	})
}

// helpShows reports whether some line of out has key k followed, after
// only spaces, by description d.
func helpShows(out, k, d string) bool {
	re := regexp.MustCompile(`(^|[\s┃])` + regexp.QuoteMeta(k) + ` +` + regexp.QuoteMeta(d) + `(\s|$)`)
	return re.MatchString(out)
}

// TestHelpScrolls: help taller than the screen scrolls with ↓/j and ↑/k
// and says so; help that fits lets those keys through to the pane.
func TestHelpScrolls(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	m := sampleModel(t, 80, 14, true)
	press(m, "?")
	out := plain(m)
	checkFrame(t, out, 80, 14)
	out = out[:strings.LastIndex(out, "\n")] // not the status line
	if !strings.Contains(out, "↑/↓ 1–11 of") || strings.Contains(out, "write report") {
		t.Fatalf("help at 80×14 does not scroll:\n%s", out)
	}
	for range 30 {
		press(m, "j")
	}
	out = plain(m)
	out = out[:strings.LastIndex(out, "\n")]
	if !strings.Contains(out, "write report") || !strings.Contains(out, "esc closes") {
		t.Fatalf("scrolled help lacks its last lines:\n%s", out)
	}
	press(m, "k")
	if p := plain(m); p[:strings.LastIndex(p, "\n")] == out {
		t.Fatal("k does not scroll the help back")
	}
	press(m, "?", "?")
	if !strings.Contains(plain(m), "↑/↓ 1–11 of") {
		t.Fatal("reopened help does not start at the top")
	}

	m = sampleModel(t, 120, 40, true)
	press(m, "tab", "?", "j") // trace pane: j scrolls it under the help
	if d, ok := m.top().(*helpDialog); !ok || d.off != 0 || m.panes[m.s.focus].(*tracePane).scroll.off != 1 {
		t.Fatal("j with help that fits should reach the pane")
	}
}

// TestStatusKeys: the status line names the what-if and report keys as
// long as they fit, and always leads to the help.
func TestStatusKeys(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	for _, c := range []struct {
		w    int
		want []string
	}{
		{200, []string{"? help", "tab next pane", "a add scenario", "w write report", "q quit"}},
		{80, []string{"? help", "a add scenario", "w write report", "q quit"}},
		{62, []string{"? help", "a what-if", "w report", "q quit"}},
		{40, []string{"? help"}},
	} {
		m := sampleModel(t, c.w, 24, true)
		lines := strings.Split(plain(m), "\n")
		st := lines[len(lines)-1]
		if n := len([]rune(st)); n != c.w {
			t.Errorf("%d columns: status line has %d cells", c.w, n)
		}
		for _, w := range c.want {
			if !strings.Contains(st, w) {
				t.Errorf("%d columns: status line %q lacks %q", c.w, st, w)
			}
		}
	}
}
