package live

import (
	"context"
	"time"
)

// Update is one message of the streaming API: exactly one field is set.
type Update struct {
	Record   *Record
	Snapshot *Snapshot
}

// Snapshot is the run's state at one moment.
type Snapshot struct {
	Elapsed    time.Duration
	Dispatched int
	Finished   int
	Total      int
	// Completed and Failed (timed out included) split Finished with the
	// cancelled; HitRatio is Σ cached / Σ prompt tokens over the completed
	// responses so far; Limit is the concurrency cap now (below the
	// configured one only when adaptive).
	Completed, Failed int
	HitRatio          float64
	Limit             int
	// LastArrival is the scheduled arrival of the last request: the run
	// cannot end before it.
	LastArrival time.Duration
	Workers     []WorkerSnapshot
}

// ETA estimates the time left: the later of the schedule's end and the
// remaining requests at the rate finished so far; 0 when nothing has
// finished yet (no rate to go by) or when everything has.
func (s Snapshot) ETA() time.Duration {
	left := s.Total - s.Finished
	if left <= 0 || s.Finished == 0 || s.Elapsed <= 0 {
		return 0
	}
	byRate := time.Duration(float64(left) / float64(s.Finished) * float64(s.Elapsed))
	return max(byRate, s.LastArrival-s.Elapsed)
}

// WorkerSnapshot is one worker's state in a Snapshot.
type WorkerSnapshot struct {
	Worker    int
	URL       string
	Healthy   bool
	InFlight  int
	Completed int
	Failed    int
	// HitRatio is Σ cached / Σ prompt tokens over its completed responses.
	PromptTokens, CachedTokens int64
	HitRatio                   float64
	// From the latest /metrics reading (Has* false when absent).
	Usage, Waiting     float64
	HasUsage, HasQueue bool
	// MirrorBlocks is the blocks present in the worker's cache by its KV
	// events (HasMirror false without them), MirrorRestarts the restarts
	// its mirror has seen: the true cache beside the model's.
	MirrorBlocks, MirrorRestarts int
	HasMirror                    bool
}

// snapshotLoop sends a Snapshot each SnapshotEvery until ctx ends.
func (d *driver) snapshotLoop(ctx context.Context) {
	every(ctx, d.cfg.SnapshotEvery, func() {
		s := d.Snapshot()
		select {
		case d.cfg.Updates <- Update{Snapshot: &s}:
		default: // a slow consumer loses snapshots, never records
		}
	})
}

// Snapshot is the run's state now.
func (d *driver) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	// The trace's size from Config.Expect; without it, what has been
	// read so far.
	s := Snapshot{Elapsed: time.Since(d.start), Dispatched: d.sent, Finished: d.done + d.notSent,
		Total:     max(d.cfg.Expect.Requests, len(d.records)+d.notSent),
		Completed: d.completed, Failed: d.failedN, Limit: d.limit.cap()}
	last := d.lastArrival
	if d.cfg.Expect.Requests > 0 {
		last = d.cfg.Expect.LastArrival
	}
	s.LastArrival = time.Duration(float64(last) * d.cfg.TimeScale)
	var prompt, cached int64
	for i, w := range d.workers {
		prompt += w.prompt
		cached += w.cached
		ws := WorkerSnapshot{Worker: i, URL: w.ep.String(), Healthy: w.healthy, InFlight: w.inFlight,
			Completed: w.completed, Failed: w.failed, PromptTokens: w.prompt, CachedTokens: w.cached,
			HitRatio: ratioF(float64(w.cached), float64(w.prompt))}
		if d.kv != nil {
			st := d.kv.Mirrors[i].Stats()
			ws.MirrorBlocks, ws.MirrorRestarts, ws.HasMirror = st.Blocks, st.Restarts, true
		}
		if l := w.latest; l != nil {
			ws.Usage, ws.HasUsage = l.Usage, l.HasUsage
			ws.Waiting, ws.HasQueue = l.Waiting, l.HasQueue
		}
		s.Workers = append(s.Workers, ws)
	}
	s.HitRatio = ratioF(float64(cached), float64(prompt))
	return s
}
