package tui

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/live"
)

// liveHistory is the live run as recorded while it goes: every snapshot
// the driver sent (one per live.Config.SnapshotEvery, in time order) and
// every finished request's record. The cursor scrubs it as it scrubs a
// modeled run: the live driver schedules request i at its trace arrival ×
// the first scenario's time scale since the run's start, which is where
// that scenario's replay puts it too, so the cursor's instant is the live
// run's elapsed time.
type liveHistory struct {
	snaps []live.Snapshot
	recs  []live.Record
	// pts are the snapshots as analysis reads them (LiveSeriesOn,
	// LiveEvents); ver changes with every snapshot and at the run's end,
	// when the charts and the event list are recomputed (live_charts.go,
	// live_timeline.go), not on every record.
	pts []analysis.LivePoint
	ver int
	// byIndex finds a request's record by its trace index.
	byIndex map[int]int
	// memo is upTo's last answer, for the cursor memoT over the first
	// memoN records.
	memo  *liveUpTo
	memoT time.Duration
	memoN int
}

// add records one update.
func (h *liveHistory) add(u live.Update) {
	if s := u.Snapshot; s != nil {
		if n := len(h.snaps); n > 0 && s.Elapsed < h.snaps[n-1].Elapsed {
			return // the driver sends them in time order; at relies on it
		}
		h.snaps = append(h.snaps, *s)
		h.pts = append(h.pts, livePoint(s))
		h.ver++
	}
	if r := u.Record; r != nil {
		if h.byIndex == nil {
			h.byIndex = map[int]int{}
		}
		h.byIndex[r.Index] = len(h.recs)
		h.recs = append(h.recs, *r)
	}
}

// end closes the recording with the run's result: a last point at its
// end, where nothing is in flight any more, each worker's health is the
// result's and its restarts its mirror's, so that the last snapshot's
// requests in flight do not stand to the end of the run (the driver
// stops sending snapshots before it returns) and what changed after it
// is seen. Nothing for a failed run (no result).
func (h *liveHistory) end(res *live.Result) {
	h.ver++
	if res == nil {
		return
	}
	t := time.Duration(res.DurationS * float64(time.Second))
	var prev analysis.LivePoint
	if n := len(h.pts); n > 0 {
		prev = h.pts[n-1]
		if t < prev.Elapsed {
			return
		}
	}
	p := analysis.LivePoint{Elapsed: t, Finished: res.Requests, Workers: make([]analysis.LiveWorkerPoint, max(len(res.Workers), len(prev.Workers)))}
	for i := range p.Workers {
		w := &p.Workers[i]
		w.Healthy = true
		if i < len(prev.Workers) {
			w.Healthy, w.Restarts = prev.Workers[i].Healthy, prev.Workers[i].Restarts
		}
		if i < len(res.Workers) {
			w.Healthy = res.Workers[i].Healthy
			if m := res.Workers[i].Mirror; m != nil {
				w.Restarts = m.Restarts
			}
		}
	}
	h.pts = append(h.pts, p)
}

// livePoint is a snapshot as analysis reads it.
func livePoint(s *live.Snapshot) analysis.LivePoint {
	p := analysis.LivePoint{Elapsed: s.Elapsed, Finished: s.Finished, Workers: make([]analysis.LiveWorkerPoint, len(s.Workers))}
	for i, w := range s.Workers {
		p.Workers[i] = analysis.LiveWorkerPoint{Healthy: w.Healthy, Waiting: w.Waiting,
			HasQueue: w.HasQueue, Restarts: w.MirrorRestarts}
	}
	return p
}

// at is the last snapshot taken at or before t, false when none was.
func (h *liveHistory) at(t time.Duration) (live.Snapshot, bool) {
	i := sort.Search(len(h.snaps), func(i int) bool { return h.snaps[i].Elapsed > t })
	if i == 0 {
		return live.Snapshot{}, false
	}
	return h.snaps[i-1], true
}

// liveUpTo is the live run's figures up to an instant, from the records.
type liveUpTo struct {
	// completed counts requests completed by then (their last attempt's
	// send + end-to-end time); hit is their responses' cached tokens over
	// prompt tokens (those that reported them), NaN when none did; ttft
	// their TTFTs from the scheduled arrival, ms, ascending.
	completed int
	hit       float64
	ttft      []float64
}

// upTo computes liveUpTo at t. Panes draw it on every frame while the
// cursor moves, so the last answer is kept until t or the records change.
func (h *liveHistory) upTo(t time.Duration) liveUpTo {
	if h.memo != nil && h.memoT == t && h.memoN == len(h.recs) {
		return *h.memo
	}
	u := h.computeUpTo(t)
	h.memo, h.memoT, h.memoN = &u, t, len(h.recs)
	return u
}

func (h *liveHistory) computeUpTo(t time.Duration) liveUpTo {
	ms := float64(t) / 1e6
	u := liveUpTo{hit: math.NaN()}
	var cached, prompt int
	for i := range h.recs {
		r := &h.recs[i]
		if r.Status != live.Completed || r.SentMs+r.E2EMs > ms {
			continue
		}
		u.completed++
		u.ttft = append(u.ttft, r.TTFTFromArrivalMs)
		if r.CachedKnown {
			cached += r.CachedTokens
			prompt += r.PromptTokens
		}
	}
	if prompt > 0 {
		u.hit = float64(cached) / float64(prompt)
	}
	slices.Sort(u.ttft)
	return u
}

// completedBy is upTo's count and hit ratio (0 when unknown).
func (h *liveHistory) completedBy(t time.Duration) (int, float64) {
	u := h.upTo(t)
	if math.IsNaN(u.hit) {
		return u.completed, 0
	}
	return u.completed, u.hit
}

// liveCompareLines set the live run up to the cursor under the compare
// table, in its terms: requests completed, token hit ratio of the
// responses, TTFT p50 and p99 from the scheduled arrival (what the
// modeled TTFT measures). Nothing without a live run.
func (p *comparePane) liveCompareLines(w int) []string {
	l := p.s.live
	if l == nil {
		return nil
	}
	st := p.s.st
	u := l.hist.upTo(p.s.cursor)
	hit, p50, p99 := "–", "–", "–"
	if !math.IsNaN(u.hit) {
		hit = fnum(u.hit, 3)
	}
	if len(u.ttft) > 0 {
		p50, p99 = fmtMs(analysis.Percentile(u.ttft, 0.5), false), fmtMs(analysis.Percentile(u.ttft, 0.99), false)
	}
	return fitRow(st.accent.Render("L live")+st.dim.Render(" up to cursor"), []liveSeg{
		{" · ", fmt.Sprintf("completed %d", u.completed)}, {" · ", "token hit ratio " + hit},
		{" · ", "TTFT p50 " + p50}, {" ", "p99 " + p99}, {" ", st.dim.Render("(from arrival)")},
	}, 2, w)
}

// liveAtCursor is the live block at the cursor, when the cursor lies
// inside the recorded run (after its first snapshot, before its latest
// one): the snapshot at the cursor, its workers, and the requests
// completed by the cursor from the records. Nothing otherwise: the
// latest state (or the result) above is the cursor's.
func (p *workersPane) liveAtCursor(w int) []string {
	l := p.s.live
	if l == nil || len(l.hist.snaps) == 0 {
		return nil
	}
	t := p.s.cursor
	last := l.hist.snaps[len(l.hist.snaps)-1].Elapsed
	sn, ok := l.hist.at(t)
	if !ok || t >= last {
		return nil
	}
	st := p.s.st
	n, hit := l.hist.completedBy(t)
	head := st.accent.Render("L live at cursor " + fmtDur(t, false))
	out := fitRow(head, []liveSeg{
		{st.dim.Render(" · "), st.dim.Render("snapshot of " + fmtDur(sn.Elapsed, false))},
		{st.dim.Render(": "), st.dim.Render(fmt.Sprintf("%d/%d finished", sn.Finished, sn.Total))},
		{st.dim.Render(" · "), st.dim.Render(fmt.Sprintf("%d sent", sn.Dispatched))},
		{st.dim.Render(" · "), st.dim.Render(fmt.Sprintf("%d completed by the cursor, hit %s", n, fnum(hit, 3)))},
	}, 4, w)
	return append(out, p.liveWorkerRows(sn, w)...)
}

// liveRequestLines are the request pane's lines for trace request i in
// the live run: how it ended (worker, cached tokens beside the model's
// prediction, TTFT from send and from arrival), its retries and lag, and
// the router's why; nil without a live run.
func (p *requestPane) liveRequestLines(i, w int) []string {
	l := p.s.live
	if l == nil {
		return nil
	}
	st := p.s.st
	head := st.accent.Render("L live")
	k, ok := l.hist.byIndex[i]
	if !ok {
		state := "not finished yet"
		switch {
		case l.err != nil && l.res == nil:
			state = "the run failed"
		case !l.running:
			state = "no record (not sent)"
		}
		return []string{head + st.dim.Render(" · "+state)}
	}
	r := &l.hist.recs[k]
	var segs []liveSeg
	switch {
	case r.Status == live.Completed:
		hit := "–"
		if r.CachedKnown {
			hit = fmt.Sprintf("%d/%d tokens (%s)", r.CachedTokens, r.PromptTokens, fnum(float64(r.CachedTokens)/max(float64(r.PromptTokens), 1), 3))
		}
		segs = append(segs, liveSeg{" · ", fmt.Sprintf("completed on w%d", r.Worker)},
			liveSeg{" · ", "cached " + hit}, liveSeg{", ", fmt.Sprintf("model %d", r.ModelCachedTokens) + mirrorNote(r)},
			liveSeg{" · ", "TTFT " + fmtMs(r.TTFTMs, false) + " from send,"}, liveSeg{" ", fmtMs(r.TTFTFromArrivalMs, false) + " from arrival"},
			liveSeg{" · ", "E2E " + fmtMs(r.E2EMs, false)}, liveSeg{" · ", "ended at " + fmtMs(r.SentMs+r.E2EMs, false)})
	case r.Worker < 0:
		segs = append(segs, liveSeg{" · ", st.errText.Render(fmt.Sprintf("%s, never sent: %s", r.Status, r.Reason))})
	default:
		segs = append(segs, liveSeg{" · ", st.errText.Render(fmt.Sprintf("%s on w%d: %s", r.Status, r.Worker, r.Reason))})
	}
	if r.Attempts > 1 {
		segs = append(segs, liveSeg{" · ", fmt.Sprintf("%d attempts", r.Attempts)})
		if len(r.Failures) > 0 {
			segs = append(segs, liveSeg{" ", "(" + strings.Join(r.Failures, ", ") + ")"})
		}
	}
	if r.Routed >= 0 && r.Routed != r.Worker {
		segs = append(segs, liveSeg{" · ", fmt.Sprintf("routed to w%d", r.Routed)})
	}
	if r.LagMs > 0 {
		segs = append(segs, liveSeg{" · ", "sent " + fmtMs(r.LagMs, false) + " after its arrival"})
	}
	out := fitRow(head, segs, 2, w)
	if r.Why != "" {
		for _, line := range wrap("why: "+r.Why, w-2, "     ") {
			out = append(out, "  "+line)
		}
	}
	return out
}

// mirrorNote is ", true cache N" when KV events gave the worker's true
// cache (the mirror's prediction at send time), "" otherwise.
func mirrorNote(r *live.Record) string {
	if !r.MirrorKnown {
		return ""
	}
	return fmt.Sprintf(", true cache %d", r.MirrorCachedTokens)
}
