package analysis

import (
	"fmt"
	"github.com/kvscope/kvscope/replay/bounds"
	"image/color"
	"math"
	"slices"
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
