package tui

import (
	"image/color"
	"os"

	"charm.land/lipgloss/v2"
	"github.com/guptarohit/asciigraph"
)

// styles are the colors and text styles of one theme. With color off
// (NO_COLOR) every style keeps only bold, faint and reverse, and meaning is
// carried by glyphs.
type styles struct {
	dark, color bool

	border, borderFocus lipgloss.Style
	title, titleFocus   lipgloss.Style
	dim, bold, accent   lipgloss.Style
	good, bad, warn     lipgloss.Style
	selected            lipgloss.Style
	pinned, marked      lipgloss.Style
	unmarked, free      lipgloss.Style
	status, statusKey   lipgloss.Style
	errText             lipgloss.Style
	scen                [4]lipgloss.Style
	// series are asciigraph's colors for scenarios A–D (nil without color).
	series []asciigraph.AnsiColor
	// liveSeries is the live run's line in the charts (0 without color).
	liveSeries asciigraph.AnsiColor
}

// colorEnabled is false when NO_COLOR is set to anything non-empty
// (no-color.org).
func colorEnabled() bool { return os.Getenv("NO_COLOR") == "" }

func newStyles(dark, useColor bool) styles {
	s := styles{dark: dark, color: useColor}
	ld := lipgloss.LightDark(dark)
	c := func(light, darkc string) color.Color {
		if !useColor {
			return nil
		}
		return ld(lipgloss.Color(light), lipgloss.Color(darkc))
	}
	fg := func(st lipgloss.Style, col color.Color) lipgloss.Style {
		if col == nil {
			return st
		}
		return st.Foreground(col)
	}
	base := lipgloss.NewStyle()
	s.border = fg(base, c("#9E9E9E", "#585858"))
	s.borderFocus = fg(base.Bold(true), c("#5A3FD6", "#A48BFF"))
	s.title = fg(base, c("#616161", "#9E9E9E"))
	s.titleFocus = fg(base.Bold(true), c("#5A3FD6", "#C7B8FF"))
	if !useColor {
		s.titleFocus = s.titleFocus.Reverse(true)
	}
	s.dim = fg(base.Faint(!useColor), c("#8A8A8A", "#767676"))
	s.bold = base.Bold(true)
	s.accent = fg(base.Bold(true), c("#0B6BCB", "#5FAFFF"))
	s.good = fg(base, c("#1B7F3B", "#5FD787"))
	s.bad = fg(base, c("#B3261E", "#FF6B6B"))
	s.warn = fg(base, c("#9A6700", "#FFD75F"))
	s.selected = fg(base.Bold(true), c("#000000", "#FFFFFF"))
	if useColor {
		s.selected = s.selected.Background(ld(lipgloss.Color("#D7D0FF"), lipgloss.Color("#3A2F7A")))
	} else {
		s.selected = s.selected.Reverse(true)
	}
	s.pinned = fg(base, c("#B3261E", "#FF8787"))
	s.marked = fg(base, c("#9A6700", "#FFD75F"))
	s.unmarked = fg(base, c("#1B7F3B", "#87D787"))
	s.free = s.dim
	s.status = fg(base, c("#424242", "#BDBDBD"))
	s.statusKey = fg(base.Bold(true), c("#5A3FD6", "#C7B8FF"))
	s.errText = fg(base.Bold(true), c("#B3261E", "#FF6B6B"))
	scen := [4][2]string{{"#0B6BCB", "#5FAFFF"}, {"#C2410C", "#FFAF5F"}, {"#1B7F3B", "#87D787"}, {"#A21CAF", "#FF87FF"}}
	for i, p := range scen {
		s.scen[i] = fg(base.Bold(true), c(p[0], p[1]))
	}
	if useColor {
		if dark {
			s.series = []asciigraph.AnsiColor{asciigraph.DodgerBlue, asciigraph.Orange, asciigraph.LightGreen, asciigraph.Violet}
			s.liveSeries = asciigraph.Cyan
		} else {
			s.series = []asciigraph.AnsiColor{asciigraph.Blue, asciigraph.DarkOrange, asciigraph.Green, asciigraph.DarkMagenta}
			s.liveSeries = asciigraph.DarkCyan
		}
	}
	return s
}

// scenStyle is scenario i's label style.
func (s *styles) scenStyle(i int) lipgloss.Style { return s.scen[i%len(s.scen)] }
