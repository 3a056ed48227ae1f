package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// helpDialog is the full key help over the panes: the global keys plus
// the focused pane's (or an open form's). It closes with ? or esc and
// scrolls when taller than the screen; every other key goes through to
// the keys below, so focus can move under it and its content follows.
type helpDialog struct {
	m   *Model
	off int // first line shown when the overlay scrolls
}

func (d *helpDialog) update(msg tea.Msg) dialogResult {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return dialogResult{pass: true}
	}
	if k.String() == "esc" || key.Matches(k, d.m.keys.Help) {
		return dialogResult{close: true}
	}
	// Help taller than the screen scrolls; otherwise keys pass through.
	if over := len(d.m.helpLines()) - d.m.helpRows(); over > 0 {
		sk := newScrollKeys()
		switch {
		case key.Matches(k, sk.Up):
			d.off = max(min(d.off, over)-1, 0)
			return dialogResult{}
		case key.Matches(k, sk.Down):
			d.off = min(d.off+1, over)
			return dialogResult{}
		}
	}
	return dialogResult{pass: true}
}

func (d *helpDialog) draw(canvas []string, w, h int) {
	drawCentered(canvas, d.m.helpView(d.off), w, h)
}

func (d *helpDialog) keys() (string, help.KeyMap) { return "", nil }

// focusKeys are the keys the help overlay lists beside the global ones:
// the topmost dialog's that has keys, else the focused pane's.
func (m *Model) focusKeys() (help.KeyMap, string) {
	for i := len(m.dialogs) - 1; i >= 0; i-- {
		if title, km := m.dialogs[i].keys(); km != nil {
			return km, title
		}
	}
	return m.panes[m.s.focus].KeyMap(), m.specs[m.s.focus].Name + " pane"
}

// helpStyles are bubbles' help styles for the theme; without color, keys
// are bold and descriptions plain.
func helpStyles(dark, useColor bool) help.Styles {
	if useColor {
		return help.DefaultStyles(dark)
	}
	bold := lipgloss.NewStyle().Bold(true)
	return help.Styles{ShortKey: bold, FullKey: bold}
}

// helpGroupTitles name the global key groups (FullHelp's order) when the
// overlay is too narrow for them side by side and they wrap into rows.
var helpGroupTitles = []string{"general", "step", "time", "what-if & export"}

const helpMouse = "mouse: wheel scrolls (scrubs over the timeline), click focuses"
const helpClose = "? or esc closes"

// helpLines is the help overlay's content: the global keys, the focused
// pane's (or the form's), and a mouse note. The wide layout puts each
// section's groups side by side; when that is wider or taller than the
// screen, the groups become titled blocks that wrap into rows.
func (m *Model) helpLines() []string {
	st := m.s.st
	hm := m.help
	hm.SetWidth(0) // measure unclipped: nothing may end in "…"
	pm, title := m.focusKeys()
	avail := max(m.w-4, 10) // the box's border and a margin of two
	var lines []string
	lines = append(lines, st.bold.Render("Global keys"), "")
	lines = append(lines, strings.Split(hm.FullHelpView(m.keys.FullHelp()), "\n")...)
	lines = append(lines, "", st.bold.Render(title+" keys"), "")
	lines = append(lines, strings.Split(hm.FullHelpView(pm.FullHelp()), "\n")...)
	lines = append(lines, "", st.dim.Render(helpMouse+" · "+helpClose))
	if blockWidth(lines) <= avail && len(lines)+2 <= m.h-1 {
		return lines
	}
	// Wrapped: every group a block under its title, packed left to right.
	type block struct {
		lines []string
		w     int
	}
	var blocks []block
	add := func(head string, groups [][]key.Binding) {
		l := append([]string{head}, strings.Split(hm.FullHelpView(groups), "\n")...)
		blocks = append(blocks, block{l, blockWidth(l)})
	}
	for i, g := range m.keys.FullHelp() {
		head := ""
		if i < len(helpGroupTitles) {
			head = st.dim.Render(helpGroupTitles[i])
		}
		add(head, [][]key.Binding{g})
	}
	add(st.bold.Render(title+" keys"), pm.FullHelp())
	lines = []string{st.bold.Render("Global keys")}
	const sep = "    "
	for i := 0; i < len(blocks); {
		row := []block{blocks[i]}
		rw := blocks[i].w
		for i++; i < len(blocks) && rw+len(sep)+blocks[i].w <= avail; i++ {
			row = append(row, blocks[i])
			rw += len(sep) + blocks[i].w
		}
		h := 0
		for _, b := range row {
			h = max(h, len(b.lines))
		}
		if len(lines) > 1 {
			lines = append(lines, "")
		}
		for y := range h {
			var s strings.Builder
			for j, b := range row {
				l := ""
				if y < len(b.lines) {
					l = b.lines[y]
				}
				if j < len(row)-1 {
					l += strings.Repeat(" ", b.w-ansi.StringWidth(l)) + sep
				}
				s.WriteString(l)
			}
			lines = append(lines, s.String())
		}
	}
	lines = append(lines, "")
	if ansi.StringWidth(helpMouse+" · "+helpClose) <= avail {
		lines = append(lines, st.dim.Render(helpMouse+" · "+helpClose))
	} else {
		lines = append(lines, st.dim.Render(helpMouse), st.dim.Render(helpClose))
	}
	return lines
}

// blockWidth is the width of the widest line.
func blockWidth(lines []string) int {
	w := 0
	for _, l := range lines {
		w = max(w, ansi.StringWidth(l))
	}
	return w
}

// helpRows is how many content lines the help overlay shows at once.
func (m *Model) helpRows() int { return max(m.h-3, 0) }

// helpView draws the help overlay scrolled by off lines; content taller
// than the screen scrolls (↑/↓, j/k) and the top edge says so.
func (m *Model) helpView(off int) string {
	lines := m.helpLines()
	bw := min(blockWidth(lines)+4, m.w)
	rows := min(len(lines), m.helpRows())
	off = max(0, min(off, len(lines)-rows))
	note := ""
	if len(lines) > rows {
		note = fmt.Sprintf("↑/↓ %d–%d of %d", off+1, off+rows, len(lines))
	}
	return box(m.s.st, "Help", note, true, lines, bw, rows+2, off)
}
