package tui

import (
	"os"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/replay/sim"
)

// drive runs cmd and every command it leads to, feeding each message to
// m, until nothing is left: replays run to the end, synchronously.
func drive(t testing.TB, m *Model, cmd tea.Cmd) {
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case playTickMsg:
			// Ticks would run forever while playing: feed one.
			_, next := m.Update(msg)
			_ = next
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

// newDone builds the explorer on cfg at w×h and runs its replays.
func newDone(t testing.TB, cfg Config, w, h int) *Model {
	t.Helper()
	return newDoneWith(t, cfg, builtinPanes(), w, h)
}

// newDoneWith is newDone with the panes of specs.
func newDoneWith(t testing.TB, cfg Config, specs []paneSpec, w, h int) *Model {
	t.Helper()
	m, err := newModel(cfg, specs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	drive(t, m, m.Init())
	if !m.Done() {
		t.Fatal("replays did not finish")
	}
	return m
}

// press sends keys and runs the commands they start (metrics, exports).
func press(m *Model, keys ...string) {
	for _, k := range keys {
		_, cmd := m.Update(keyMsg(k))
		drive(nil, m, cmd)
	}
}

// keyMsg builds the key press whose String() is k.
func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+u":
		return tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func plain(m *Model) string { return ansi.Strip(m.View().Content) }

func winSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

func stripANSI(s string) string { return ansi.Strip(s) }

// The built-in panes' indices, looked up by name in the pane table.
var (
	paneTimeline = paneNamed("Timeline")
	paneTrace    = paneNamed("Trace")
	paneWorkers  = paneNamed("Workers")
	paneCompare  = paneNamed("Compare")
	paneRequest  = paneNamed("Request")
	numPanes     = len(builtinPanes())
)

// paneNamed is the index of the built-in pane called name, or -1.
func paneNamed(name string) int {
	for i, p := range builtinPanes() {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// runOf is a replayed slot's whole run (a run in memory).
func runOf(sl *slot) *sim.Run { return sl.data.(*memRun).run }

// finishExport presses enter at the export prompt, runs the export to its
// end and returns the report written.
func finishExport(t *testing.T, m *Model) []byte {
	t.Helper()
	_, cmd := m.Update(keyMsg("enter"))
	if !m.exporting || cmd == nil || len(m.dialogs) != 0 {
		t.Fatalf("enter did not start an export: status %q", m.status)
	}
	drive(t, m, cmd)
	if m.exported == "" {
		t.Fatalf("no report written; status %q", m.status)
	}
	b, err := os.ReadFile(m.exported)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
