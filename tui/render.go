package tui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// fitLine truncates s to w cells and pads it with spaces to exactly w.
func fitLine(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// fitBlock makes exactly h lines of exactly w cells from content, starting
// at line off (scrolling); it returns the number of content lines too.
func fitBlock(content []string, w, h, off int) []string {
	out := make([]string, 0, h)
	off = max(0, min(off, len(content)-h))
	for i := 0; i < h; i++ {
		j := off + i
		if j < len(content) {
			out = append(out, fitLine(content[j], w))
		} else {
			out = append(out, strings.Repeat(" ", max(w, 0)))
		}
	}
	return out
}

// scrollHint is the bottom edge's note for n lines of content shown rows
// at a time from off (clamped as fitBlock clamps it); "" when all fit.
func scrollHint(n, rows, off int) string {
	if rows <= 0 || n <= rows {
		return ""
	}
	off = max(0, min(off, n-rows))
	above, below := off, n-rows-off
	switch {
	case above > 0 && below > 0:
		return fmt.Sprintf(" ↑%d ↓%d more lines · j/k scroll ", above, below)
	case below > 0:
		return fmt.Sprintf(" ↓ %d more lines · j scrolls ", below)
	default:
		return fmt.Sprintf(" ↑ %d lines above · k/t scroll back ", above)
	}
}

// box draws a pane: a rounded border with the title (and a right-hand
// note) in its top edge around content, exactly r.W×r.H cells.
func box(st *styles, title, note string, focused bool, content []string, w, h, off int) string {
	if w < 4 || h < 2 {
		return strings.Repeat(" ", max(w, 0))
	}
	bs, ts := st.border, st.title
	tl, tr, bl, br, hz, vt := "╭", "╮", "╰", "╯", "─", "│"
	if focused {
		bs, ts = st.borderFocus, st.titleFocus
		tl, tr, bl, br, hz, vt = "┏", "┓", "┗", "┛", "━", "┃"
	}
	inner := w - 2
	t := " " + title + " "
	if ansi.StringWidth(t) > inner-1 {
		t = ansi.Truncate(t, max(inner-1, 0), "…")
	}
	n := ""
	if note != "" && ansi.StringWidth(t)+ansi.StringWidth(note)+4 <= inner {
		n = " " + note + " "
	}
	fill := inner - 1 - ansi.StringWidth(t) - ansi.StringWidth(n)
	var b strings.Builder
	b.WriteString(bs.Render(tl+hz) + ts.Render(t) + bs.Render(strings.Repeat(hz, max(fill-1, 0))))
	if n != "" {
		b.WriteString(st.dim.Render(n))
	}
	b.WriteString(bs.Render(hz + tr))
	top := fitLine(b.String(), w)
	lines := []string{top}
	left, right := bs.Render(vt), bs.Render(vt)
	for _, l := range fitBlock(content, inner, h-2, off) {
		lines = append(lines, left+l+right)
	}
	// Content that does not fit says so in the bottom edge: how much is
	// above and below, and the keys that scroll (the pane's when focused).
	hint := scrollHint(len(content), h-2, off)
	if hint == "" || ansi.StringWidth(hint)+2 > inner {
		lines = append(lines, bs.Render(bl+strings.Repeat(hz, inner)+br))
	} else {
		fill := inner - 1 - ansi.StringWidth(hint)
		lines = append(lines, bs.Render(bl+strings.Repeat(hz, fill))+st.accent.Render(hint)+bs.Render(hz+br))
	}
	return strings.Join(lines, "\n")
}

// collapsedLine is a pane folded to one line in stack mode.
func collapsedLine(st *styles, key int, title, summary string, w int) string {
	s := st.dim.Render("▸ "+strconv.Itoa(key)+" ") + st.title.Render(title) + st.dim.Render(" · ") + summary
	return fitLine(s, w)
}

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// sparkline resamples vals into w cells (max per cell) and draws them with
// block glyphs scaled to the maximum.
func sparkline(vals []float64, w int) string {
	if w <= 0 || len(vals) == 0 {
		return ""
	}
	cells := resampleMax(vals, w)
	hi := 0.0
	for _, v := range cells {
		hi = math.Max(hi, v)
	}
	var b strings.Builder
	for _, v := range cells {
		if hi <= 0 || v <= 0 {
			b.WriteRune(' ')
			continue
		}
		i := int(math.Ceil(v/hi*float64(len(sparkRunes)))) - 1
		b.WriteRune(sparkRunes[min(max(i, 0), len(sparkRunes)-1)])
	}
	return b.String()
}

// resampleMax maps vals onto n cells, each the max of the values it covers
// (or the nearest value when cells outnumber values).
func resampleMax(vals []float64, n int) []float64 {
	out := make([]float64, n)
	if len(vals) == 0 {
		return out
	}
	for i := range out {
		a := i * len(vals) / n
		b := max((i+1)*len(vals)/n, a+1)
		m := vals[a]
		for _, v := range vals[a:min(b, len(vals))] {
			m = math.Max(m, v)
		}
		out[i] = m
	}
	return out
}

// hbar draws a horizontal bar of v/hi over w cells with eighth blocks.
func hbar(v, hi float64, w int) string {
	if w <= 0 {
		return ""
	}
	if hi <= 0 || v <= 0 {
		return strings.Repeat(" ", w)
	}
	eighths := int(math.Round(math.Min(v/hi, 1) * float64(w*8)))
	full := eighths / 8
	s := strings.Repeat("█", full)
	if r := eighths % 8; r > 0 {
		s += string([]rune("▏▎▍▌▋▊▉")[r-1])
	}
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

// joinCols lays cells out left-aligned in columns of the given widths.
func joinCols(cells []string, widths []int) string {
	var b strings.Builder
	for i, c := range cells {
		if i < len(widths) {
			b.WriteString(fitLine(c, widths[i]))
		} else {
			b.WriteString(c)
		}
	}
	return b.String()
}

// rjust right-aligns s in w cells.
func rjust(s string, w int) string {
	sw := ansi.StringWidth(s)
	if sw >= w {
		return s
	}
	return strings.Repeat(" ", w-sw) + s
}

// fnum formats x with d decimals; "–" for NaN or ±Inf.
func fnum(x float64, d int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', d, 64)
}

// si formats a count compactly (1234 → 1.2k).
func si(x float64) string {
	a := math.Abs(x)
	switch {
	case math.IsNaN(x):
		return "–"
	case a >= 1e9:
		return strconv.FormatFloat(x/1e9, 'f', 1, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(x/1e6, 'f', 1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(x/1e3, 'f', 0, 64) + "k"
	case a >= 1e3:
		return strconv.FormatFloat(x/1e3, 'f', 1, 64) + "k"
	case a >= 100 || x == math.Trunc(x):
		return strconv.FormatFloat(x, 'f', 0, 64)
	default:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}

// place overlays a block of lines at (x, y) of a w×h canvas of lines.
func place(canvas []string, block string, x, y, w int) {
	for i, l := range strings.Split(block, "\n") {
		row := y + i
		if row < 0 || row >= len(canvas) {
			continue
		}
		lw := ansi.StringWidth(l)
		left := ansi.Truncate(canvas[row], x, "")
		if pad := x - ansi.StringWidth(left); pad > 0 {
			left += strings.Repeat(" ", pad)
		}
		right := ""
		if x+lw < w {
			right = ansi.TruncateLeft(canvas[row], x+lw, "")
		}
		canvas[row] = left + l + right
	}
}

// fmtDur is the explorer's one duration format: the unit follows the
// magnitude (ms below a second, s below a minute, min below an hour, h
// above), so a TTFT of 8,115,355.7 ms reads "2.25 h". fine is for the
// timeline, where neighbouring events differ by milliseconds: one more
// decimal below a minute, and above it hours and minutes with seconds to
// the millisecond ("1h02m03.456s"). NaN and ±Inf read "–".
func fmtDur(d time.Duration, fine bool) string {
	return fmtMs(float64(d)/1e6, fine)
}

// fmtMs is fmtDur of a figure in milliseconds (analysis reports latencies
// in ms).
func fmtMs(ms float64, fine bool) string {
	if math.IsNaN(ms) || math.IsInf(ms, 0) {
		return "–"
	}
	extra := 0
	if fine {
		extra = 1
	}
	a := math.Abs(ms)
	switch {
	case ms == 0:
		return "0 s"
	case a < 1000:
		d := 1
		if a < 1 {
			d = 2
		}
		return strconv.FormatFloat(ms, 'f', d+extra, 64) + " ms"
	case a < 60e3:
		return strconv.FormatFloat(ms/1e3, 'f', 2+extra, 64) + " s"
	case fine:
		return clock(ms)
	case a < 3600e3:
		return strconv.FormatFloat(ms/60e3, 'f', 2+extra, 64) + " min"
	default:
		return strconv.FormatFloat(ms/3600e3, 'f', 2+extra, 64) + " h"
	}
}

// clock writes ms (at least a minute) as 12m03.456s or 1h02m03.456s.
func clock(ms float64) string {
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	t := int64(math.Round(ms)) // whole ms
	h, m := t/3600000, t/60000%60
	sec := float64(t%60000) / 1e3
	if h > 0 {
		return fmt.Sprintf("%s%dh%02dm%06.3fs", sign, h, m, sec)
	}
	return fmt.Sprintf("%s%dm%06.3fs", sign, m, sec)
}
