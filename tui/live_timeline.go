package tui

import (
	"fmt"
	"time"

	"github.com/kvscope/kvscope/analysis"
)

// The live run in the timeline pane: with a live run, L switches the
// pane's event list between the selected scenario's log and the live
// run's events (analysis.LiveEvents: sent, retry, first token, complete,
// fail with its reason, breaker open and closed, KV-event restart), and
// the event keys (←/→, the wheel) then step through the live events. The
// list is recomputed once per snapshot and at the run's end (liveEvents),
// so while the run goes it shows what the latest snapshot covers.

// liveEvents is the live run's event list as last computed, for the
// history's version ver, with their instants (for stepping) and, per
// filter, how many it keeps (counted[f] < 0: not counted yet).
type liveEvents struct {
	ok      bool
	ver     int
	evs     []analysis.LiveEvent
	ts      []time.Duration
	counted []int
}

// eventList is the live run's events, recomputed when the recording
// changed since the last call.
func (l *liveState) eventList() *liveEvents {
	e := &l.events
	if e.ok && e.ver == l.hist.ver {
		return e
	}
	e.ok, e.ver = true, l.hist.ver
	e.evs = analysis.LiveEvents(l.hist.recs, l.hist.pts, l.extent(), !l.running)
	e.ts = make([]time.Duration, len(e.evs))
	for i := range e.evs {
		e.ts[i] = e.evs[i].T
	}
	e.counted = make([]int, len(liveFilters))
	for i := range e.counted {
		e.counted[i] = -1
	}
	return e
}

// liveFilter is one choice of the v key over live events.
type liveFilter struct {
	name string
	keep func(e *analysis.LiveEvent) bool
}

var liveFilters = []liveFilter{
	{"all events", func(*analysis.LiveEvent) bool { return true }},
	{"sent and retries only", liveKinds(analysis.LiveSent, analysis.LiveRetry)},
	{"first token only", liveKinds(analysis.LiveFirstToken)},
	{"complete only", liveKinds(analysis.LiveComplete)},
	{"fail only", liveKinds(analysis.LiveFail)},
	{"workers only (breaker, restart)", liveKinds(analysis.LiveBreakerOpen, analysis.LiveBreakerClose, analysis.LiveRestart)},
}

func liveKinds(ks ...analysis.LiveEventKind) func(*analysis.LiveEvent) bool {
	return func(e *analysis.LiveEvent) bool {
		for _, k := range ks {
			if e.Kind == k {
				return true
			}
		}
		return false
	}
}

// showsLive reports whether the timeline lists the live run's events.
func (s *shared) showsLive() bool { return s.liveTimeline && s.live != nil }

// liveLines are the timeline's lines under its head when it lists the
// live run's events: the list's place and filter, then the events around
// the cursor, a "≤" before the instant of one seen in a snapshot (it
// happened by then).
func (p *timelinePane) liveLines(out []string, w int) []string {
	st, s := p.s.st, p.s
	e := s.live.eventList()
	f := liveFilters[p.liveFilter]
	ei := lastAtOrBefore(e.ts, s.cursor) + 1
	state := "recorded up to the latest snapshot"
	if !s.live.running {
		state = "whole run"
	}
	out = append(out, st.accent.Render("L")+" "+st.dim.Render(fmt.Sprintf("live · event %d of %d · %s · %s", ei, len(e.evs), f.name, state)))
	rows := p.h - 2 - len(out)
	if rows <= 0 {
		return out
	}
	at := func(e *analysis.LiveEvent) int64 { return int64(e.T) }
	evs, cur := eventsAround(e.evs, at, int64(s.cursor), rows, f.keep)
	if len(evs) == 0 {
		if e.counted[p.liveFilter] < 0 {
			n := 0
			for i := range e.evs {
				if f.keep(&e.evs[i]) {
					n++
				}
			}
			e.counted[p.liveFilter] = n
		}
		if e.counted[p.liveFilter] == 0 {
			return append(out, st.dim.Render("  none ("+f.name+": no such event recorded)"))
		}
		return append(out, st.dim.Render(fmt.Sprintf("  none within %d events of the cursor", eventScanLimit)))
	}
	for i, ev := range evs {
		wk, req := "  –", "     –"
		if ev.Worker >= 0 {
			wk = fmt.Sprintf("w%-2d", ev.Worker)
		}
		if ev.Req >= 0 {
			req = fmt.Sprintf("%6d", ev.Req)
		}
		at := fmtSim(ev.T - s.span.Start)
		if ev.By {
			at = "≤" + at
		}
		mark := " "
		if i == cur {
			mark = "▸"
		}
		line := fmt.Sprintf("%s %12s  req %s  %s  %s", mark, at, req, wk, ev.Kind)
		if ev.Note != "" {
			line += ": " + ev.Note
		}
		line = fitLine(line, w)
		if i == cur {
			line = st.selected.Render(line)
		} else if i > cur {
			line = st.dim.Render(line)
		}
		out = append(out, line)
	}
	return out
}
