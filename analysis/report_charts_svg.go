package analysis

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The HTML side of the report charts: the SVG (gonum plot), its error
// bars, the queue heat strip, the axis ticks and the HTML legend.

// svg renders a chart as an inline SVG element with gonum/plot.
func (c *chart) svg() (string, error) {
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text, p.Y.Label.Text = c.XLabel, c.YLabel
	// The legend is HTML under the SVG (legendHTML): text the browser
	// lays out wraps instead of running past the SVG's edge, and never
	// covers the data.
	p.Add(plotter.NewGrid())
	clamp := func(v float64, log bool) float64 {
		if log && v < 0.01 {
			return 0.01
		}
		return v
	}
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if c.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if !c.LogX {
		p.X.Tick.Marker = roundTicks{}
	}
	if !c.LogY {
		p.Y.Tick.Marker = roundTicks{}
	}
	if c.XTicks != nil {
		p.X.Tick.Marker = constantTicks(c.XTicks)
	}
	if c.YTicks != nil {
		p.Y.Tick.Marker = constantTicks(c.YTicks)
	}
	fixedY := c.YMin < c.YMax
	inY := func(y float64) bool { return !fixedY || (y >= c.YMin && y <= c.YMax) }
	if c.Heat != nil {
		c.Heat.add(p)
	}
	for _, l := range c.Lines {
		if c.Heat != nil {
			break
		}
		col := palette[l.Color%len(palette)]
		var segs []plotter.XYs
		var cur plotter.XYs
		for i := range l.X {
			x, y := clamp(l.X[i], c.LogX), clamp(l.Y[i], c.LogY)
			if bad(x) || bad(y) || !inY(y) {
				if len(cur) > 0 {
					segs = append(segs, cur)
				}
				cur = nil
				continue
			}
			cur = append(cur, plotter.XY{X: x, Y: y})
		}
		if len(cur) > 0 {
			segs = append(segs, cur)
		}
		for _, xy := range segs {
			if l.Points || l.Marks || len(xy) == 1 {
				s, err := plotter.NewScatter(xy)
				if err != nil {
					return "", fmt.Errorf("chart %s: %s: %w", c.ID, l.Name, err)
				}
				s.GlyphStyle.Color = col
				s.GlyphStyle.Radius = vg.Points(2.5)
				s.GlyphStyle.Shape = draw.CircleGlyph{}
				if l.Dashed {
					s.GlyphStyle.Shape = draw.RingGlyph{}
				}
				p.Add(s)
			}
			if !l.Points {
				ln, err := plotter.NewLine(xy)
				if err != nil {
					return "", fmt.Errorf("chart %s: %s: %w", c.ID, l.Name, err)
				}
				ln.LineStyle.Color = col
				ln.LineStyle.Width = vg.Points(1.4)
				if l.Dashed {
					ln.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				}
				p.Add(ln)
			}
		}
		if l.Err != nil {
			var eb errBars
			for i := range l.X {
				if !bad(l.X[i]) && !bad(l.Y[i]) && inY(l.Y[i]) && l.Err[i] > 0 && !bad(l.Err[i]) {
					eb = append(eb, errBar{l.X[i], l.Y[i], l.Err[i]})
				}
			}
			if len(eb) > 0 {
				e, err := plotter.NewYErrorBars(eb)
				if err != nil {
					return "", fmt.Errorf("chart %s: %s: %w", c.ID, l.Name, err)
				}
				e.LineStyle.Color = col
				p.Add(e)
			}
		}
	}
	h := c.Height
	if h == 0 {
		h = 340
	}
	if fixedY {
		p.Y.Min, p.Y.Max = c.YMin, c.YMax
	}
	if c.XTicks != nil {
		// Room either side for the end ticks' labels, which are centred
		// on the first and last values.
		if c.LogX && p.X.Min > 0 {
			f := math.Pow(p.X.Max/p.X.Min, 0.05)
			p.X.Min, p.X.Max = p.X.Min/f, p.X.Max*f
		} else {
			d := (p.X.Max - p.X.Min) * 0.05
			p.X.Min, p.X.Max = p.X.Min-d, p.X.Max+d
		}
	}
	cv := vgsvg.New(vg.Points(680), vg.Points(h))
	// A margin inside the SVG: the browser's font box of the title and of
	// the y label (gonum measures its own font) may reach a point or two
	// beyond gonum's, past the edge.
	m := vg.Points(4)
	p.Draw(draw.Crop(draw.New(cv), m, -m, m, -m))
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("chart %s: %w", c.ID, err)
	}
	s := buf.String()
	// Inline SVG: drop the XML declaration and the generator comment.
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	s = strings.Replace(s, "<svg ", `<svg role="img" aria-label="`+attrEscape(c.Title)+`" id="chart-`+c.ID+`" `, 1)
	return s, nil
}

func bad(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }

type errBar struct{ x, y, e float64 }
type errBars []errBar

func (e errBars) Len() int                    { return len(e) }
func (e errBars) XY(i int) (float64, float64) { return e[i].x, e[i].y }
func (e errBars) YError(i int) (float64, float64) {
	return e[i].e, e[i].e
}

// maxQueueLines is the most workers a queue chart draws as lines; more
// cannot be told apart by colour, and the chart becomes a heat strip.
const maxQueueLines = 4

// heatStrip draws series as rows of cells coloured by value: row r is
// series r, its cell i spans X[r][i] to the next instant.
type heatStrip struct {
	// Unit names the values (the scale's label).
	Unit string
	Rows []string
	X, V [][]float64
	Max  float64
}

func newHeatStrip(lines []chartLine) *heatStrip {
	h := &heatStrip{}
	for _, l := range lines {
		h.Rows = append(h.Rows, l.Name)
		h.X, h.V = append(h.X, l.X), append(h.V, l.Y)
		for _, v := range l.Y {
			if !bad(v) {
				h.Max = max(h.Max, v)
			}
		}
	}
	return h
}

// heatEnds are the heat scale's ends: a light gray for 0 (the strip
// stays visible), a dark blue for the largest value.
var heatEnds = [2]color.RGBA{{0xee, 0xf1, 0xf5, 0xff}, {0x08, 0x30, 0x6b, 0xff}}

// heatColor is v's colour on a scale to hi: linear between heatEnds.
func heatColor(v, hi float64) color.RGBA {
	f := 0.0
	if hi > 0 && !bad(v) {
		f = min(max(v/hi, 0), 1)
	}
	mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + f*(float64(b)-float64(a)))) }
	a, b := heatEnds[0], heatEnds[1]
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

// add puts the strip on p, with a labelled tick per row (row 0 on top).
func (h *heatStrip) add(p *plot.Plot) {
	p.Add(h)
	var ts plot.ConstantTicks
	for r, name := range h.Rows {
		ts = append(ts, plot.Tick{Value: h.rowY(r), Label: strings.TrimPrefix(name, "worker ")})
	}
	p.Y.Tick.Marker = ts
}

func (h *heatStrip) rowY(r int) float64 { return float64(len(h.Rows) - 1 - r) }

// DataRange implements plot.DataRanger.
func (h *heatStrip) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, xs := range h.X {
		if len(xs) > 0 {
			xmin, xmax = min(xmin, xs[0]), max(xmax, xs[len(xs)-1])
		}
	}
	return xmin, xmax, -0.5, float64(len(h.Rows)) - 0.5
}

// Plot implements plot.Plotter: a run of cells of one colour is one
// rectangle.
func (h *heatStrip) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for r := range h.Rows {
		xs, vs := h.X[r], h.V[r]
		y0, y1 := trY(h.rowY(r)-0.42), trY(h.rowY(r)+0.42)
		for i := 0; i < len(xs); {
			col := heatColor(vs[i], h.Max)
			j := i + 1
			for j < len(xs) && heatColor(vs[j], h.Max) == col {
				j++
			}
			end := xs[len(xs)-1]
			if j < len(xs) {
				end = xs[j]
			}
			x0, x1 := trX(xs[i]), trX(end)
			c.FillPolygon(col, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			i = j
		}
	}
}

// roundTicks is a linear axis's ticker: labelled ticks at multiples of a
// step of 1, 2, 2.5 or 5 × 10^n (four to ten of them), each label with the
// step's decimals, so neighbours never read alike (gonum's default wrote
// 1.1, 1.1, 1.1 for 1.10, 1.12, 1.14).
type roundTicks struct{}

// Ticks implements plot.Ticker.
func (roundTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || bad(lo) || bad(hi) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	step := niceStep((hi - lo) / 8)
	d := stepDecimals(step)
	var out []plot.Tick
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		x := math.Round(v/step) * step
		l := strconv.FormatFloat(x, 'f', d, 64)
		if strings.Trim(l, "-0.") == "" {
			l = strings.TrimPrefix(l, "-")
		}
		out = append(out, plot.Tick{Value: x, Label: l})
	}
	return out
}

// stepDecimals is how many decimals write step exactly (0.025: 3).
func stepDecimals(step float64) int {
	d := 0
	for d < 6 && math.Abs(step*math.Pow(10, float64(d))-math.Round(step*math.Pow(10, float64(d)))) > 1e-6 {
		d++
	}
	return d
}

// constantTicks labels exactly the values vs.
func constantTicks(vs []float64) plot.ConstantTicks {
	var ts plot.ConstantTicks
	for _, v := range vs {
		ts = append(ts, plot.Tick{Value: v, Label: tickLabel(v)})
	}
	return ts
}

// tickLabel writes an axis value: whole numbers in full, others with up
// to 4 significant digits; never "-0".
func tickLabel(v float64) string {
	if v == 0 {
		return "0"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// logTicks picks round ticks for a log axis over [lo, hi]: 1, 2, 5 per
// decade over a wide range, 1, 1.5, 2, 3, 5, 7 over a narrow one (ratios
// near 1 get ticks near 1).
func logTicks(lo, hi float64) []float64 {
	ms := []float64{1, 2, 5}
	if hi/lo <= 100 {
		ms = []float64{1, 1.5, 2, 3, 5, 7}
	}
	var out []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range ms {
			if v := m * math.Pow(10, e); v >= lo && v <= hi {
				out = append(out, v)
			}
		}
	}
	return out
}

// hexColor is c as #rrggbb.
func hexColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// legendHTML is the chart's legend as an HTML list under its SVG: one
// swatch (line, dashed line, dot or ring, in the series' colour) and name
// per series; for a heat strip, the colour scale with its ends.
func (c *chart) legendHTML() string {
	var b strings.Builder
	b.WriteString(`<ul class="legend">`)
	if h := c.Heat; h != nil {
		fmt.Fprintf(&b, `<li>%s: 0 <span class="sw heat" style="background:linear-gradient(to right,%s,%s)"></span> %s</li>`,
			esc(h.Unit), hexColor(heatColor(0, 1)), hexColor(heatColor(1, 1)), esc(tickLabel(h.Max)))
		b.WriteString("</ul>\n")
		return b.String()
	}
	for _, l := range c.Lines {
		col := hexColor(palette[l.Color%len(palette)])
		kind := "line"
		switch {
		case l.Points && l.Dashed:
			kind = "ring"
		case l.Points:
			kind = "dot"
		case l.Dashed:
			kind = "dash"
		case l.Marks:
			kind = "line marked"
		}
		fmt.Fprintf(&b, `<li><span class="sw %s" style="color:%s"></span>%s</li>`, kind, col, esc(l.Name))
	}
	b.WriteString("</ul>\n")
	return b.String()
}

// figureHTML is the chart as an HTML figure body: the SVG, then the
// legend.
func (c *chart) figureHTML() (string, error) {
	s, err := c.svg()
	if err != nil {
		return "", err
	}
	return s + c.legendHTML(), nil
}
