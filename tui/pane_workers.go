package tui

import (
	"fmt"
	"math"
	"strings"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/sim"
)

// workersPane shows, at the cursor and per scenario, every worker's cache
// fill (pinned, marked, unmarked), queue, running requests, the router's
// own load for it and its hit ratio so far.
type workersPane struct {
	paneHead
	scrollBody
}

func newWorkersPane(s *shared) pane { return &workersPane{scrollBody: newScrollBody(s)} }

func (k scrollKeys) ShortHelp() []key.Binding  { return []key.Binding{k.Up, k.Down} }
func (k scrollKeys) FullHelp() [][]key.Binding { return [][]key.Binding{{k.Up, k.Down, k.Top}} }

func (p *workersPane) summary() string {
	return p.s.slotSummary(func(i int, sl *slot) string {
		var q int32
		for _, w := range sl.data.stateAt(p.s.cursor).Workers {
			q += w.Queue
		}
		return fmt.Sprintf("%s queue %d", p.s.scenTag(i), q)
	})
}

// fillBar draws a worker's cache: █ pinned, ▓ marked, ░ unmarked, · free.
func fillBar(st *styles, sm *sim.Sample, capacity int64, w int) string {
	if w <= 0 || capacity <= 0 {
		return ""
	}
	cells := func(x int64) int { return int(math.Round(float64(x) / float64(capacity) * float64(w))) }
	a := min(cells(sm.Pinned), w)
	b := min(cells(sm.Pinned+sm.Marked), w) - a
	c := min(cells(sm.Pinned+sm.Marked+sm.Unmarked), w) - a - b
	free := w - a - b - c
	return st.pinned.Render(strings.Repeat("█", a)) + st.marked.Render(strings.Repeat("▓", b)) +
		st.unmarked.Render(strings.Repeat("░", c)) + st.free.Render(strings.Repeat("·", free))
}

func (p *workersPane) lines() []string {
	s, st := p.s, p.s.st
	w := p.w - 2
	out := append(p.liveLines(w), p.liveAtCursor(w)...)
	for i, sl := range s.slots {
		if sl.state != slotDone {
			out = append(out, s.scenTag(i)+" "+sl.label())
			out = append(out, s.slotStatusLines(sl, w, "  ")...)
			continue
		}
		run := sl.data.facts()
		state := sl.data.stateAt(s.cursor)
		unit := run.loadUnit
		if unit == "" {
			unit = "–"
		}
		out = append(out, s.scenTag(i)+" "+sl.label()+st.dim.Render(fmt.Sprintf(" · %d %s each · L = %s", run.capacity, run.unit, unit)))
		for wi := range state.Workers {
			sm := &state.Workers[wi]
			load := "–"
			if wi < len(state.RouterLoads) {
				load = si(float64(state.RouterLoads[wi]))
			}
			hit := "–"
			if sm.InputTokens > 0 {
				hit = fnum(float64(sm.HitTokens)/float64(sm.InputTokens), 3)
			}
			used := sm.Pinned + sm.Marked + sm.Unmarked
			// Fixed-width columns (si keeps counts to 4 cells, a ratio or
			// "–" is right-aligned in 5), so every row's bar has one width.
			tail := fmt.Sprintf(" %4s/%-4s q %-4s r %-4s L %-5s hit %5s", si(float64(used)), si(float64(run.capacity)), si(float64(sm.Queue)), si(float64(sm.Running)), load, hit)
			bw := max(w-5-ansi.StringWidth(tail), 6)
			line := fmt.Sprintf("  w%-2d", wi) + fillBar(st, sm, run.capacity, bw) + tail
			out = append(out, line)
		}
	}
	return out
}

func (p *workersPane) View() string {
	lines := p.lines()
	p.scroll.clampTo(len(lines), p.h-2)
	st := p.s.st
	legend := st.pinned.Render("█") + " pinned " + st.marked.Render("▓") + " marked " + st.unmarked.Render("░") + " unmarked · free"
	return box(st, p.title, legend, p.focusedIn(p.s), lines, p.w, p.h, p.scroll.off)
}

// liveLines shows the attached workers' latest snapshot (wall-clock time,
// not the cursor's), laid out to the pane's width w (fitRow: wrapped,
// never cut).
func (p *workersPane) liveLines(w int) []string {
	l := p.s.live
	if l == nil {
		return nil
	}
	st := p.s.st
	dim := func(segs ...liveSeg) []liveSeg {
		for i := range segs {
			segs[i] = liveSeg{st.dim.Render(segs[i].sep), st.dim.Render(segs[i].text)}
		}
		return segs
	}
	health := p.liveHealth
	head := st.accent.Render("L live workers")
	if r := l.res; r != nil && !l.running {
		// The run's end: the result's per-worker figures, with kvscope's
		// model of each worker's cache beside the responses'.
		ended := "ended"
		if r.Interrupted {
			ended = "interrupted"
		}
		segs := dim(liveSeg{" · ", ended + " after " + fmtMs(r.DurationS*1e3, false)},
			liveSeg{" · ", fmt.Sprintf("%d requests:", r.Requests)}, liveSeg{" ", fmt.Sprintf("%d completed,", r.Completed)},
			liveSeg{" ", fmt.Sprintf("%d failed,", r.Failed)}, liveSeg{" ", fmt.Sprintf("%d timed out", r.TimedOut)})
		if r.Cancelled > 0 {
			segs = append(segs, dim(liveSeg{", ", fmt.Sprintf("%d cancelled", r.Cancelled)}, liveSeg{" ", fmt.Sprintf("(%d sent)", r.Sent)})...)
		}
		out := fitRow(head, segs, 4, w)
		for _, wr := range r.Workers {
			out = append(out, fitRow(fmt.Sprintf("  w%-2d %s", wr.Worker, health(wr.Healthy)), []liveSeg{
				{" ", fmt.Sprintf("done %-5d", wr.Completed)}, {" ", fmt.Sprintf("failed %-3d", wr.Failed)},
				{" ", fmt.Sprintf("hit %5s (model %5s)", fnum(wr.HitRatio, 3), fnum(wr.ModelHitRatio, 3))}, {" · ", wr.URL},
			}, liveRowIndent, w)...)
		}
		return out
	}
	var out []string
	if !l.running && l.err != nil {
		// A run that failed (it could not start, or something in it
		// panicked): the error, wrapped to the pane, then the last snapshot
		// if there was one.
		out = append(out, head+" · "+st.errText.Render("failed:"))
		for _, line := range wrap(l.err.Error(), w-2, "") {
			out = append(out, "  "+st.errText.Render(line))
		}
		if !l.hasSnap {
			return out
		}
	}
	if !l.hasSnap {
		state := "connecting…"
		if !l.running {
			state = "ended"
		}
		return []string{head + st.dim.Render(" · "+state)}
	}
	sn := &l.snap
	if len(out) > 0 {
		head = st.dim.Render("  last snapshot:")
	}
	out = append(out, fitRow(head, dim(liveSeg{" · ", fmtDur(sn.Elapsed, false)},
		liveSeg{" · ", fmt.Sprintf("%d/%d finished", sn.Finished, sn.Total)}, liveSeg{" ", fmt.Sprintf("(%d not completed)", l.failed)},
		liveSeg{" · ", fmt.Sprintf("%d sent", sn.Dispatched)}), 4, w)...)
	return append(out, p.liveWorkerRows(*sn, w)...)
}

// liveWorkerRows are a snapshot's per-worker rows.
func (p *workersPane) liveWorkerRows(sn live.Snapshot, w int) []string {
	var out []string
	for _, wk := range sn.Workers {
		usage, queue := "–", "–"
		if wk.HasUsage {
			usage = fnum(wk.Usage, 2)
		}
		if wk.HasQueue {
			queue = si(wk.Waiting)
		}
		segs := []liveSeg{
			{" ", fmt.Sprintf("in flight %-3d", wk.InFlight)}, {" ", fmt.Sprintf("done %-5d", wk.Completed)},
			{" ", fmt.Sprintf("failed %-3d", wk.Failed)}, {" ", fmt.Sprintf("hit %5s", fnum(wk.HitRatio, 3))},
			{" ", fmt.Sprintf("usage %4s", usage)}, {" ", "waiting " + queue},
		}
		if wk.HasMirror {
			// The worker's true cache, from its KV events, beside what
			// the router believes (the hit ratio above is the responses').
			mirror := fmt.Sprintf("true cache %d blocks", wk.MirrorBlocks)
			if wk.MirrorRestarts > 0 {
				mirror += fmt.Sprintf(" (restarted %d×)", wk.MirrorRestarts)
			}
			segs = append(segs, liveSeg{" ", mirror})
		}
		out = append(out, fitRow(fmt.Sprintf("  w%-2d %s", wk.Worker, p.liveHealth(wk.Healthy)), segs, liveRowIndent, w)...)
	}
	return out
}

// liveRowIndent puts a worker row's continuation under its first figure.
const liveRowIndent = 11

// liveHealth is "up" or "down", styled, four cells wide.
func (p *workersPane) liveHealth(ok bool) string {
	if ok {
		return p.s.st.good.Render("up") + "  "
	}
	return p.s.st.errText.Render("down")
}
