package tui

import (
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/kvscope/kvscope/replay/scenario"
)

// A scenario stopped by oversize=error (requests larger than its cache,
// scenario.OversizedError) is not a dead end: the bypass key re-runs every
// such scenario with oversize=bypass (those requests served uncached,
// counted as bypassed): one-line failure texts lead with that offer and
// the size that would hold every request (e edits it in), the wrapped
// whole text ends with it.

// oversizeOf returns the oversize stop behind err, nil if there is none.
func oversizeOf(err error) *scenario.OversizedError {
	var oe *scenario.OversizedError
	if errors.As(err, &oe) {
		return oe
	}
	return nil
}

// oversizeHint is the offer put before an oversize failure's text ("" for
// any other failure).
func oversizeHint(err error) string {
	oe := oversizeOf(err)
	if oe == nil {
		return ""
	}
	return fmt.Sprintf("%d requests larger than the cache: press o to re-run with oversize=bypass, or e to set %s=%d (or more) · ",
		oe.Count, oe.SizeKey(), oe.Largest)
}

// oversizeKey is the offer put after an oversize failure's whole text,
// where panes wrap it (the text itself names the size): "" for any other
// failure.
func oversizeKey(err error) string {
	if oversizeOf(err) == nil {
		return ""
	}
	return " · press o to re-run with oversize=bypass"
}

// withKey returns the scenario label with key set to v: an earlier value
// of key is dropped, the new one appended.
func withKey(label, key, v string) string {
	parts := strings.Split(label, ";")
	out := parts[:1]
	for _, p := range parts[1:] {
		k, _, _ := strings.Cut(strings.TrimSpace(p), "=")
		if k != key && strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(append(out, key+"="+v), ";")
}

// bypassOversize re-runs every scenario that stopped on oversize requests
// with oversize=bypass.
func (m *Model) bypassOversize() tea.Cmd {
	var cmds []tea.Cmd
	var tags []string
	for i, sl := range m.s.slots {
		if sl.state != slotFailed || oversizeOf(sl.err) == nil {
			continue
		}
		e := sl.entry
		e.Scenario.Oversize = scenario.OversizeBypass
		e.Label = withKey(e.Label, "oversize", scenario.OversizeBypass)
		tags = append(tags, string(rune('A'+i)))
		cmds = append(cmds, m.restart(i, e))
	}
	if len(cmds) == 0 {
		m.setStatus("o re-runs a scenario stopped by requests larger than its cache; none is", false)
		return nil
	}
	m.setStatus("replaying "+strings.Join(tags, ", ")+" with oversize=bypass", true)
	return tea.Batch(cmds...)
}
