package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/kvscope/kvscope/replay/sim"
)

// timelinePane shows the cursor over simulated time, the play state and
// the selected scenario's events around the cursor.
type timelinePane struct {
	paneHead
	s      *shared
	w, h   int
	keys   timelineKeys
	filter int // index into eventFilters
	// liveFilter indexes liveFilters, for the live run's events (L).
	liveFilter int
	// counted caches how many events of a run the filter keeps (the
	// "none" line needs it), by run and filter.
	counted struct {
		run    *sim.Run
		filter int
		n      int
	}
}

type timelineKeys struct{ Filter, Live key.Binding }

func (k timelineKeys) ShortHelp() []key.Binding  { return []key.Binding{k.Filter, k.Live} }
func (k timelineKeys) FullHelp() [][]key.Binding { return [][]key.Binding{{k.Filter, k.Live}} }

func newTimelinePane(s *shared) pane {
	return &timelinePane{s: s, keys: timelineKeys{
		Filter: key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "filter event kind")),
		Live:   key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "live/modeled events")),
	}}
}

// eventFilter is one choice of the v key: a name and the events it keeps.
type eventFilter struct {
	name string
	keep func(e *sim.Event) bool
}

// eventFilters are the v key's choices, in order. The simulator routes a
// request the instant it arrives, so its log holds one "routed" entry at
// the arrival (and a "fail" entry with no worker for a request refused
// there) and no separate "arrival" entry: the arrivals filter keeps those.
var eventFilters = []eventFilter{
	{"all events", func(*sim.Event) bool { return true }},
	{"arrivals only", func(e *sim.Event) bool {
		return e.Kind == sim.LogArrival || e.Kind == sim.LogRouted || (e.Kind == sim.LogFail && e.Worker < 0)
	}},
	{"prefill start only", kindIs(sim.LogStart)},
	{"first token only", kindIs(sim.LogFirstToken)},
	{"complete only", kindIs(sim.LogComplete)},
	{"fail only", kindIs(sim.LogFail)},
	{"preempt only", kindIs(sim.LogPreempt)},
}

func kindIs(k sim.EventKind) func(*sim.Event) bool {
	return func(e *sim.Event) bool { return e.Kind == k }
}

func (p *timelinePane) SetSize(w, h int) { p.w, p.h = w, h }

// KeyMap lists L only beside a live run.
func (p *timelinePane) KeyMap() help.KeyMap {
	k := p.keys
	k.Live.SetEnabled(p.s.live != nil)
	return k
}

func (p *timelinePane) Update(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, p.keys.Live) && p.s.live != nil:
		p.s.liveTimeline = !p.s.liveTimeline
	case key.Matches(k, p.keys.Filter) && p.s.showsLive():
		p.liveFilter = (p.liveFilter + 1) % len(liveFilters)
	case key.Matches(k, p.keys.Filter):
		p.filter = (p.filter + 1) % len(eventFilters)
	}
	return nil
}

// wheel scrubs: one event per notch.
func (p *timelinePane) wheel(d int) { p.s.stepEvent(d) }

func (p *timelinePane) filterName() string { return eventFilters[p.filter].name }

// matching counts run's events the filter keeps (cached per run and
// filter: one pass over the log when either changes); -1 for a spilled
// run, whose log is not read whole on the event loop.
func (p *timelinePane) matching(data runData) int {
	m, ok := data.(*memRun)
	if !ok {
		return -1
	}
	run := m.run
	c := &p.counted
	if c.run != run || c.filter != p.filter {
		c.run, c.filter, c.n = run, p.filter, 0
		keep := eventFilters[p.filter].keep
		for i := range run.Events {
			if keep(&run.Events[i]) {
				c.n++
			}
		}
	}
	return c.n
}

func (p *timelinePane) summary() string {
	sp := p.s.span
	return fmt.Sprintf("t %s / %s (%.1f%%) %s", fmtSim(p.s.cursor-sp.Start), fmtSim(sp.len()), 100*sp.frac(p.s.cursor), p.s.playState())
}

// bar draws ├───●───┤ of width w with the cursor at frac f.
func cursorBar(st *styles, f float64, w int) string {
	if w < 3 {
		return ""
	}
	inner := w - 2
	pos := min(int(f*float64(inner)), inner-1)
	return st.dim.Render("├"+strings.Repeat("─", pos)) + st.accent.Render("●") + st.dim.Render(strings.Repeat("─", inner-pos-1)+"┤")
}

// eventScanLimit bounds eventsAround's scan each way from the cursor, so
// a rare kind on a long log costs a frame no more than this.
const eventScanLimit = 50000

// eventsAround returns up to n events of evs (in time order, at gives an
// event's instant) that match keeps around t: those before t first, then
// the rest; cur is the index (in the returned slice) of the last event at
// or before t, or -1. The live event list uses it; the modeled log, which
// may be a spilled file, uses eventsAroundAt.
func eventsAround[E any](evs []E, at func(*E) int64, t int64, n int, match func(*E) bool) (out []E, cur int) {
	// first event after t.
	lo, hi := 0, len(evs)
	for lo < hi {
		m := (lo + hi) / 2
		if at(&evs[m]) <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return eventsAroundAt(len(evs), lo, func(i int) E { return evs[i] }, n, match)
}

// eventsAroundAt is eventsAround over a log read one event at a time (get),
// lo being the index of the first event after the cursor.
func eventsAroundAt[E any](total, lo int, get func(i int) E, n int, match func(*E) bool) (out []E, cur int) {
	before := n / 2
	var pre []E
	for j, k := lo-1, 0; j >= 0 && len(pre) < before && k < eventScanLimit; j, k = j-1, k+1 {
		if e := get(j); match(&e) {
			pre = append(pre, e)
		}
	}
	for a, b := 0, len(pre)-1; a < b; a, b = a+1, b-1 {
		pre[a], pre[b] = pre[b], pre[a]
	}
	out = pre
	cur = len(pre) - 1
	for j, k := lo, 0; j < total && len(out) < n && k < eventScanLimit; j, k = j+1, k+1 {
		if e := get(j); match(&e) {
			out = append(out, e)
		}
	}
	return out, cur
}

func (p *timelinePane) lines() []string {
	st, s := p.s.st, p.s
	w := p.w - 2
	sp := s.span
	var out []string
	head := fmt.Sprintf("t %s / %s (%5.1f%%)  %s", fmtSim(s.cursor-sp.Start), fmtSim(sp.len()), 100*sp.frac(s.cursor), s.playState())
	out = append(out, st.bold.Render(head))
	out = append(out, cursorBar(st, sp.frac(s.cursor), w))
	if s.showsLive() {
		return p.liveLines(out, w)
	}
	sl := s.selected()
	if sl == nil {
		return out
	}
	tag := s.scenTag(s.sel)
	if sl.state == slotFailed {
		out = append(out, tag+" "+sl.label())
		return append(out, s.slotStatusLines(sl, w, "  ")...)
	}
	if sl.state != slotDone {
		out = append(out, tag+" "+sl.label()+st.dim.Render(" · "+s.slotStatus(sl)))
		return out
	}
	run := sl.data
	ei := run.eventIndex(s.cursor + 1) // first event after the cursor
	out = append(out, tag+" "+st.dim.Render(fmt.Sprintf("%s · event %d of %d · %s", sl.label(), ei, run.numEvents(), p.filterName())))
	rows := p.h - 2 - len(out)
	if rows <= 0 {
		return out
	}
	evs, cur := eventsAroundAt(run.numEvents(), ei, run.event, rows, eventFilters[p.filter].keep)
	if len(evs) == 0 {
		// None near the cursor (the scan stops eventScanLimit away) or none
		// at all: say which.
		if p.matching(run) == 0 {
			out = append(out, st.dim.Render("  none ("+p.filterName()+": no such event in this run)"))
		} else {
			out = append(out, st.dim.Render(fmt.Sprintf("  none within %d events of the cursor", eventScanLimit)))
		}
		return out
	}
	for i, e := range evs {
		wk := "  –"
		if e.Worker >= 0 {
			wk = fmt.Sprintf("w%-2d", e.Worker)
		}
		mark := " "
		if i == cur {
			mark = "▸"
		}
		line := fmt.Sprintf("%s %12s  req %6d  %s  %s", mark,
			fmtSim(e.T-sp.Start), e.Req, wk, e.Kind)
		if i == cur {
			line = st.selected.Render(fitLine(line, w))
		} else if i > cur {
			line = st.dim.Render(line)
		}
		out = append(out, line)
	}
	return out
}

func (p *timelinePane) View() string {
	note := ""
	if p.s.span.len() > 0 {
		note = "←/→ event  ,/. request  f/b 1%  pgup/pgdn 10%  g go to  space play"
		if p.s.live != nil {
			note += "  L live"
		}
	}
	return box(p.s.st, p.title, note, p.focusedIn(p.s), p.lines(), p.w, p.h, 0)
}
