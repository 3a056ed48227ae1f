package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"
)

func (m *Model) statusLine() string {
	st := m.s.st
	var left []string
	left = append(left, st.statusKey.Render(m.specs[m.s.focus].Name))
	for i, sl := range m.s.slots {
		tag := m.s.scenTag(i)
		if i == m.s.sel {
			tag = "[" + tag + "]"
		}
		switch {
		case sl.state == slotRunning:
			pct := 0
			if sl.total > 0 {
				pct = 100 * sl.done / sl.total
			}
			left = append(left, tag+st.warn.Render(fmt.Sprintf(" %d%%", pct)))
		case sl.state == slotFailed:
			left = append(left, tag+st.errText.Render(" failed"))
		case sl.readErr() != nil:
			left = append(left, tag+st.errText.Render(" unreadable"))
		default:
			left = append(left, tag+st.good.Render(" ✓"))
		}
	}
	if l := m.s.live; l != nil {
		switch {
		case l.running && l.hasSnap:
			left = append(left, st.warn.Render(fmt.Sprintf("live %d/%d", l.snap.Finished, l.snap.Total)))
		case l.running:
			left = append(left, st.warn.Render("live…"))
		case l.err != nil:
			left = append(left, st.errText.Render("live failed"))
		case l.res != nil && l.res.Interrupted:
			left = append(left, st.warn.Render("live interrupted"))
		default:
			left = append(left, st.good.Render("live ✓"))
		}
	}
	msg := m.status
	// A spilled run whose files could not be read (panes drawn just
	// before show zeros for what it could not read): its first error,
	// before any other message, since the figures on screen depend on it.
	for i, sl := range m.s.slots {
		if err := sl.readErr(); sl.state == slotDone && err != nil {
			msg = st.errText.Render(string(rune('A'+i)) + ": " + err.Error())
			break
		}
	}
	if msg != "" && msg == m.status {
		if m.statusOK {
			msg = st.good.Render(msg)
		} else {
			msg = st.errText.Render(msg)
		}
	}
	l := st.status.Render(strings.Join(left, "  "))
	if msg != "" {
		l += "  " + msg
	}
	lw := ansi.StringWidth(l)
	// The longest key reminder that fits; narrower ones keep the what-if
	// and report keys as long as there is room, and ? leads to the rest.
	g := m.keys
	for _, keys := range [][]key.Binding{
		g.ShortHelp(),
		{g.Help, g.Next, g.Add, g.Write, g.Quit},
		{g.Help, g.Add, g.Write, g.Quit},
		{g.Help, terse(g.Add, "what-if"), terse(g.Write, "report"), g.Quit},
		{g.Help, g.Next, g.Quit},
		{g.Help},
	} {
		right := m.help.ShortHelpView(keys)
		if rw := ansi.StringWidth(right); lw+rw+2 <= m.w {
			return l + strings.Repeat(" ", m.w-lw-rw) + right
		}
	}
	return fitLine(l, m.w)
}

// terse is b with a shorter description, for a narrow status line.
func terse(b key.Binding, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(b.Keys()...), key.WithHelp(b.Help().Key, desc))
}
