package tui

import (
	"fmt"
	"math"
	"time"

	"github.com/kvscope/kvscope/analysis"
)

// The live run in the compare pane's charts: its series
// (analysis.LiveSeriesOn) on the charts' grid, one more line labelled L
// beside the scenarios', on the trace clock the cursor shares with them.
// While the run goes the line stops at the cursor (or at the latest
// snapshot, when the cursor is past it); after it, it covers the whole
// run. The series are computed once per snapshot, at the run's end and
// when the span changes (liveCharts), never per frame or per record; the
// rendered chart is cached by size, data version, live version and the
// grid point the line stops at.

// chartInFlight is the fourth chart, shown with a live run only.
const chartInFlight = 4

// liveCharts is the live run's series as last computed, for the span sp
// and the history's version ver; grid is the instants (seriesPoints over
// sp) and extent how far the recorded run reaches.
type liveCharts struct {
	ok     bool
	ver    int
	sp     span
	grid   []time.Duration
	extent time.Duration
	ser    analysis.LiveSeries
}

// extent is how far the recorded run reaches: its latest snapshot while
// it runs; after it, the run's whole length (the result's duration, the
// latest snapshot or the latest record's end, whichever is last).
func (l *liveState) extent() time.Duration {
	var t time.Duration
	if n := len(l.hist.snaps); n > 0 {
		t = l.hist.snaps[n-1].Elapsed
	}
	if l.running {
		return t
	}
	if l.res != nil {
		t = max(t, time.Duration(l.res.DurationS*float64(time.Second)))
	}
	for i := range l.hist.recs {
		r := &l.hist.recs[i]
		t = max(t, time.Duration((r.SentMs+r.E2EMs)*float64(time.Millisecond)))
	}
	return t
}

// chartSeries is the live run's series on sp's chart grid, recomputed when
// the recording or the span changed since the last call.
func (l *liveState) chartSeries(sp span) *liveCharts {
	c := &l.charts
	if c.ok && c.ver == l.hist.ver && c.sp == sp {
		return c
	}
	c.ok, c.ver, c.sp = true, l.hist.ver, sp
	c.grid = make([]time.Duration, seriesPoints)
	for i := range c.grid {
		c.grid[i] = sp.Start + time.Duration(float64(sp.len())*float64(i)/float64(seriesPoints-1))
	}
	c.extent = l.extent()
	c.ser = analysis.LiveSeriesOn(l.hist.recs, l.hist.pts, c.grid, c.extent)
	return c
}

// liveCut is how many grid points the live line covers now: those up to
// the cursor while the run goes, all it recorded after; 0 without a live
// run.
func (p *comparePane) liveCut() int {
	l := p.s.live
	if l == nil {
		return 0
	}
	c := l.chartSeries(p.s.span)
	limit := c.extent
	if l.running {
		limit = min(limit, p.s.cursor)
	}
	n := 0
	for n < len(c.grid) && c.grid[n] <= limit {
		n++
	}
	return n
}

// liveLine is the live run's line for chart kind, its first cut points
// (NaN after), or nil when it has no value there.
func (p *comparePane) liveLine(kind, cut int) []float64 {
	l := p.s.live
	if l == nil || cut == 0 {
		return nil
	}
	ser := &l.chartSeries(p.s.span).ser
	var v []float64
	switch kind {
	case 1:
		v = ser.Hit
	case 2:
		v = ser.Waiting
	case 3:
		v = ser.TTFT
	case chartInFlight:
		v = ser.InFlight
	}
	out := make([]float64, len(v))
	some := false
	for i := range out {
		out[i] = math.NaN()
		if i < cut && !math.IsNaN(v[i]) {
			out[i], some = v[i], true
		}
	}
	if !some {
		return nil
	}
	return out
}

// liveLegend says what the live line of chart kind is, or that the run
// has none there yet; nothing without a live run.
func (p *comparePane) liveLegend(kind int, drawn bool, w int) []string {
	l := p.s.live
	if l == nil {
		return nil
	}
	st := p.s.st
	what := [...]string{1: "responses' cached_tokens, by completion", 2: "waiting, from the workers' /metrics",
		3: "TTFT from arrival, by first token", chartInFlight: "sent, not ended (modeled: queued + running)"}[kind]
	if !drawn {
		what = "no data yet"
		if kind == 2 && !l.running {
			what = "no queue in the workers' /metrics"
		}
	} else if l.running {
		what += ", up to the cursor"
	}
	lines := wrap("L live: "+what, w, "  ")
	for i, line := range lines {
		if i == 0 {
			lines[i] = st.accent.Render("L") + st.dim.Render(line[1:])
		} else {
			lines[i] = st.dim.Render(line)
		}
	}
	return lines
}

// maxStrips bounds the in-flight chart's per-worker rows.
const maxStrips = 8

// stripLevels are a strip's heights, none to the most.
var stripLevels = []rune(" ▁▂▃▄▅▆▇█")

// liveStripCount is how many lines liveWorkerStrips adds to the in-flight
// chart: a scale line and a row per live worker (maxStrips at most, then
// a count); 0 when the live run has none to show yet.
func (p *comparePane) liveStripCount(cut int) int {
	l := p.s.live
	if l == nil || cut == 0 {
		return 0
	}
	n := len(l.chartSeries(p.s.span).ser.Workers)
	if n == 0 {
		return 0
	}
	if n > maxStrips {
		return maxStrips + 2
	}
	return n + 1
}

// liveWorkerStrips are the in-flight chart's per-worker rows under plot
// c: each live worker's requests in flight, a block per plot column
// (its height against the most any worker had, blank where unknown or
// past the cut), the worker's name where the axis labels are.
func (p *comparePane) liveWorkerStrips(c renderedChart, cut, w int) []string {
	if p.liveStripCount(cut) == 0 || c.plotW <= 0 {
		return nil
	}
	st := p.s.st
	ws := p.s.live.chartSeries(p.s.span).ser.Workers
	most := 0.0
	for _, v := range ws {
		for _, x := range v[:min(cut, len(v))] {
			if !math.IsNaN(x) {
				most = max(most, x)
			}
		}
	}
	out := []string{st.accent.Render("L") + st.dim.Render(fitLine(fmt.Sprintf(" per worker: ▁ 1 … █ %s in flight", countTick(most)), w-1))}
	for k, v := range ws {
		if k == maxStrips {
			out = append(out, st.dim.Render(fmt.Sprintf("%*s… %d more workers", c.axisCol+1, "", len(ws)-maxStrips)))
			break
		}
		row := []rune(fmt.Sprintf("%*s ", c.axisCol, fmt.Sprintf("w%d", k)))
		for x := range c.plotW {
			i := int(math.Round(float64(x) / float64(max(c.plotW-1, 1)) * float64(len(v)-1)))
			r := ' '
			if i < cut && !math.IsNaN(v[i]) && v[i] > 0 && most > 0 {
				top := len(stripLevels) - 1
				r = stripLevels[max(1, min(top, int(math.Round(v[i]/most*float64(top)))))]
			}
			row = append(row, r)
		}
		out = append(out, fitLine(string(row), w))
	}
	return out
}
