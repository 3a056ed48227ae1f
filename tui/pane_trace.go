package tui

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/kvscope/kvscope/replay/trace"
)

// tracePane shows the trace's statistics, an arrival-rate sparkline and a
// histogram of request lengths.
type tracePane struct {
	paneHead
	scrollBody
	keys   traceKeys
	output bool // histogram of output lengths instead of input
	// arrivals are the trace's arrival instants (trace order is arrival
	// order unless the reader sorted; StatsOf counts in that order too).
	arrivals []float64
	first    float64
	dur      float64
	inHist   []int // log2 bins: bin i holds lengths in (2^(i-1), 2^i]
	outHist  []int
	// spark caches the sparkline by width.
	sparkW    int
	spark     string
	sparkPeak float64
	cacheKey  [3]int
	cached    []string
}

type traceKeys struct {
	scrollKeys
	Toggle key.Binding
}

func (k traceKeys) ShortHelp() []key.Binding { return []key.Binding{k.Toggle, k.Up, k.Down} }
func (k traceKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Toggle, k.Up, k.Down, k.Top}}
}

func newTracePane(s *shared) pane {
	p := &tracePane{scrollBody: newScrollBody(s)}
	p.keys = traceKeys{scrollKeys: p.scroll.keys,
		Toggle: key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "input/output lengths"))}
	tr := s.tr
	if tr == nil {
		return p // streamed: fromSummary fills it once a replay has read the trace
	}
	p.arrivals = make([]float64, len(tr.Requests))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range tr.Requests {
		r := &tr.Requests[i]
		a := r.Arrival.Seconds()
		p.arrivals[i] = a
		lo, hi = math.Min(lo, a), math.Max(hi, a)
		p.inHist = addLog2(p.inHist, r.Input)
		p.outHist = addLog2(p.outHist, r.Output)
	}
	if len(tr.Requests) > 0 {
		p.first, p.dur = lo, hi-lo
	}
	return p
}

func addLog2(h []int, n int) []int {
	b := 0
	if n > 1 {
		b = bits.Len(uint(n - 1))
	}
	for len(h) <= b {
		h = append(h, 0)
	}
	h[b]++
	return h
}

func (p *tracePane) KeyMap() help.KeyMap { return p.keys }
func (p *tracePane) Update(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, p.keys.Toggle) {
		p.output = !p.output
		return nil
	}
	p.scroll.handle(k)
	return nil
}

// fromSummary takes a streamed trace's figures from the first replay
// that read it; false until one has.
func (p *tracePane) fromSummary() (*traceSummary, bool) {
	sum := p.s.summary
	if sum == nil {
		return nil, false
	}
	if p.inHist == nil && p.outHist == nil {
		p.inHist, p.outHist = sum.inHist, sum.outHist
		p.first, p.dur = sum.first.Seconds(), (sum.last - sum.first).Seconds()
	}
	return sum, true
}

// traceInfo is the trace's information and request count.
func (p *tracePane) traceInfo() (trace.Info, int, bool) {
	if tr := p.s.tr; tr != nil {
		return tr.Info, len(tr.Requests), true
	}
	if sum, ok := p.fromSummary(); ok {
		return sum.info, sum.requests, true
	}
	return trace.Info{}, 0, false
}

func (p *tracePane) summary() string {
	info, n, ok := p.traceInfo()
	if !ok {
		return p.s.source() + " · streamed: read by the first replay"
	}
	sum := fmt.Sprintf("%s · %d requests · %s", info.Format, n, fmtMs(p.dur*1e3, false))
	if trace.NoPrefixNote(info.Format) != "" {
		sum += " · no prefix data: hit ratios 0"
	}
	return sum
}

// sparkline of arrivals per cell for width w, cached.
func (p *tracePane) sparkFor(w int) (string, float64) {
	if w == p.sparkW {
		return p.spark, p.sparkPeak
	}
	counts := make([]float64, w)
	if sum := p.s.summary; p.s.tr == nil && sum != nil && w > 0 {
		counts = sum.counts(w)
	} else if w > 0 && len(p.arrivals) > 0 {
		for _, a := range p.arrivals {
			i := 0
			if p.dur > 0 {
				i = int((a - p.first) / p.dur * float64(w))
			}
			counts[min(max(i, 0), w-1)]++
		}
	}
	peak := 0.0
	for _, c := range counts {
		peak = math.Max(peak, c)
	}
	cell := p.dur / float64(max(w, 1))
	p.sparkW, p.spark = w, sparkline(counts, w)
	if cell > 0 {
		p.sparkPeak = peak / cell
	}
	return p.spark, p.sparkPeak
}

func lenLabel(b int) string {
	if b == 0 {
		return "≤1"
	}
	n := 1 << b
	switch {
	case n >= 1<<20:
		return "≤" + strconv.Itoa(n>>20) + "M"
	case n >= 1<<10:
		return "≤" + strconv.Itoa(n>>10) + "k"
	}
	return "≤" + strconv.Itoa(n)
}

func (p *tracePane) lines() []string {
	st := p.s.st
	in, n, ok := p.traceInfo()
	w := p.w - 2
	var out []string
	if !ok {
		out = append(out, st.dim.Render("source ")+p.s.source())
		for _, l := range wrap("streamed: the trace is not held; its figures come from the first replay to read it through", w, "") {
			out = append(out, st.dim.Render(l))
		}
		return out
	}
	out = append(out, st.dim.Render("source ")+in.Source)
	out = append(out, fmt.Sprintf("%s · %d tokens/block · %d requests · %s", in.Format, in.BlockSize, n, fmtMs(p.dur*1e3, false)))
	if n := trace.NoPrefixNote(in.Format); n != "" {
		// Azure: every hit ratio on screen is 0 by construction; say so
		// where the trace is described.
		for _, l := range wrap("note: "+n, w, "      ") {
			out = append(out, st.errText.Render(l))
		}
	}
	sw := max(w-9, 4)
	sp, peak := p.sparkFor(sw)
	out = append(out, st.dim.Render("arrivals ")+st.accent.Render(sp))
	out = append(out, st.dim.Render(fmt.Sprintf("         0 … %s · peak %.2f/s per cell", fmtMs(p.dur*1e3, false), peak)))
	if s := p.s.stats; s != nil {
		out = append(out,
			fmt.Sprintf("rate mean %.2f/s · peak %.0f/s (1 s) · %.2f/s (60 s)", s.MeanRate, s.PeakRate1s, s.PeakRate60s),
			fmt.Sprintf("input  mean %s p50 %s p90 %s p99 %s max %s", si(s.Input.Mean), si(float64(s.Input.P50)), si(float64(s.Input.P90)), si(float64(s.Input.P99)), si(float64(s.Input.Max))),
			fmt.Sprintf("output mean %s p50 %s p90 %s p99 %s max %s", si(s.Output.Mean), si(float64(s.Output.P50)), si(float64(s.Output.P90)), si(float64(s.Output.P99)), si(float64(s.Output.Max))),
			fmt.Sprintf("blocks %s lookups · %s unique · %d sessions", si(float64(s.Blocks)), si(float64(s.UniqueBlocks)), s.Sessions),
			fmt.Sprintf("infinite-cache hit: blocks %.3f · tokens %.3f", s.IdealBlockHitRatio, s.IdealTokenHitRatio),
			fmt.Sprintf("longest %d blocks · deepest shared prefix %d", s.MaxRequestBlocks, s.DeepestSharedPrefix),
		)
	} else if p.s.statsErr != nil {
		out = append(out, st.errText.Render("statistics: "+p.s.statsErr.Error()))
	} else if p.s.tr == nil {
		for _, l := range wrap("statistics over block ids need the whole trace: kvscope trace stats FILE", w, "") {
			out = append(out, st.dim.Render(l))
		}
	} else {
		out = append(out, st.dim.Render("statistics: computing…"))
	}
	h, name := p.inHist, "input"
	if p.output {
		h, name = p.outHist, "output"
	}
	out = append(out, st.dim.Render(name+" length (tokens) · o toggles"))
	hi := 0
	for _, c := range h {
		hi = max(hi, c)
	}
	bw := max(w-16, 4)
	for b, c := range h {
		if c == 0 {
			continue
		}
		out = append(out, rjust(lenLabel(b), 6)+" "+st.accent.Render(hbar(float64(c), float64(hi), bw))+" "+strconv.Itoa(c))
	}
	return out
}

func (p *tracePane) View() string {
	out := 0
	if p.output {
		out = 1
	}
	key := [3]int{p.s.version, p.w, out}
	if p.cached == nil || key != p.cacheKey {
		p.cached, p.cacheKey = p.lines(), key
	}
	lines := p.cached
	p.scroll.clampTo(len(lines), p.h-2)
	return box(p.s.st, p.title, "", p.focusedIn(p.s), lines, p.w, p.h, p.scroll.off)
}
