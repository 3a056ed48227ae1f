package tui

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
)

// The curve overlay (key C, a dialog): the hit-ratio curve of tree-LRU for
// the loaded trace (analysis.NewCurveReport, computed in a command, one per
// set of parameters and kept by the root), with the selected scenario's
// cache size marked. The curve is hit-only replay (`kvscope curve`): it
// takes the scenario's workers, unit and router when the router needs no
// timing, round_robin otherwise, and says so.

// curveKey is what a curve depends on.
type curveKey struct {
	workers int
	router  string
	unit    kvcache.Unit
	seed    uint64
}

// curveResult is one computed curve.
type curveResult struct {
	rep *analysis.CurveReport
	err error
}

// curveCache holds the curves, owned by the root model so that closing
// and reopening the overlay reuses them: done holds finished curves by
// key, busy the keys being computed.
type curveCache struct {
	done map[curveKey]curveResult
	busy map[curveKey]bool
}

// curveMsg carries a finished curve back to Update.
type curveMsg struct {
	key curveKey
	res curveResult
}

// curveKeyOf derives a scenario's curve parameters; notes say what differs
// from the scenario.
func curveKeyOf(sc scenario.Scenario) (curveKey, []string) {
	k := curveKey{workers: sc.Workers, router: sc.Router.String(), unit: kvcache.Blocks, seed: sc.Seed}
	if sc.Unit == scenario.Tokens {
		k.unit = kvcache.Tokens
	}
	var notes []string
	if route.NeedsTiming(sc.Router.Name) {
		notes = append(notes, sc.Router.Name+" needs timing: the curve routes "+curve.Router)
		k.router = curve.Router
	}
	if sc.Evict.Name != curve.Policy {
		notes = append(notes, "the curve is "+curve.Policy+"'s (the one stack policy); the scenario evicts with "+sc.Evict.Name)
	}
	return k, notes
}

// curveDialog is the overlay on the dialog stack. It closes with esc, C or
// q; every other input goes through to the keys below, so ] and [ (the
// global keys) switch the scenario it shows, and the help, the what-if
// form and the go-to prompt open over it. It reads the selected scenario
// when it draws; refreshCurve starts that scenario's curve.
type curveDialog struct {
	m *Model
	// cacheKey and cached keep the rendered content by size and what it
	// shows.
	cacheKey string
	cached   []string
}

// curveKeys are the overlay's keys, listed by the help over it.
type curveKeys struct{ Close, ScenNext, ScenPrev key.Binding }

func newCurveKeys(g globalKeys) curveKeys {
	return curveKeys{
		Close:    key.NewBinding(key.WithKeys("esc", "C", "q"), key.WithHelp("esc/C/q", "close the curve")),
		ScenNext: g.ScenNext,
		ScenPrev: g.ScenPrev,
	}
}

func (k curveKeys) ShortHelp() []key.Binding { return []key.Binding{k.Close, k.ScenNext, k.ScenPrev} }

func (k curveKeys) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

func (d *curveDialog) update(msg tea.Msg) dialogResult {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, newCurveKeys(d.m.keys).Close) {
		return dialogResult{close: true}
	}
	return dialogResult{pass: true}
}

func (d *curveDialog) keys() (string, help.KeyMap) { return "Hit-ratio curve", newCurveKeys(d.m.keys) }

func (d *curveDialog) draw(canvas []string, w, h int) {
	if v := d.view(w, h); v != "" {
		drawCentered(canvas, v, w, h)
	}
}

// toggleCurve opens the overlay (Update's refreshCurve then starts the
// curve), or closes it when it is open under another dialog (the help,
// which lets C through).
func (m *Model) toggleCurve() {
	if m.s.tr == nil {
		m.inputError("no curve of a streamed trace here (it is not held): kvscope curve TRACE computes it")
		return
	}
	for i, d := range m.dialogs {
		if _, ok := d.(*curveDialog); ok {
			m.dialogs = slices.Delete(m.dialogs, i, i+1)
			return
		}
	}
	m.push(&curveDialog{m: m})
}

// curveOpen reports whether the overlay is on the dialog stack.
func (m *Model) curveOpen() bool {
	for _, d := range m.dialogs {
		if _, ok := d.(*curveDialog); ok {
			return true
		}
	}
	return false
}

// refreshCurve starts the selected scenario's curve when the overlay is
// open and the curve is neither known nor being computed. The root calls
// it after every message (as refreshMetrics), so opening the overlay, ]
// and [, an edit or a removal under it all lead here.
func (m *Model) refreshCurve() tea.Cmd {
	sl := m.s.selected()
	if sl == nil || !m.curveOpen() {
		return nil
	}
	k, _ := curveKeyOf(sl.entry.Scenario)
	c := &m.curves
	if c.done == nil {
		c.done, c.busy = map[curveKey]curveResult{}, map[curveKey]bool{}
	}
	if _, ok := c.done[k]; ok || c.busy[k] {
		return nil
	}
	c.busy[k] = true
	ctx, tr := m.ctx, m.s.tr
	return func() tea.Msg {
		sp, err := param.Parse(k.router)
		if err != nil {
			return curveMsg{key: k, res: curveResult{err: err}}
		}
		rep, err := analysis.NewCurveReport(ctx, tr, curve.Config{Workers: k.workers, Router: sp, Unit: k.unit, Seed: k.seed},
			analysis.CurveOptions{})
		return curveMsg{key: k, res: curveResult{rep: rep, err: err}}
	}
}

// curveDone stores a finished curve.
func (m *Model) curveDone(msg curveMsg) {
	delete(m.curves.busy, msg.key)
	m.curves.done[msg.key] = msg.res
}

// markedCapacity is the selected scenario's cache size per worker in the
// curve's unit: the run's (profile sizes are resolved by the replay), else
// the scenario's own; 0 when not known yet.
func markedCapacity(sl *slot) int64 {
	if sl.data != nil && sl.data.facts().capacity > 0 {
		return sl.data.facts().capacity
	}
	return int64(sl.entry.Scenario.Capacity)
}

// view draws the overlay for a w×h screen ("" when too small).
func (d *curveDialog) view(w, h int) string {
	m := d.m
	bw, bh := min(w, 100), min(h-1, 26)
	sl := m.s.selected()
	if sl == nil || bw < 20 || bh < 8 {
		return ""
	}
	want, notes := curveKeyOf(sl.entry.Scenario)
	res, ok := m.curves.done[want]
	mark := markedCapacity(sl)
	ck := fmt.Sprintf("%d×%d %v %d %s %v %p %d", bw, bh, want, mark, sl.label(), ok, res.rep, m.s.version)
	if d.cached == nil || ck != d.cacheKey {
		var lines []string
		switch {
		case !ok:
			lines = []string{m.s.st.dim.Render("computing the curve of " + m.s.tr.Info.Source + "…")}
		case res.err != nil:
			lines = []string{m.s.st.errText.Render("curve: " + res.err.Error())}
		default:
			lines = curveLines(m.s.st, res.rep, mark, m.s.scenTag(m.s.sel)+" "+sl.label(), notes, bw-2, bh-2)
		}
		d.cached, d.cacheKey = lines, ck
	}
	return box(m.s.st, "Hit-ratio curve", "esc/C/q closes · ]/[ scenario", true, d.cached, bw, bh, 0)
}

// curveLines renders a curve report in w×h cells: an area chart of the
// block hit ratio against the cache size (log scale from L), the marked
// capacity as a column, and the figures under it.
func curveLines(st *styles, rep *analysis.CurveReport, mark int64, label string, notes []string, w, h int) []string {
	cv := rep.Curve
	unit := cv.Unit.String()
	const yw = 6 // y labels
	cw := w - yw - 1
	head := []string{st.bold.Render(label) + st.dim.Render(" · lru, hit-only replay")}
	for _, n := range notes {
		head = append(head, st.dim.Render(n))
	}
	ch := h - 6 - len(head)
	if cw < 10 || ch < 3 {
		return []string{"too small for the curve"}
	}
	lo := cv.MinCapacity
	hi := max(cv.MaxCapacity, mark)
	hi += hi / 10
	logX := float64(hi) >= 10*float64(lo)
	capAt := func(i int) int64 {
		f := float64(i) / float64(cw-1)
		if logX {
			return int64(math.Round(float64(lo) * math.Pow(float64(hi)/float64(lo), f)))
		}
		return lo + int64(math.Round(float64(hi-lo)*f))
	}
	colOf := func(c int64) int {
		if c <= lo {
			return 0
		}
		f := float64(c-lo) / float64(hi-lo)
		if logX {
			f = math.Log(float64(c)/float64(lo)) / math.Log(float64(hi)/float64(lo))
		}
		return min(int(math.Round(f*float64(cw-1))), cw-1)
	}
	ymax := math.Max(0.1, math.Ceil(rep.Unbounded.BlockHitRatio*10)/10)
	heights := make([]float64, cw) // in rows
	for i := range heights {
		pt, _ := cv.At(capAt(i))
		heights[i] = pt.BlockHitRatio / ymax * float64(ch)
	}
	markCol := -1
	if mark >= lo {
		markCol = colOf(mark)
	}
	out := head
	for r := range ch {
		level := float64(ch - r) // this row covers (level-1, level]
		var b strings.Builder
		yl := ""
		switch r {
		case 0:
			yl = fnum(ymax, 2)
		case ch / 2:
			yl = fnum(ymax*(level-0.5)/float64(ch), 2)
		}
		b.WriteString(st.dim.Render(rjust(yl, yw-1) + " ┤"))
		for i, hgt := range heights {
			cell := " "
			switch {
			case hgt >= level:
				cell = "█"
			case hgt > level-1:
				cell = string(sparkRunes[min(int((hgt-(level-1))*8), 7)])
			}
			if i == markCol {
				if cell == " " {
					cell = "│"
				}
				b.WriteString(st.accent.Render(cell))
				continue
			}
			b.WriteString(st.good.Render(cell))
		}
		out = append(out, b.String())
	}
	axis := []rune(strings.Repeat("─", cw))
	if markCol >= 0 {
		axis[markCol] = '▲'
	}
	out = append(out, st.dim.Render(rjust("0", yw-1)+" └"+string(axis)))
	left, right := strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10)
	xl := left + strings.Repeat(" ", max(cw-ansi.StringWidth(left)-ansi.StringWidth(right), 1)) + right
	scale := "log "
	if !logX {
		scale = ""
	}
	out = append(out, strings.Repeat(" ", yw+1)+st.dim.Render(xl), strings.Repeat(" ", yw+1)+st.dim.Render("cache per worker ("+scale+unit+"), block hit ratio"))
	switch pt, err := cv.At(mark); {
	case mark <= 0:
		out = append(out, st.dim.Render("scenario's cache: known when its replay ends"))
	case err != nil:
		out = append(out, st.warn.Render(fmt.Sprintf("▲ %d %s is below L = %d: the curve does not cover it", mark, unit, lo)))
	default:
		out = append(out, st.accent.Render(fmt.Sprintf("▲ %d %s", mark, unit))+
			fmt.Sprintf(": block hit %s · token hit %s (lru, %d worker%s)", fnum(pt.BlockHitRatio, 4), fnum(pt.TokenHitRatio, 4), cv.Workers, plural(cv.Workers)))
	}
	var knees []string
	for _, k := range rep.Knees {
		if k.Ratio == "block" {
			c := strconv.FormatInt(k.Capacity, 10)
			if k.AtMin {
				c = "≤" + c
			}
			knees = append(knees, fmt.Sprintf("%d%% %s", int(math.Round(100*k.Fraction)), c))
		}
	}
	out = append(out, fmt.Sprintf("knees %s %s · unbounded %s · L %d", strings.Join(knees, " · "), unit, fnum(rep.Unbounded.BlockHitRatio, 4), lo))
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
