package tui

import (
	"fmt"
	"strings"
	"testing"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// notesPane is a pane that exists only in this file: the proof that a pane
// is one file plus one table line. It counts the pings it receives.
type notesPane struct {
	paneHead
	s      *shared
	w, h   int
	keys   notesKeys
	pings  int
	wheels int
}

type notesKeys struct{ Ping key.Binding }

func (k notesKeys) ShortHelp() []key.Binding  { return []key.Binding{k.Ping} }
func (k notesKeys) FullHelp() [][]key.Binding { return [][]key.Binding{{k.Ping}} }

// pingMsg is the command a ping returns.
type pingMsg struct{ n int }

func newNotesPane(s *shared) pane {
	return &notesPane{s: s, keys: notesKeys{
		Ping: key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "ping the notes")),
	}}
}

func (p *notesPane) SetSize(w, h int)    { p.w, p.h = w, h }
func (p *notesPane) KeyMap() help.KeyMap { return p.keys }
func (p *notesPane) wheel(d int)         { p.wheels += d }
func (p *notesPane) summary() string     { return fmt.Sprintf("%d pings", p.pings) }
func (p *notesPane) Update(k tea.KeyPressMsg) tea.Cmd {
	if !key.Matches(k, p.keys.Ping) {
		return nil
	}
	p.pings++
	n := p.pings
	return func() tea.Msg { return pingMsg{n} }
}
func (p *notesPane) View() string {
	return box(p.s.st, p.title, "", p.focusedIn(p.s), []string{p.summary()}, p.w, p.h, 0)
}

// notesSpec is the one table line: under the compare pane in the wide
// grid, under the bounds pane in the medium one.
var notesSpec = paneSpec{Name: "Notes", New: newNotesPane, Wide: cell{3, 30}, Medium: cell{2, 20}}

// TestAddOnePane: a pane added by a test file only (panesWith, no edit of
// the table) gets a rectangle in every layout without overlapping the
// others, joins focus cycling and the digit keys, shows its keys in help
// and the status line shows its name, and receives its keys (and returns
// its command) when it has focus, and only then.
func TestAddOnePane(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	specs := panesWith(notesSpec)
	n := len(specs)
	notes := n - 1
	if n != numPanes+1 || specs[notes].Name != "Notes" {
		t.Fatalf("panesWith: %d panes, last %q", n, specs[notes].Name)
	}
	checkTiling(t, specs)

	for _, c := range []struct {
		w, h int
		mode layoutMode
	}{{80, 24, modeStack}, {120, 40, modeGrid2}, {200, 60, modeGrid3}} {
		t.Run(fmt.Sprintf("%dx%d", c.w, c.h), func(t *testing.T) {
			m := newDoneWith(t, smallConfig(t, 100), specs, c.w, c.h)
			if m.lay.Mode != c.mode {
				t.Fatalf("mode %s, want %s", m.lay.Mode, c.mode)
			}
			r := m.lay.Panes[notes]
			if r.empty() {
				t.Fatalf("the notes pane has no room: %+v", r)
			}
			for p, q := range m.lay.Panes {
				if p != notes && overlaps(r, q) {
					t.Errorf("the notes pane %+v overlaps pane %s %+v", r, specs[p].Name, q)
				}
			}
			out := plain(m)
			checkFrame(t, out, c.w, c.h)
			if !strings.Contains(out, "7 Notes") || !strings.Contains(out, "0 pings") {
				t.Errorf("the notes pane is not drawn:\n%s", out)
			}
			// Not focused: its key is not its own.
			pane := m.panes[notes].(*notesPane)
			press(m, "n")
			if pane.pings != 0 {
				t.Fatal("the notes pane got a key without focus")
			}
			// Focus: tab from the last built-in pane, shift+tab from the
			// first, and the digit key 7.
			press(m, "6", "tab")
			if m.s.focus != notes {
				t.Fatalf("tab from Request: focus %d, want the notes pane", m.s.focus)
			}
			press(m, "tab")
			if m.s.focus != paneTimeline {
				t.Fatalf("tab from the notes pane: focus %d, want Timeline", m.s.focus)
			}
			press(m, "shift+tab")
			if m.s.focus != notes {
				t.Fatalf("shift+tab from Timeline: focus %d, want the notes pane", m.s.focus)
			}
			press(m, "1", "7")
			if m.s.focus != notes {
				t.Fatalf("7: focus %d, want the notes pane", m.s.focus)
			}
			if m.lay.Collapsed[notes] {
				t.Error("the focused notes pane is collapsed")
			}
			lines := strings.Split(plain(m), "\n")
			if st := lines[len(lines)-1]; !strings.Contains(st, "Notes") {
				t.Errorf("status line %q does not name the focused pane", st)
			}
			// Its key reaches it and its command comes back.
			_, cmd := m.Update(keyMsg("n"))
			if pane.pings != 1 || !returns(cmd, pingMsg{1}) {
				t.Fatalf("ping: %d pings, command returns pingMsg{1}: %v", pane.pings, returns(cmd, pingMsg{1}))
			}
			// The wheel over it reaches it.
			m.Update(tea.MouseWheelMsg{X: r.X, Y: r.Y, Button: tea.MouseWheelDown})
			if pane.wheels != 1 {
				t.Errorf("wheel over the notes pane: %d", pane.wheels)
			}
			// Help: the global keys (pick now 1-7) and the pane's own.
			press(m, "?")
			out = plain(m)
			for _, want := range []string{"Notes pane keys", "Global keys"} {
				if !strings.Contains(out, want) {
					t.Errorf("help lacks %q", want)
				}
			}
			for kb, d := range map[string]string{"n": "ping the notes", "1-7": "focus pane"} {
				if !helpShows(out, kb, d) {
					t.Errorf("help lacks %q %q:\n%s", kb, d, out)
				}
			}
			// Help lets the pane's key through and stays open.
			press(m, "n")
			if _, open := m.top().(*helpDialog); !open || pane.pings != 2 {
				t.Errorf("n with help open: %d pings, want 2; help still open %v", pane.pings, open)
			}
		})
	}
}

// TestPaneTableChecked: a table the layouts cannot place is an error, not
// a pane lost off screen.
func TestPaneTableChecked(t *testing.T) {
	for _, c := range []struct {
		spec paneSpec
		want string
	}{
		{paneSpec{Name: "Lost", New: newNotesPane, Medium: cell{1, 10}}, "wide place"},
		{paneSpec{Name: "Far", New: newNotesPane, Wide: cell{4, 10}, Medium: cell{1, 10}}, "wide place"},
		{paneSpec{Name: "Trace", New: newNotesPane, Wide: cell{1, 10}, Medium: cell{1, 10}}, "listed twice"},
		{paneSpec{Name: "Anon", Wide: cell{1, 10}, Medium: cell{1, 10}}, "constructor"},
	} {
		_, err := newModel(smallConfig(t, 10), panesWith(c.spec))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.spec.Name, err, c.want)
		}
	}
	many := panesWith(notesSpec, paneSpec{Name: "B", New: newNotesPane, Wide: cell{1, 1}, Medium: cell{1, 1}},
		paneSpec{Name: "C", New: newNotesPane, Wide: cell{1, 1}, Medium: cell{1, 1}},
		paneSpec{Name: "D", New: newNotesPane, Wide: cell{1, 1}, Medium: cell{1, 1}})
	if _, err := newModel(smallConfig(t, 10), many); err == nil || !strings.Contains(err.Error(), "10 panes") {
		t.Errorf("10 panes: error %v", err)
	}
}

func overlaps(a, b rect) bool {
	return !a.empty() && !b.empty() && a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// returns runs cmd (and the commands of a batch) and reports whether one
// of them returns want.
func returns(cmd tea.Cmd, want tea.Msg) bool {
	if cmd == nil {
		return false
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			if returns(c, want) {
				return true
			}
		}
		return false
	default:
		return msg == want
	}
}
