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
	Workers    []WorkerSnapshot
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
	s := Snapshot{Elapsed: time.Since(d.start), Dispatched: d.sent, Finished: d.done, Total: len(d.records)}
	for i, w := range d.workers {
		ws := WorkerSnapshot{Worker: i, URL: w.ep.String(), Healthy: w.healthy, InFlight: w.inFlight,
			Completed: w.completed, Failed: w.failed, PromptTokens: w.prompt, CachedTokens: w.cached,
			HitRatio: ratioF(float64(w.cached), float64(w.prompt))}
		if l := w.latest; l != nil {
			ws.Usage, ws.HasUsage = l.Usage, l.HasUsage
			ws.Waiting, ws.HasQueue = l.Waiting, l.HasQueue
		}
		s.Workers = append(s.Workers, ws)
	}
	return s
}
