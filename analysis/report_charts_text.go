package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/guptarohit/asciigraph"
)

// The Markdown side of the report charts: text charts (asciigraph) and the
// heat strip's shade rows.

// textMarks distinguish series in a text chart without colour.
var textMarks = []string{"*", "+", "o", "x", "#", "@", "%", "=", "~", "^"}

const textWidth = 72

// text renders a chart with asciigraph: every series resampled onto one
// grid of textWidth columns over the common x range (log-spaced for a log
// x axis), each series drawn with its own character.
func (c *chart) text() string {
	if c.Heat != nil {
		return c.Heat.text(c.XLabel)
	}
	lines := c.Lines
	if c.Text != nil {
		lines = c.Text
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for i, x := range l.X {
			if bad(x) || bad(l.Y[i]) {
				continue
			}
			if c.LogX && c.Text == nil {
				x = math.Max(x, 0.01)
			}
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	if math.IsInf(lo, 1) {
		return ""
	}
	logX := c.LogX && c.Text == nil
	n := textWidth
	grid := make([]float64, n)
	for i := range grid {
		f := float64(i) / float64(n-1)
		if logX {
			grid[i] = lo * math.Pow(hi/lo, f)
		} else {
			grid[i] = lo + (hi-lo)*f
		}
	}
	var data [][]float64
	var marks []asciigraph.CharSet
	var legend []string
	for j, l := range lines {
		data = append(data, resample(l.X, l.Y, grid, logX))
		m := textMarks[j%len(textMarks)]
		marks = append(marks, asciigraph.CreateCharSet(m))
		legend = append(legend, m+" "+l.Name)
	}
	opts := append(yAxisOptions(lines, data), asciigraph.SeriesChars(marks...))
	var b strings.Builder
	b.WriteString(asciigraph.PlotMany(data, opts...))
	b.WriteString("\n")
	xl, yl, d := c.XLabel, c.YLabel, -1
	if c.Text != nil {
		xl, yl, d = "worker", c.TextYLabel, 0
	}
	xs := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	if d == 0 {
		xs = func(x float64) string { return num(x, 0) }
	}
	fmt.Fprintf(&b, "x: %s, %s … %s; y: %s\n", xl, xs(lo), xs(hi), yl)
	for _, l := range legend {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// textHeight is a text chart's most rows.
const textHeight = 12

// yAxisOptions sets a text chart's y axis to round labels: the range is
// widened to whole steps of 1, 2, 2.5 or 5 × 10^n (at least 1 for series of
// whole numbers: counts get no fractional labels) and every row is one
// step (asciigraph labels row i as lo + i·(hi−lo)/height). No label reads
// "-0".
func yAxisOptions(lines []chartLine, data [][]float64) []asciigraph.Option {
	whole := true
	for _, l := range lines {
		for _, y := range l.Y {
			if !bad(y) && y != math.Trunc(y) {
				whole = false
			}
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, d := range data {
		for _, y := range d {
			if !bad(y) {
				lo, hi = min(lo, y), max(hi, y)
			}
		}
	}
	if bad(lo) || bad(hi) {
		return []asciigraph.Option{asciigraph.Height(textHeight)}
	}
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / textHeight)
	if whole {
		step = max(step, 1)
	}
	lo = math.Floor(lo/step) * step
	rows := max(int(math.Ceil((hi-lo)/step-1e-9)), 1)
	d := stepDecimals(step)
	return []asciigraph.Option{asciigraph.Height(rows), asciigraph.LowerBound(lo), asciigraph.UpperBound(lo + step*float64(rows)),
		asciigraph.YAxisValueFormatter(func(v float64) string {
			v = math.Round(v/step) * step // the row's exact label
			s := strconv.FormatFloat(v, 'f', d, 64)
			if strings.Trim(s, "-0.") == "" {
				s = strings.TrimPrefix(s, "-") // -0.0 is 0.0
			}
			// asciigraph leaves no gap before the axis for labels under
			// 3 characters: pad them.
			return fmt.Sprintf("%3s", s)
		})}
}

// niceStep is the smallest of 1, 2, 2.5, 5 × 10^n at least x (x > 0).
func niceStep(x float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= x*(1-1e-12) {
			return m * e
		}
	}
	return 10 * e
}

// resample evaluates a series at grid points by linear interpolation
// between its neighbours (in log x when logX); NaN outside its range.
func resample(xs, ys, grid []float64, logX bool) []float64 {
	type pt struct{ x, y float64 }
	var ps []pt
	for i := range xs {
		if !bad(xs[i]) && !bad(ys[i]) {
			x := xs[i]
			if logX {
				x = math.Log(math.Max(x, 0.01))
			}
			ps = append(ps, pt{x, ys[i]})
		}
	}
	slices.SortStableFunc(ps, func(a, b pt) int {
		switch {
		case a.x < b.x:
			return -1
		case a.x > b.x:
			return 1
		}
		return 0
	})
	out := make([]float64, len(grid))
	for i, g := range grid {
		if logX {
			g = math.Log(g)
		}
		out[i] = math.NaN()
		if len(ps) == 0 {
			continue
		}
		const eps = 1e-9
		if g < ps[0].x-eps || g > ps[len(ps)-1].x+eps {
			continue
		}
		j, _ := slices.BinarySearchFunc(ps, g, func(p pt, g float64) int {
			switch {
			case p.x < g:
				return -1
			case p.x > g:
				return 1
			}
			return 0
		})
		switch {
		case j >= len(ps):
			out[i] = ps[len(ps)-1].y
		case j == 0 || ps[j].x == g:
			out[i] = ps[j].y
		default:
			a, b := ps[j-1], ps[j]
			out[i] = a.y + (b.y-a.y)*(g-a.x)/(b.x-a.x)
		}
	}
	return out
}

// text draws the strip as rows of shade characters, one column per
// textWidth-th of the time range holding the largest value in it.
func (h *heatStrip) text(xlabel string) string {
	lo, hi, _, _ := h.DataRange()
	if bad(lo) || bad(hi) {
		return ""
	}
	// Shades by quarter of the largest value, in whole numbers (counts).
	shades := []rune("·░▒▓█")
	var th []float64
	for i := 1; i <= 4; i++ {
		if t := math.Ceil(h.Max * float64(i) / 4); len(th) == 0 || t > th[len(th)-1] {
			th = append(th, t)
		}
	}
	level := func(v float64) rune {
		if bad(v) || v <= 0 {
			return shades[0]
		}
		for i, t := range th {
			if v <= t {
				return shades[len(shades)-len(th)+i]
			}
		}
		return shades[len(shades)-1]
	}
	nameW := 0
	for _, n := range h.Rows {
		nameW = max(nameW, len(n))
	}
	var b strings.Builder
	for r, name := range h.Rows {
		cols := make([]float64, textWidth)
		for i := range cols {
			cols[i] = math.NaN()
		}
		for i, x := range h.X[r] {
			j := 0
			if hi > lo {
				j = min(int((x-lo)/(hi-lo)*textWidth), textWidth-1)
			}
			if v := h.V[r][i]; !bad(v) && (bad(cols[j]) || v > cols[j]) {
				cols[j] = v
			}
		}
		line := make([]rune, textWidth)
		for j, v := range cols {
			line[j] = level(v)
		}
		fmt.Fprintf(&b, "%*s │%s│\n", nameW, name, string(line))
	}
	fmt.Fprintf(&b, "x: %s, %s … %s; each column the most %s in it\n", xlabel, tickLabel(math.Round(lo)), tickLabel(math.Round(hi)), h.Unit)
	b.WriteString("  · 0")
	for i, t := range th {
		fmt.Fprintf(&b, "  %c ≤ %s", shades[len(shades)-len(th)+i], tickLabel(t))
	}
	b.WriteString("\n")
	return b.String()
}
