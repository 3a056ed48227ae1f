package analysis

import (
	"bytes"
	"fmt"
	"github.com/kvscope/kvscope/replay/bounds"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/guptarohit/asciigraph"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// chart is one figure of a report, drawn as inline SVG (HTML) or as a text
// chart (Markdown) from the same data.
type chart struct {
	ID, Title, XLabel, YLabel string
	Caption                   string
	// TextCaption, if set, replaces Caption under the text chart.
	TextCaption string
	LogX, LogY  bool
	// Height in points (default 340); LegendBottom puts the legend in the
	// lower right corner, LegendDown moves a top legend down by that many
	// points (to clear lines near the top).
	Height       float64
	LegendBottom bool
	LegendDown   float64
	// TextYLabel labels the y axis of the Text series.
	TextYLabel string
	// YHeadroom multiplies the largest y (log y axes) to leave room for a
	// top legend above the data.
	YHeadroom float64
	Lines     []chartLine
	// Text, if set, replaces Lines in the text rendering (for a chart whose
	// x axis does not suit a character grid).
	Text []chartLine
}

type chartLine struct {
	Name string
	X, Y []float64
	// Err, if set, is each point's interval half-width (error bars).
	Err []float64
	// Points draws markers only; Marks markers on the line too; Dashed a
	// dashed line.
	Points, Marks, Dashed bool
	Color                 int
}

// palette is Tableau 10, by index.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
}

// charts lists the report's figures in order.
func (r *Report) charts() []chart {
	var out []chart
	ok := func(s *ScenarioResult) bool { return s.OK() && s.Charts != nil }

	hit := chart{ID: "hit-ratio", Title: "Cluster token hit ratio over time (cumulative)",
		XLabel: "time since first arrival (s)", YLabel: "token hit ratio", LegendBottom: true}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if ok(s) {
			hit.Lines = append(hit.Lines, chartLine{Name: s.Label, X: s.Charts.HitRatio.T, Y: s.Charts.HitRatio.V, Color: i})
		}
	}
	hit.Caption = "Each scenario's first run (seed 1 for randomized scenarios); hits counted at prefill start."
	if len(hit.Lines) > 0 {
		out = append(out, hit)
	}

	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if !ok(s) {
			continue
		}
		q := chart{ID: fmt.Sprintf("queue-%d", i), Title: "Queue length per worker: " + s.Label,
			XLabel: "time since first arrival (s)", YLabel: "waiting requests",
			Caption: fmt.Sprintf("Waiting requests on each worker, seed %d.", s.Charts.Seed)}
		for w, se := range s.Charts.Queue {
			q.Lines = append(q.Lines, chartLine{Name: fmt.Sprintf("worker %d", w), X: se.T, Y: se.V, Color: w})
		}
		out = append(out, q)
	}

	cdf := chart{ID: "ttft-cdf", Title: "TTFT CDF", XLabel: "TTFT (ms, log scale)", YLabel: "fraction of completed requests", LogX: true, LegendBottom: true,
		Caption: "Each scenario's first run; TTFTs below 0.01 ms are drawn at 0.01 ms."}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if ok(s) && len(s.Charts.TTFTCDF.T) > 0 {
			cdf.Lines = append(cdf.Lines, chartLine{Name: s.Label, X: s.Charts.TTFTCDF.T, Y: s.Charts.TTFTCDF.V, Color: i})
		}
	}
	if len(cdf.Lines) > 0 {
		out = append(out, cdf)
	}

	if c, ok := r.competitiveChart(); ok {
		out = append(out, c)
	}

	if sw := r.Sweep; sw != nil {
		for _, d := range headline() {
			c := chart{ID: "sweep-" + d.Key, Title: d.Label + " against " + sw.Key,
				XLabel: sw.Key, YLabel: d.Label,
				Caption:     "Mean over seeds; bars are 95% Student-t intervals (none for deterministic scenarios).",
				TextCaption: "Mean over seeds; the intervals are in the sweep tables."}
			for _, cv := range sw.Curves {
				var l chartLine
				l.Name, l.Color = cv.Label, cv.Scenario
				for v, p := range cv.Points {
					m := p.Metric(d.Key)
					if m == nil || m.N == 0 {
						continue
					}
					l.X = append(l.X, float64(sw.X[v]))
					l.Y = append(l.Y, float64(m.Mean))
					l.Err = append(l.Err, float64(m.HalfWidth))
				}
				if len(l.X) > 0 {
					c.Lines = append(c.Lines, l)
				}
			}
			if len(c.Lines) > 0 {
				out = append(out, c)
			}
		}
	}
	return out
}

// competitiveChart draws every worker's mean ratio_vs_opt and
// ratio_vs_belady at its k, with SPEC §6's curves H_k, 2·H_k and k.
func (r *Report) competitiveChart() (chart, bool) {
	c := chart{ID: "competitive", Title: "Competitive ratio per worker against the theoretical bounds",
		XLabel: "k = B − L + 1 (log scale)", YLabel: "misses / opt misses (log scale)", LogX: true, LogY: true,
		Height: 420, YHeadroom: 1000, TextYLabel: "misses / opt misses",
		Caption: "Points: each worker's sequential ratio vs opt (filled) and vs the Belady bound (hollow), mean over seeds, at its own k. " +
			"Curves: H_k (every randomized policy ≥), 2·H_k (randomized marking ≤, rlt), k (deterministic ≥, lru =): " +
			"the paper's asymptotic form with the classical paging constants, exact only in block mode.",
		TextCaption: "Each worker's sequential ratio vs opt (mean over seeds) beside H_k and 2·H_k for that worker's B and L " +
			"(from the first scenario; k itself, the lru bound, is in the per-worker tables). Classical paging constants, exact only in block mode."}
	kmin, kmax := math.Inf(1), math.Inf(-1)
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if !s.OK() {
			continue
		}
		vo := chartLine{Name: s.Label + " vs opt", Points: true, Color: i}
		vb := chartLine{Name: s.Label + " vs Belady", Points: true, Dashed: true, Color: i}
		tx := chartLine{Name: s.Label + " vs opt", Color: i}
		for w := range s.Workers {
			ws := &s.Workers[w]
			k, ro, rb := ws.Metric("k"), ws.Metric("ratio_vs_opt"), ws.Metric("ratio_vs_belady")
			tx.X = append(tx.X, float64(w))
			if ro != nil && ro.N > 0 {
				tx.Y = append(tx.Y, float64(ro.Mean))
			} else {
				tx.Y = append(tx.Y, math.NaN())
			}
			if k == nil || k.N == 0 || k.Mean < 1 {
				continue
			}
			kx := float64(k.Mean)
			kmin, kmax = min(kmin, kx), max(kmax, kx)
			if ro != nil && ro.N > 0 && ro.Mean > 0 {
				vo.X, vo.Y = append(vo.X, kx), append(vo.Y, float64(ro.Mean))
			}
			if rb != nil && rb.N > 0 && rb.Mean > 0 {
				vb.X, vb.Y = append(vb.X, kx), append(vb.Y, float64(rb.Mean))
			}
		}
		if len(vo.X) > 0 {
			c.Lines = append(c.Lines, vo)
		}
		if len(vb.X) > 0 {
			c.Lines = append(c.Lines, vb)
		}
		c.Text = append(c.Text, tx)
	}
	if math.IsInf(kmin, 1) {
		return chart{}, false
	}
	if kmax/kmin < 10 {
		// A log axis over less than a decade has no labelled tick.
		c.LogX = false
		c.XLabel = "k = B − L + 1"
	}
	lo, hi := math.Max(1, kmin/1.5), kmax*1.5
	var ks []float64
	for i := range 41 {
		ks = append(ks, lo*math.Pow(hi/lo, float64(i)/40))
	}
	curve := func(name string, f func(float64) float64, col int) chartLine {
		l := chartLine{Name: name, Dashed: true, Color: col}
		for _, k := range ks {
			l.X, l.Y = append(l.X, k), append(l.Y, f(k))
		}
		return l
	}
	h := func(k float64) float64 { return bounds.Harmonic(int64(math.Floor(k))) }
	gray := len(palette) - 3 // gray, olive, cyan: away from the scenarios'
	c.Lines = append(c.Lines,
		curve("H_k (randomized lower bound)", h, gray),
		curve("2·H_k (rlt, randomized marking)", func(k float64) float64 { return 2 * h(k) }, gray+1),
		curve("k (lru, deterministic)", math.Floor, gray+2),
	)
	// The text chart has the worker on x: H_k and 2·H_k of the first
	// scenario's workers beside the ratios (k itself would flatten them).
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if !s.OK() {
			continue
		}
		hk := chartLine{Name: "H_k", Color: gray}
		rb := chartLine{Name: "2·H_k", Color: gray + 1}
		for w := range s.Workers {
			m := s.Workers[w].Metric("harmonic_k")
			v := math.NaN()
			if m != nil && m.N > 0 {
				v = float64(m.Mean)
			}
			hk.X, hk.Y = append(hk.X, float64(w)), append(hk.Y, v)
			rb.X, rb.Y = append(rb.X, float64(w)), append(rb.Y, 2*v)
		}
		c.Text = append(c.Text, hk, rb)
		break
	}
	return c, true
}

// svg renders a chart as an inline SVG element with gonum/plot.
func (c *chart) svg() (string, error) {
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text, p.Y.Label.Text = c.XLabel, c.YLabel
	p.Legend.Top = !c.LegendBottom
	p.Legend.Left = false
	p.Legend.YOffs = -vg.Points(c.LegendDown)
	if c.LegendBottom {
		p.Legend.YOffs = vg.Points(8)
	}
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
	for _, l := range c.Lines {
		col := palette[l.Color%len(palette)]
		var segs []plotter.XYs
		var cur plotter.XYs
		for i := range l.X {
			x, y := clamp(l.X[i], c.LogX), clamp(l.Y[i], c.LogY)
			if bad(x) || bad(y) {
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
		var legend plot.Thumbnailer
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
				legend = s
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
				legend = ln
			}
		}
		if l.Err != nil {
			var eb errBars
			for i := range l.X {
				if !bad(l.X[i]) && !bad(l.Y[i]) && l.Err[i] > 0 && !bad(l.Err[i]) {
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
		if legend != nil {
			p.Legend.Add(l.Name, legend)
		}
	}
	h := c.Height
	if h == 0 {
		h = 340
	}
	if c.YHeadroom > 0 {
		p.Y.Max *= c.YHeadroom
	}
	cv := vgsvg.New(vg.Points(680), vg.Points(h))
	p.Draw(draw.New(cv))
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

// textMarks distinguish series in a text chart without colour.
var textMarks = []string{"*", "+", "o", "x", "#", "@", "%", "=", "~", "^"}

const textWidth = 72

// text renders a chart with asciigraph: every series resampled onto one
// grid of textWidth columns over the common x range (log-spaced for a log
// x axis), each series drawn with its own character.
func (c *chart) text() string {
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
	const height = 12
	opts := []asciigraph.Option{asciigraph.Height(height), asciigraph.SeriesChars(marks...), asciigraph.Precision(labelDecimals(data, height))}
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

// labelDecimals picks enough decimals for the y labels of a text chart
// of the given height to differ from row to row (0 to 6).
func labelDecimals(data [][]float64, height int) uint {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, d := range data {
		for _, y := range d {
			if !bad(y) {
				lo, hi = min(lo, y), max(hi, y)
			}
		}
	}
	step := (hi - lo) / float64(height)
	if bad(step) || step <= 0 {
		return 2
	}
	return uint(min(max(math.Ceil(-math.Log10(step)), 0), 6))
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
