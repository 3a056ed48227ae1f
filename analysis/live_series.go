package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kvscope/kvscope/replay/live/liverun"
)

// LivePoint is one snapshot of a live run as its series and events read
// it: the run's elapsed time (on the trace clock: the driver sends request
// i at its arrival × the time scale since the start, where a replay at that
// scale puts it), how many requests had finished, and each worker's state.
// The explorer builds one from each replay/live Snapshot it records.
type LivePoint struct {
	Elapsed  time.Duration
	Finished int
	Workers  []LiveWorkerPoint
}

// LiveWorkerPoint is one worker in a LivePoint: in routing or not (its
// circuit breaker), requests waiting from the worker's /metrics (HasQueue
// false when absent), and the restarts its KV-event mirror has seen.
type LiveWorkerPoint struct {
	Healthy  bool
	Waiting  float64
	HasQueue bool
	Restarts int
}

// LiveSeries are a live run's series on a grid of instants (one value per
// instant; NaN where unknown or past the instant the series are cut at).
type LiveSeries struct {
	// Hit is the cumulative token hit ratio of the responses (Σ cached /
	// Σ prompt tokens over requests completed by the instant, those that
	// reported cached tokens); NaN before the first.
	Hit []float64
	// TTFT is the median TTFT from the scheduled arrival (ms) of the
	// requests whose first token came in the window ending at the instant
	// (after the previous instant); NaN for an empty window.
	TTFT []float64
	// Waiting is Σ requests waiting on the workers by their /metrics at
	// the last point at or before the instant (workers that report it);
	// NaN when none does. InFlight is the requests in flight (sent, not
	// ended), in all, and Workers the same per worker.
	Waiting, InFlight []float64
	Workers           [][]float64
}

// LiveSeriesOn computes a live run's series at the instants grid (in
// ascending order), from its records (in the order they were received)
// and points (in time order), up to until: instants after it are NaN. A
// request counts as completed at its last attempt's send + its
// end-to-end time, its first token at send + TTFT. It is in flight from
// its first send to its end (in all) and from its last send to its end
// on the worker that served it (per worker: the record keeps no earlier
// attempt's worker); a request that did not complete ends where
// LiveEvents puts its failure (the first point counting it, else until).
// From the records, not the points' counts, so requests shorter than the
// snapshot interval count too.
func LiveSeriesOn(recs []liverun.Record, pts []LivePoint, grid []time.Duration, until time.Duration) LiveSeries {
	n := len(grid)
	s := LiveSeries{Hit: nanSlice(n), TTFT: nanSlice(n), Waiting: nanSlice(n), InFlight: nanSlice(n)}
	// Completions by end time, with cumulative tokens.
	type done struct {
		end, first     float64 // ms
		cached, prompt int
		known          bool
		ttft           float64
	}
	var ds []done
	for i := range recs {
		r := &recs[i]
		if r.Status != liverun.Completed {
			continue
		}
		ds = append(ds, done{end: r.SentMs + r.E2EMs, first: r.SentMs + r.TTFTMs, cached: r.CachedTokens,
			prompt: r.PromptTokens, known: r.CachedKnown, ttft: r.TTFTFromArrivalMs})
	}
	slices.SortFunc(ds, func(a, b done) int { return cmp.Compare(a.end, b.end) })
	var cached, prompt int64
	j := 0
	for i, g := range grid {
		if g > until {
			break
		}
		ms := float64(g) / 1e6
		for ; j < len(ds) && ds[j].end <= ms; j++ {
			if ds[j].known {
				cached += int64(ds[j].cached)
				prompt += int64(ds[j].prompt)
			}
		}
		if prompt > 0 {
			s.Hit[i] = float64(cached) / float64(prompt)
		}
	}
	// TTFT windows by first-token time.
	slices.SortFunc(ds, func(a, b done) int { return cmp.Compare(a.first, b.first) })
	j = 0
	var win []float64
	for i, g := range grid {
		if g > until {
			break
		}
		ms := float64(g) / 1e6
		win = win[:0]
		for ; j < len(ds) && ds[j].first <= ms; j++ {
			win = append(win, ds[j].ttft)
		}
		if len(win) > 0 {
			slices.Sort(win)
			s.TTFT[i] = Percentile(win, 0.5)
		}
	}
	// Requests in flight, from the records' send and end instants.
	workers := 0
	for i := range recs {
		workers = max(workers, recs[i].Worker+1)
	}
	var all []time.Duration    // +start, -end as two sorted lists
	var allEnd []time.Duration // ends
	per := make([][2][]time.Duration, workers)
	ends := liveEnds(recs, pts, until, true)
	for i := range recs {
		r := &recs[i]
		if r.Attempts == 0 || r.Worker < 0 {
			continue
		}
		first := r.FirstSentMs
		if first <= 0 {
			first = r.SentMs
		}
		all = append(all, msDuration(first))
		allEnd = append(allEnd, ends[i])
		per[r.Worker][0] = append(per[r.Worker][0], msDuration(r.SentMs))
		per[r.Worker][1] = append(per[r.Worker][1], ends[i])
	}
	s.InFlight = flyingOn(all, allEnd, grid, until)
	s.Workers = make([][]float64, workers)
	for w := range per {
		s.Workers[w] = flyingOn(per[w][0], per[w][1], grid, until)
	}
	k := -1 // last point at or before the instant
	for i, g := range grid {
		if g > until {
			break
		}
		for k+1 < len(pts) && pts[k+1].Elapsed <= g {
			k++
		}
		if k < 0 {
			continue
		}
		var wait float64
		queued := false
		for _, ws := range pts[k].Workers {
			if ws.HasQueue {
				wait += ws.Waiting
				queued = true
			}
		}
		if queued {
			s.Waiting[i] = wait
		}
	}
	return s
}

// flyingOn counts, at each instant of grid up to until, the intervals
// [starts[i], ends[i]) holding it (NaN past until). It sorts its
// arguments.
func flyingOn(starts, ends []time.Duration, grid []time.Duration, until time.Duration) []float64 {
	slices.Sort(starts)
	slices.Sort(ends)
	out := nanSlice(len(grid))
	a, b := 0, 0
	for i, g := range grid {
		if g > until {
			break
		}
		for a < len(starts) && starts[a] <= g {
			a++
		}
		for b < len(ends) && ends[b] <= g {
			b++
		}
		out[i] = float64(a - b)
	}
	return out
}

func msDuration(ms float64) time.Duration { return time.Duration(math.Round(ms * 1e6)) }

// liveEnds is when each record ended: a completed request at its last
// send + E2E; another at the first point whose finished count includes it
// (the k-th record received is finished by the first point with Finished
// ≥ k), at least its last send, else at end when ended is set, else -1
// (not known yet).
func liveEnds(recs []liverun.Record, pts []LivePoint, end time.Duration, ended bool) []time.Duration {
	out := make([]time.Duration, len(recs))
	p := 0
	for k := range recs {
		r := &recs[k]
		for p < len(pts) && pts[p].Finished < k+1 {
			p++
		}
		switch {
		case r.Status == liverun.Completed:
			out[k] = msDuration(r.SentMs + r.E2EMs)
		case p < len(pts):
			out[k] = max(pts[p].Elapsed, msDuration(r.SentMs))
		case ended:
			out[k] = max(end, msDuration(r.SentMs))
		default:
			out[k] = -1
		}
	}
	return out
}

func nanSlice(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

// LiveEventKind names an entry of a live run's event list.
type LiveEventKind uint8

const (
	// LiveSent: the request's first attempt was sent.
	LiveSent LiveEventKind = iota
	// LiveRetry: its last attempt was sent, after failed ones.
	LiveRetry
	// LiveFirstToken: the first streamed token came back.
	LiveFirstToken
	// LiveComplete: the stream ended; the request completed.
	LiveComplete
	// LiveFail: it failed, timed out or was cancelled.
	LiveFail
	// LiveBreakerOpen and LiveBreakerClose: a worker left routing (its
	// circuit breaker opened, or it was found down) and came back.
	LiveBreakerOpen
	LiveBreakerClose
	// LiveRestart: a worker's KV-event mirror saw it restart (all blocks
	// cleared, or a gap in the events' sequence numbers).
	LiveRestart
)

var liveEventNames = [...]string{"sent", "retry", "first token", "complete", "fail", "breaker open", "breaker closed", "KV restart"}

func (k LiveEventKind) String() string {
	if int(k) < len(liveEventNames) {
		return liveEventNames[k]
	}
	return fmt.Sprintf("LiveEventKind(%d)", k)
}

// LiveEvent is one entry of a live run's event list.
type LiveEvent struct {
	// T is when it happened (the run's elapsed time). When By is set, T
	// is the snapshot that first showed it, so it happened after the
	// previous snapshot and by T: the records carry no end time for a
	// failure, and health and restarts are seen in snapshots only.
	T  time.Duration
	By bool
	// Req is the request's trace index (-1 for a worker's event); Worker
	// the worker (-1 when unknown: a request never sent, or the first
	// attempt of one retried, whose worker the record does not keep).
	Req, Worker int
	Kind        LiveEventKind
	// Note is the failure's status and reason, or the retry's attempt and
	// the kinds of the attempts that failed before it.
	Note string
}

// LiveEvents lists a live run's events in time order (ties by request,
// then kind, then worker) from its records, in the order they were received (the order
// the driver finished them), and its points. A record that did not
// complete carries no end time: its fail entry is put at the first point
// whose finished count includes it (the k-th record received is finished
// by the first point with Finished ≥ k), at least its last send; with no
// such point, at end when ended is set, and left out otherwise (it shows
// once a later point covers it).
func LiveEvents(recs []liverun.Record, pts []LivePoint, end time.Duration, ended bool) []LiveEvent {
	out := make([]LiveEvent, 0, 3*len(recs))
	ends := liveEnds(recs, pts, end, ended)
	for k := range recs {
		r := &recs[k]
		if r.Attempts > 0 && r.Worker >= 0 {
			first := r.FirstSentMs
			if first <= 0 {
				first = r.SentMs // the first attempt found no worker
			}
			w := r.Worker
			if r.Attempts > 1 {
				w = -1
			}
			out = append(out, LiveEvent{T: msDuration(first), Req: r.Index, Worker: w, Kind: LiveSent})
			if r.Attempts > 1 {
				note := fmt.Sprintf("attempt %d", r.Attempts)
				if len(r.Failures) > 0 {
					f := r.Failures
					if r.Status != liverun.Completed && len(f) == r.Attempts {
						f = f[:len(f)-1] // the last one is this attempt's own
					}
					if len(f) > 0 {
						note += " after " + strings.Join(f, ", ")
					}
				}
				if r.Routed >= 0 && r.Routed != r.Worker {
					note += fmt.Sprintf(" (router chose w%d)", r.Routed)
				}
				out = append(out, LiveEvent{T: msDuration(r.SentMs), Req: r.Index, Worker: r.Worker, Kind: LiveRetry, Note: note})
			}
		}
		if r.Status == liverun.Completed {
			out = append(out, LiveEvent{T: msDuration(r.SentMs + r.TTFTMs), Req: r.Index, Worker: r.Worker, Kind: LiveFirstToken},
				LiveEvent{T: msDuration(r.SentMs + r.E2EMs), Req: r.Index, Worker: r.Worker, Kind: LiveComplete})
			continue
		}
		if ends[k] < 0 {
			continue // no point counts it yet
		}
		note := string(r.Status)
		if r.Reason != "" {
			note += ": " + r.Reason
		}
		out = append(out, LiveEvent{T: ends[k], By: true, Req: r.Index, Worker: r.Worker, Kind: LiveFail, Note: note})
	}
	for i := range pts {
		for w, ws := range pts[i].Workers {
			var prev LiveWorkerPoint
			prev.Healthy = true // workers start in routing, their mirror with no restart
			if i > 0 && w < len(pts[i-1].Workers) {
				prev = pts[i-1].Workers[w]
			}
			ev := LiveEvent{T: pts[i].Elapsed, By: true, Req: -1, Worker: w}
			if ws.Healthy != prev.Healthy {
				ev.Kind = LiveBreakerClose
				if !ws.Healthy {
					ev.Kind = LiveBreakerOpen
				}
				out = append(out, ev)
			}
			if ws.Restarts > prev.Restarts {
				ev.Kind, ev.Note = LiveRestart, fmt.Sprintf("restart %d", ws.Restarts)
				out = append(out, ev)
			}
		}
	}
	// (T, Req, Kind, Worker) is unique: a request has one event of each
	// kind, a worker one of each kind per point.
	slices.SortFunc(out, func(a, b LiveEvent) int {
		if a.T != b.T {
			return cmp.Compare(a.T, b.T)
		}
		return cmp.Or(cmp.Compare(a.Req, b.Req), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Worker, b.Worker))
	})
	return out
}
