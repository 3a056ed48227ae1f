package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/trace"
)

// shared is the state every pane reads: the trace, the scenarios, the
// cursor and the theme. Only the root Model writes it.
type shared struct {
	st *styles
	// tr is the trace, nil when it is streamed (Config.Stream): then
	// summary is what the trace pane shows, from the first streamed
	// replay to finish, and name what the trace is called.
	tr       *trace.Trace
	summary  *traceSummary
	name     string
	stats    *trace.Stats
	statsErr error
	slots    []*slot
	sel      int
	focus    int // index into the pane table
	cursor   time.Duration
	span     span
	// traceArrivals are the trace's arrival instants, sorted (stepping
	// before a replay finishes).
	traceArrivals []time.Duration
	traceReq      []int32
	playing       bool
	speed         int // index into speeds
	playSeq       int
	// version changes whenever chart data or styles change.
	version int
	// live is the attached workers' state (nil without --attach);
	// liveTimeline is set while the timeline lists its events (L), and the
	// event keys step through them.
	live         *liveState
	liveTimeline bool
}

// liveState is what the explorer knows of a live run.
type liveState struct {
	running bool
	snap    live.Snapshot
	hasSnap bool
	// records and failed count the finished requests seen so far.
	records, failed int
	res             *live.Result
	err             error
	// hist is the run as recorded so far, for the cursor (live_history.go).
	hist liveHistory
	// charts and events are hist's series and event list as last computed
	// (live_charts.go, live_timeline.go).
	charts liveCharts
	events liveEvents
}

// streamed reports whether the trace is not held (Config.Stream).
func (s *shared) streamed() bool { return s.tr == nil }

// source names the trace.
func (s *shared) source() string {
	if s.tr != nil {
		return s.tr.Info.Source
	}
	if s.summary != nil && s.summary.info.Source != "" {
		return s.summary.info.Source
	}
	return s.name
}

func (s *shared) selected() *slot {
	if s.sel >= 0 && s.sel < len(s.slots) {
		return s.slots[s.sel]
	}
	return nil
}

// scenTag is scenario i's letter, styled.
func (s *shared) scenTag(i int) string {
	return s.st.scenStyle(i).Render(string(rune('A' + i)))
}

// slotSummary is a pane's status line over the scenarios: each one's
// tag and status while it is not replayed, done(i, sl) once it is.
func (s *shared) slotSummary(done func(i int, sl *slot) string) string {
	var parts []string
	for i, sl := range s.slots {
		if sl.state != slotDone {
			parts = append(parts, s.scenTag(i)+" "+s.slotStatus(sl))
			continue
		}
		parts = append(parts, done(i, sl))
	}
	return strings.Join(parts, "  ")
}

func (s *shared) slotStatus(sl *slot) string {
	switch sl.state {
	case slotFailed:
		return s.st.errText.Render("failed: " + oversizeHint(sl.err) + failureText(sl.err))
	case slotRunning:
		phase := sl.phase
		if phase == "" {
			phase = phaseReplay
		}
		if sl.total > 0 {
			return s.st.warn.Render(fmt.Sprintf("%s… %d%%", phase, 100*sl.done/sl.total))
		}
		return s.st.warn.Render(phase + "…")
	}
	return "replayed in " + fmtDur(sl.elapsed, false)
}

// slotStatusLines is slotStatus as lines of at most w cells, each after
// indent: a failure's whole message, wrapped (at path separators and
// brackets too, so a long trace path breaks), never cut. Panes that give a
// scenario its own lines use it; one-line summaries keep slotStatus.
func (s *shared) slotStatusLines(sl *slot, w int, indent string) []string {
	if sl.state != slotFailed {
		return []string{indent + s.slotStatus(sl)}
	}
	if ansi.StringWidth(indent) >= w {
		indent = ""
	}
	width := max(w-ansi.StringWidth(indent), 1)
	var out []string
	// ansi.Wrap may leave a breakpoint one cell past the limit: Hardwrap
	// keeps every line within it.
	wrapped := ansi.Hardwrap(ansi.Wrap("failed: "+failureText(sl.err)+oversizeKey(sl.err), width, "/[]:,"), width, true)
	for _, l := range strings.Split(wrapped, "\n") {
		out = append(out, indent+s.st.errText.Render(l))
	}
	return out
}

// metricsAt returns the slot's metrics table as last computed
// (analysis.MetricsAt, off the event loop: see refreshMetrics); exact is
// false while the figures are for an earlier cursor, ok false before the
// first computation.
func (s *shared) metricsAt(sl *slot) (m *analysis.RunMetrics, exact, ok bool) {
	if !sl.memoOK {
		return nil, false, false
	}
	return &sl.memo, sl.memoT == s.cursor, true
}

// progressStamp changes whenever a running replay reports progress.
func (s *shared) progressStamp() int {
	n := 0
	for _, sl := range s.slots {
		n += sl.done + int(sl.state)<<24
	}
	return n
}

// requestInfo is request i's own figures: from the trace when it is held,
// else from the first replayed scenario's spilled run; false when neither
// has it yet.
func (s *shared) requestInfo(i int) (reqInfo, bool) {
	if s.tr != nil {
		return reqInfoOf(&s.tr.Requests[i]), true
	}
	for _, sl := range s.slots {
		if sl.state == slotDone {
			return sl.data.request(i), true
		}
	}
	return reqInfo{}, false
}

// requestAtCursor is the last request that arrived at or before the
// cursor, or -1: in the selected scenario's run once it is replayed (its
// arrivals may be re-timed), in the trace before.
func (s *shared) requestAtCursor() int {
	if sl := s.selected(); sl != nil && sl.state == slotDone {
		return sl.data.arrivalAt(s.cursor)
	}
	i := lastAtOrBefore(s.traceArrivals, s.cursor)
	if i < 0 {
		return -1
	}
	return int(s.traceReq[i])
}

func (s *shared) stepEvent(d int) {
	if s.showsLive() {
		ts := s.live.eventList().ts
		for range max(d, -d) {
			s.cursor = s.span.clamp(stepTime(ts, s.cursor, d))
		}
		return
	}
	if sl := s.selected(); sl != nil && sl.state == slotDone && sl.data.numEvents() > 0 {
		for range max(d, -d) {
			s.cursor = sl.data.stepEvent(s.cursor, d)
		}
		return
	}
	s.stepRequest(d)
}

func (s *shared) stepRequest(d int) {
	sl := s.selected()
	for range max(d, -d) {
		if sl != nil && sl.state == slotDone {
			s.cursor = sl.data.stepArrival(s.cursor, d)
		} else {
			s.cursor = stepTime(s.traceArrivals, s.cursor, d)
		}
	}
}

func (s *shared) playState() string {
	if s.playing {
		return "▶ " + fmtSpeed(speeds[s.speed])
	}
	return "⏸ " + fmtSpeed(speeds[s.speed])
}

// updateSpan recomputes the time range from the finished runs (or the
// trace) and clamps the cursor.
func (s *shared) updateSpan() {
	sp := span{}
	first := true
	for _, sl := range s.slots {
		if sl.state != slotDone {
			continue
		}
		f := sl.data.facts()
		if first || f.start < sp.Start {
			sp.Start = f.start
		}
		if first || f.end > sp.End {
			sp.End = f.end
		}
		first = false
	}
	if first && len(s.traceArrivals) > 0 {
		sp = span{s.traceArrivals[0], s.traceArrivals[len(s.traceArrivals)-1]}
	}
	// A live run slower than the model (its requests wait for a slot, its
	// workers are slower) is scrubbed to its end too.
	if s.live != nil {
		sp.End = max(sp.End, s.live.extent())
	}
	s.span = sp
	s.cursor = sp.clamp(s.cursor)
}
