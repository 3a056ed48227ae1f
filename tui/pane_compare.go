package tui

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/guptarohit/asciigraph"
	"github.com/kvscope/kvscope/analysis"
)

// comparePane shows the scenarios side by side: the metrics table up to
// the cursor (analysis.MetricsAt) and charts of hit ratio, queue length and
// TTFT over time, with the cursor marked.
type comparePane struct {
	paneHead
	scrollBody
	keys  compareKeys
	chart int // 0 all, 1 hit ratio, 2 queue, 3 TTFT, 4 in flight (with a live run)
	cache map[chartKey]renderedChart
}

type compareKeys struct {
	scrollKeys
	Chart key.Binding
}

func (k compareKeys) ShortHelp() []key.Binding { return []key.Binding{k.Chart, k.Up, k.Down} }
func (k compareKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Chart, k.Up, k.Down, k.Top}}
}

type chartKey struct {
	kind, w, h, version int
	// liveVer and liveCut: the live recording's version and how many grid
	// points its line covers (live_charts.go); 0 without a live run.
	liveVer, liveCut int
}

type renderedChart struct {
	lines   []string
	axisCol int // column of the y axis (the plot starts after it)
	plotW   int
}

func newComparePane(s *shared) pane {
	p := &comparePane{scrollBody: newScrollBody(s), cache: map[chartKey]renderedChart{}}
	p.keys = compareKeys{scrollKeys: p.scroll.keys,
		Chart: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cycle charts"))}
	return p
}

func (p *comparePane) KeyMap() help.KeyMap { return p.keys }
func (p *comparePane) Update(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, p.keys.Chart) {
		p.chart = (p.chart + 1) % (p.chartKinds() + 1)
		return nil
	}
	p.scroll.handle(k)
	return nil
}

func (p *comparePane) summary() string {
	return p.s.slotSummary(func(i int, sl *slot) string {
		m, _, ok := p.s.metricsAt(sl)
		if !ok {
			return p.s.scenTag(i) + " …"
		}
		return fmt.Sprintf("%s hit %s TTFT p50 %s", p.s.scenTag(i), fnum(m.TokenHitRatio, 3), fmtMs(m.TTFT.P50, false))
	})
}

// metricRow is one row of the table: its name, value and which way is
// better (-1 lower, +1 higher, 0 neither).
type metricRow struct {
	name   string
	better int
	digits int
	get    func(m *analysis.RunMetrics) float64
}

// msDigits marks a row of milliseconds: fmtMs picks the unit.
const msDigits = -1

var compareRows = []metricRow{
	{"arrived", 0, 0, func(m *analysis.RunMetrics) float64 { return float64(m.Requests) }},
	{"completed", 0, 0, func(m *analysis.RunMetrics) float64 { return float64(m.Completed) }},
	{"token hit ratio", 1, 3, func(m *analysis.RunMetrics) float64 { return m.TokenHitRatio }},
	{"block hit ratio", 1, 3, func(m *analysis.RunMetrics) float64 { return m.BlockHitRatio }},
	{"TTFT p50", -1, msDigits, func(m *analysis.RunMetrics) float64 { return m.TTFT.P50 }},
	{"TTFT p99", -1, msDigits, func(m *analysis.RunMetrics) float64 { return m.TTFT.P99 }},
	{"queue p50", -1, msDigits, func(m *analysis.RunMetrics) float64 { return m.Queue.P50 }},
	{"E2E p50", -1, msDigits, func(m *analysis.RunMetrics) float64 { return m.E2E.P50 }},
	{"throughput req/s", 1, 3, func(m *analysis.RunMetrics) float64 { return m.ThroughputRPS }},
	{"max_load_s", -1, 2, func(m *analysis.RunMetrics) float64 { return m.MaxLoadS }},
	{"load max/mean", -1, 3, func(m *analysis.RunMetrics) float64 { return m.Imbalance.MaxOverMean }},
	{"load Jain", 1, 3, func(m *analysis.RunMetrics) float64 { return m.Imbalance.Jain }},
	{"evicted", 0, 0, func(m *analysis.RunMetrics) float64 { return float64(m.Evicted) }},
	{"rlt phases", 0, 0, func(m *analysis.RunMetrics) float64 { return float64(m.Phases) }},
}

func (p *comparePane) table(w int) []string {
	s, st := p.s, p.s.st
	n := len(s.slots)
	nameW := 17
	colW := max(min((w-nameW)/max(n, 1), 16), 8)
	exact := true
	ms := make([]*analysis.RunMetrics, n)
	for i, sl := range s.slots {
		if sl.state == slotDone {
			m, ex, ok := s.metricsAt(sl)
			if ok {
				ms[i] = m
				exact = exact && ex
			}
		}
	}
	title := "up to cursor"
	if !exact {
		title = "updating…"
	}
	head := []string{st.dim.Render(title)}
	widths := []int{nameW}
	for i := range s.slots {
		head = append(head, rjust(s.scenTag(i), colW-1))
		widths = append(widths, colW)
	}
	out := []string{joinCols(head, widths)}
	for _, r := range compareRows {
		cells := []string{r.name}
		vals := make([]float64, n)
		for i, m := range ms {
			vals[i] = math.NaN()
			if m != nil {
				vals[i] = r.get(m)
			}
		}
		best := bestOf(vals, r.better)
		for i, sl := range s.slots {
			var c string
			switch {
			case sl.state == slotFailed:
				c = "failed"
			case ms[i] == nil:
				c = "…"
			default:
				switch r.digits {
				case 0:
					c = si(vals[i])
				case msDigits:
					c = fmtMs(vals[i], false)
				default:
					c = fnum(vals[i], r.digits)
				}
				if !math.IsNaN(best) && vals[i] == best {
					c = st.good.Render("*" + c)
				}
			}
			cells = append(cells, rjust(c, colW-1))
		}
		out = append(out, joinCols(cells, widths))
	}
	if s.streamed() {
		// analysis.SpilledMetrics: percentiles from sketches.
		out = append(out, st.dim.Render(strings.TrimPrefix(sketchNote, " · ")))
	}
	return out
}

// sketchNote marks the percentiles of a streamed trace's runs.
var sketchNote = fmt.Sprintf(" · percentiles ±%g%%", 100*analysis.SketchRelativeAccuracy)

var chartNames = []string{"all", "token hit ratio (cumulative)", "queued requests (all workers)", "TTFT p50 (per window)",
	"requests in flight (all workers)"}

// chartKinds is how many charts there are: the in-flight chart only
// beside a live run.
func (p *comparePane) chartKinds() int {
	if p.s.live != nil {
		return chartInFlight
	}
	return 3
}

// seriesOn resamples a run's series onto n points of the common span.
func (p *comparePane) seriesOn(sl *slot, kind, n int) []float64 {
	v := sl.view
	var ser analysis.Series
	switch kind {
	case 1:
		ser = v.hit
	case 2:
		ser = v.queue
	case 3:
		ser = v.ttft
	case chartInFlight:
		ser = v.inflight
	}
	sp := p.s.span
	out := make([]float64, n)
	off := (sl.data.facts().start - sp.Start).Seconds()
	for i := range out {
		t := sp.len().Seconds()*float64(i)/float64(max(n-1, 1)) - off
		j, _ := slices.BinarySearch(ser.T, t)
		switch {
		case len(ser.T) == 0:
			out[i] = math.NaN()
		case j >= len(ser.T):
			if kind == 1 {
				out[i] = ser.V[len(ser.V)-1]
			} else if kind == 2 || kind == chartInFlight {
				out[i] = 0
			} else {
				out[i] = math.NaN()
			}
		default:
			out[i] = ser.V[j]
		}
	}
	return out
}

// renderChart draws chart kind at w×h (cached by size and data version,
// and the live line's version and extent), with the live run's line last.
func (p *comparePane) renderChart(kind, w, h int) renderedChart {
	k := chartKey{kind: kind, w: w, h: h, version: p.s.version}
	if l := p.s.live; l != nil {
		k.liveVer, k.liveCut = l.hist.ver, p.liveCut()
	}
	if c, ok := p.cache[k]; ok {
		return c
	}
	if len(p.cache) > 64 {
		clear(p.cache)
	}
	st := p.s.st
	var data [][]float64
	var colors []asciigraph.AnsiColor
	var chars []asciigraph.CharSet
	plain := []string{"•", "×", "+", "o"}
	for i, sl := range p.s.slots {
		if sl.state != slotDone || sl.view == nil {
			continue
		}
		data = append(data, p.seriesOn(sl, kind, seriesPoints))
		if len(st.series) > 0 {
			colors = append(colors, st.series[i%len(st.series)])
		}
		if !st.color {
			chars = append(chars, asciigraph.CreateCharSet(plain[i%len(plain)]))
		}
	}
	if lv := p.liveLine(kind, k.liveCut); lv != nil {
		data = append(data, lv)
		if len(st.series) > 0 {
			colors = append(colors, st.liveSeries)
		}
		if !st.color {
			chars = append(chars, asciigraph.CreateCharSet("L"))
		}
	}
	rc := renderedChart{}
	if len(data) == 0 || h < 3 || w < 20 {
		p.cache[k] = rc
		return rc
	}
	allNaN := true
	for _, d := range data {
		for _, x := range d {
			if !math.IsNaN(x) {
				allNaN = false
			}
		}
	}
	if allNaN {
		rc.lines = []string{"(no data)"}
		p.cache[k] = rc
		return rc
	}
	plot := func(pw int) renderedChart {
		opts := []asciigraph.Option{asciigraph.Height(h - 1), asciigraph.Width(pw), asciigraph.LowerBound(0)}
		switch kind {
		case 1:
			opts = append(opts, asciigraph.Precision(3))
		case 3:
			opts = append(opts, asciigraph.YAxisValueFormatter(func(v float64) string { return fmtMs(v, false) }))
		default:
			// Queue lengths are counts: whole-number ticks, never "-0".
			opts = append(opts, asciigraph.YAxisValueFormatter(countTick))
		}
		if len(colors) > 0 {
			opts = append(opts, asciigraph.SeriesColors(colors...))
		}
		if len(chars) > 0 {
			opts = append(opts, asciigraph.SeriesChars(chars...))
		}
		c := renderedChart{lines: strings.Split(asciigraph.PlotMany(data, opts...), "\n"), plotW: pw}
		for i, r := range []rune(ansi.Strip(c.lines[0])) {
			if r == '┤' || r == '┼' {
				c.axisCol = i
				break
			}
		}
		return c
	}
	// Plot once to learn the label width, then fit the plot to w.
	rc = plot(max(w-12, 10))
	if want := max(w-rc.axisCol-2, 10); want != rc.plotW {
		rc = plot(want)
	}
	p.cache[k] = rc
	return rc
}

func (p *comparePane) chartBlock(kind, w, h int) []string {
	st := p.s.st
	name := chartNames[kind]
	if kind == 3 && p.s.streamed() {
		name += sketchNote // a spilled run's windows are sketched (analysis.SpilledRun.TTFTSeries)
	}
	out := []string{st.bold.Render(name)}
	cut := p.liveCut()
	legend := p.liveLegend(kind, p.liveLine(kind, cut) != nil, w)
	out = append(out, legend...)
	strips := 0
	if kind == chartInFlight {
		// The per-worker rows only where the plot keeps 4 rows (c shows
		// the chart alone).
		if n := p.liveStripCount(cut); h-2-len(legend)-n >= 4 {
			strips = n
		}
	}
	c := p.renderChart(kind, w, h-2-len(legend)-strips)
	out = append(out, c.lines...)
	if strips > 0 {
		out = append(out, p.liveWorkerStrips(c, cut, w)...)
	}
	if c.plotW > 0 {
		f := p.s.span.frac(p.s.cursor)
		x := c.axisCol + 1 + int(math.Round(f*float64(c.plotW-1)))
		out = append(out, strings.Repeat(" ", max(x, 0))+st.accent.Render("▲ cursor"))
	}
	return out
}

func (p *comparePane) lines() []string {
	s, st := p.s, p.s.st
	w := p.w - 2
	var out []string
	for i, sl := range s.slots {
		out = append(out, s.scenTag(i)+" "+st.dim.Render(sl.label()))
		if sl.state == slotFailed {
			out = append(out, s.slotStatusLines(sl, w, "  ")...)
		}
	}
	out = append(out, p.table(w)...)
	out = append(out, p.liveCompareLines(w)...)
	room := p.h - 2 - len(out) - 1
	kinds := []int{1, 2, 3}
	if p.chartKinds() == chartInFlight {
		kinds = append(kinds, chartInFlight)
	}
	if p.chart != 0 {
		kinds = []int{p.chart}
	}
	if room < 7 {
		// Not enough room under the table: every chart follows it, 12
		// rows each, and the bottom edge's hint says to scroll.
		room = 12 * len(kinds)
	}
	// Fit as many charts as the room allows (at least 6 rows each).
	for len(kinds) > 1 && room/len(kinds) < 7 {
		kinds = kinds[:len(kinds)-1]
	}
	each := room / len(kinds)
	for _, k := range kinds {
		out = append(out, "")
		out = append(out, p.chartBlock(k, w, each-1)...)
	}
	return out
}

func (p *comparePane) View() string {
	lines := p.lines()
	p.scroll.clampTo(len(lines), p.h-2)
	note := "c: " + chartNames[p.chart]
	return box(p.s.st, p.title, note, p.focusedIn(p.s), lines, p.w, p.h, p.scroll.off)
}

// bestOf returns the best of vals in direction better (-1 lower, +1
// higher), or NaN when there is no direction, fewer than two values, or
// every value ties.
func bestOf(vals []float64, better int) float64 {
	best, n, tie := math.NaN(), 0, true
	for _, v := range vals {
		if math.IsNaN(v) {
			continue
		}
		if n > 0 && v != best {
			tie = false
		}
		if n == 0 || float64(better)*(v-best) > 0 {
			best = v
		}
		n++
	}
	if better == 0 || n < 2 || tie {
		return math.NaN()
	}
	return best
}

// countTick labels an axis of counts: the nearest whole number (si), with
// -0 written as 0.
func countTick(v float64) string {
	r := math.Round(v)
	if r == 0 {
		r = 0 // -0 too
	}
	return si(r)
}
