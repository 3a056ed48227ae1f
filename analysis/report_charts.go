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
	// Height in points (default 340).
	Height float64
	// XTicks and YTicks, if set, are the only labelled ticks (a sweep's
	// values; 1 on a ratio axis).
	XTicks, YTicks []float64
	// YMin < YMax fixes the y range; parts of lines outside it are not
	// drawn (a bound far above the data would flatten it).
	YMin, YMax float64
	// TextYLabel labels the y axis of the Text series.
	TextYLabel string
	Lines      []chartLine
	// Text, if set, replaces Lines in the text rendering (for a chart whose
	// x axis does not suit a character grid).
	Text []chartLine
	// Heat, if set, draws the chart as a heat strip (one row per series)
	// instead of Lines.
	Heat *heatStrip
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
		XLabel: "time since first arrival (s)", YLabel: "token hit ratio"}
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
		if len(q.Lines) > maxQueueLines {
			// More lines than a reader can tell apart: one strip per
			// worker, darker for a longer queue.
			q.Heat = newHeatStrip(q.Lines)
			q.Heat.Unit = q.YLabel
			q.Height = max(340, 80+24*float64(len(q.Lines)))
			q.YLabel = "worker"
			q.Caption = fmt.Sprintf("Waiting requests on each worker (one row each; darker is longer, the scale under the chart), seed %d.", s.Charts.Seed)
		}
		out = append(out, q)
	}

	cdf := chart{ID: "ttft-cdf", Title: "TTFT CDF", XLabel: "TTFT (ms, log scale)", YLabel: "fraction of completed requests", LogX: true,
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
		// Ticks at the swept values themselves, on a log axis when they
		// span a decade or more (1000…16000 doubling: evenly spaced).
		var xs []float64
		for _, v := range sw.X {
			xs = append(xs, float64(v))
		}
		logX := len(xs) > 1 && slices.Min(xs) > 0 && slices.Max(xs)/slices.Min(xs) >= 10
		xl := sw.Key
		if logX {
			xl += " (log scale)"
		}
		for _, d := range headline() {
			c := chart{ID: "sweep-" + d.Key, Title: d.Label + " against " + sw.Key,
				XLabel: xl, YLabel: d.Label, XTicks: xs, LogX: logX,
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
		Height: 420, TextYLabel: "misses / opt misses",
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
	// The y axis fits the points and the H_k curves (ratios near 1 are
	// the usual case), with 1 always on it; k, the deterministic bound, is
	// often thousands: drawn where it falls inside, named in the legend
	// with its range where it does not.
	ylo, yhi := 1.0, 2*h(hi)
	for _, l := range c.Lines {
		for _, y := range l.Y {
			ylo, yhi = min(ylo, y), max(yhi, y)
		}
	}
	c.YMin, c.YMax = ylo/1.1, yhi*1.25
	c.YTicks = logTicks(c.YMin, c.YMax)
	kName := "k (lru, deterministic)"
	if math.Floor(lo) > c.YMax {
		kName = fmt.Sprintf("k (lru, deterministic): %s…%s, above this axis", num(math.Floor(lo), 0), num(math.Floor(hi), 0))
	}
	c.Lines = append(c.Lines,
		curve("H_k (randomized lower bound)", h, gray),
		curve("2·H_k (rlt, randomized marking)", func(k float64) float64 { return 2 * h(k) }, gray+1),
		curve(kName, math.Floor, gray+2),
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
