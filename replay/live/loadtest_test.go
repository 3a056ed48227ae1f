package live

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLimiterAIMD(t *testing.T) {
	l := newLimiter(8, true)
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for range 8 {
		if err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of push-back from requests sent before the cut cuts once.
	l.release(t0, true, t0.Add(time.Second))
	l.release(t0, true, t0.Add(2*time.Second))
	if got := l.cap(); got != 4 {
		t.Fatalf("cap %d after one window of push-back, want 4", got)
	}
	// A request sent after the cut cuts again.
	l.release(t0.Add(3*time.Second), true, t0.Add(4*time.Second))
	if got := l.cap(); got != 2 || l.lowest != 2 {
		t.Fatalf("cap %d (lowest %d), want 2", got, l.lowest)
	}
	// Additive increase: +1/cap per success (2 → 2.5 → 2.9 → 3.24), up
	// to the max.
	for range 3 {
		l.inFlight++
		l.release(t0, false, t0)
	}
	if got := l.cap(); got != 3 {
		t.Fatalf("cap %d after 3 successes at 2, want 3", got)
	}
	for range 100 {
		l.inFlight++
		l.release(t0, false, t0)
	}
	if got := l.cap(); got != 8 {
		t.Fatalf("cap %d, want the configured 8", got)
	}
	// A fixed limiter never moves.
	f := newLimiter(4, false)
	f.inFlight = 1
	f.release(t0, true, t0.Add(time.Hour))
	if f.cap() != 4 {
		t.Fatal("a fixed limit moved")
	}
	// acquire waits for a slot and gives up with its context.
	full := newLimiter(1, false)
	_ = full.acquire(ctx)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := full.acquire(cctx); err == nil {
		t.Fatal("acquired a slot past the limit")
	}
}

func TestSnapshotETA(t *testing.T) {
	for _, tc := range []struct {
		s    Snapshot
		want time.Duration
	}{
		{Snapshot{Elapsed: 10 * time.Second, Finished: 0, Total: 10}, 0},
		{Snapshot{Elapsed: 10 * time.Second, Finished: 10, Total: 10}, 0},
		{Snapshot{Elapsed: 10 * time.Second, Finished: 5, Total: 10}, 10 * time.Second},
		{Snapshot{Elapsed: 10 * time.Second, Finished: 5, Total: 10, LastArrival: time.Minute}, 50 * time.Second},
	} {
		if got := tc.s.ETA(); got != tc.want {
			t.Errorf("%+v: ETA %v, want %v", tc.s, got, tc.want)
		}
	}
}

// TestLagAndDuration: five requests all due at once through one slot: each
// is sent only when the one before has ended, so its lag covers their
// time, and its TTFT from the arrival covers the lag. A duration limit
// then stops the sending of a spread-out trace, without an error.
func TestLagAndDuration(t *testing.T) {
	srv := httptest.NewServer(newFake())
	defer srv.Close()
	tr := smallTrace(t, 5)
	for i := range tr.Requests {
		tr.Requests[i].Arrival = 0
	}
	res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, Client: ClientConfig{Model: "m"}})
	for i, r := range res.Records {
		if r.LagMs < 0 || r.FirstSentMs < r.ArrivalMs || r.TTFTFromArrivalMs < r.TTFTMs+r.LagMs-1e-9 {
			t.Fatalf("request %d: lag %v, first sent %v, TTFT %v, from arrival %v", i, r.LagMs, r.FirstSentMs, r.TTFTMs, r.TTFTFromArrivalMs)
		}
		if i > 0 {
			prev := res.Records[i-1]
			if r.FirstSentMs < prev.SentMs+prev.E2EMs-1e-6 || r.LagMs < prev.LagMs {
				t.Fatalf("request %d sent at %v before request %d ended (%v + %v)", i, r.FirstSentMs, i-1, prev.SentMs, prev.E2EMs)
			}
		}
	}

	spread := smallTrace(t, 6)
	for i := range spread.Requests {
		spread.Requests[i].Arrival = time.Duration(i) * time.Hour
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	res, err := Run(ctx, spread, spread.Requests, Config{Workers: []Endpoint{mustEndpoint(t, srv.URL)}, Router: "round_robin", Duration: time.Second, Client: ClientConfig{Model: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	// The requests due an hour or more in can never be sent within the
	// second; whether the one due at 0 was sent in time depends on the
	// machine, so either outcome of it is accepted.
	// The requests not sent are counted (NotSent, among the cancelled),
	// with no record each.
	if res.Cancelled < 5 || res.NotSent < 5 || res.Completed+res.Cancelled != 6 || len(res.Records)+res.NotSent != 6 ||
		!res.DurationReached || !res.Interrupted || !strings.Contains(res.InterruptCause, "duration limit (1s) was reached") {
		t.Fatalf("duration: %d completed, %d cancelled (%d not sent, %d records), reached %v; cause %q",
			res.Completed, res.Cancelled, res.NotSent, len(res.Records), res.DurationReached, res.InterruptCause)
	}
}
