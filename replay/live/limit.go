package live

import (
	"context"
	"sync"
	"time"
)

// limiter caps the requests in flight: at Config.Concurrency, or, with
// Config.Adaptive, at an AIMD limit below it, the congestion control TCP
// uses and adaptive-concurrency proxies (Envoy, Netflix's
// concurrency-limits) apply to servers. A request that met push-back (a
// 429 or a stall on any attempt) halves the limit, once per window: only
// if it was sent after the last cut, so one burst of stalls cuts once. A
// request served without push-back raises it by 1/limit (one per limit's
// worth of successes), never above Concurrency.
type limiter struct {
	mu       sync.Mutex
	max      int
	limit    float64
	adaptive bool
	inFlight int
	lowest   int
	lastCut  time.Time
	// wake is closed and replaced whenever a slot may have opened.
	wake chan struct{}
}

func newLimiter(max int, adaptive bool) *limiter {
	return &limiter{max: max, limit: float64(max), adaptive: adaptive, lowest: max, wake: make(chan struct{})}
}

// acquire waits for a slot; it fails with ctx's error when ctx ends first.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.inFlight < int(l.limit) {
			l.inFlight++
			l.mu.Unlock()
			return nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// release frees a slot; sent is when the request was first sent and
// pushback whether it met a 429 or a stall.
func (l *limiter) release(sent time.Time, pushback bool, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	if l.adaptive {
		switch {
		case pushback && sent.After(l.lastCut):
			l.limit = max(1, l.limit/2)
			l.lastCut = now
			l.lowest = min(l.lowest, int(l.limit))
		case !pushback:
			l.limit = min(float64(l.max), l.limit+1/l.limit)
		}
	}
	close(l.wake)
	l.wake = make(chan struct{})
}

// cap is the limit now, in requests.
func (l *limiter) cap() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}
