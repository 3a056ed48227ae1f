package live

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// alwaysFails is a worker that answers /health and /metrics but fails
// every completion with status code.
func alwaysFails(code int) *fake {
	f := newFake()
	f.fault = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "broken", code)
		return true
	}
	return f
}

// TestFailoverToHealthyWorker: one healthy worker and one that answers 500
// to every request (its /health still says OK). No request is lost: a
// retry goes to the router's next choice, never back to the worker that
// failed it, and the breaker takes the broken worker out of routing.
func TestFailoverToHealthyWorker(t *testing.T) {
	for _, router := range []string{"round_robin", "cache_aware", "least_load", "llmd"} {
		t.Run(router, func(t *testing.T) {
			good, bad := newFake(), alwaysFails(http.StatusInternalServerError)
			gs, bs := httptest.NewServer(good), httptest.NewServer(bad)
			defer gs.Close()
			defer bs.Close()
			tr := smallTrace(t, 100)
			// A probe interval longer than the run keeps the broken worker
			// out once its breaker opens, so the count below does not
			// depend on how fast the machine runs the half-open trials.
			res := liveRun(t, tr, []string{bs.URL, gs.URL}, Config{Router: router, Concurrency: 4, Retries: 1, ProbeInterval: patience, Client: ClientConfig{Model: "m"}})
			if res.Completed != 100 {
				t.Fatalf("%d of 100 completed: %v", res.Completed, res.FailReasons)
			}
			for _, r := range res.Records {
				if r.Worker != 1 {
					t.Fatalf("request %d completed on worker %d: %+v", r.Index, r.Worker, r)
				}
				if r.Attempts > 1 && r.Routed == 0 && len(r.Why) == 0 {
					t.Fatalf("request %d: the retry's decision is not explained", r.Index)
				}
			}
			if res.Workers[0].Downs == 0 {
				t.Fatalf("the broken worker's breaker never opened: %+v", res.Workers[0])
			}
			// Closed, the breaker would have let about half the requests
			// (those routed there) fail once each. Open, the worker gets
			// the 3 failures that open it and at most the 3 others in
			// flight at that moment (concurrency 4).
			if n := bad.requests.Load(); n > 6 {
				t.Fatalf("the broken worker got %d of 100 first attempts, want at most 6", n)
			}
		})
	}
}

// TestRetryAfterHonoured: a 429 with Retry-After: 1 is retried no sooner
// than a second later (the driver's own backoff here is 5 ms).
func TestRetryAfterHonoured(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	f := newFake()
	f.fault = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	tr := smallTrace(t, 1)
	res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, Retries: 1, Client: ClientConfig{Model: "m"}})
	if res.Completed != 1 || len(at) != 2 {
		t.Fatalf("completed %d after %d attempts", res.Completed, len(at))
	}
	if gap := at[1].Sub(at[0]); gap < time.Second {
		t.Fatalf("retried %v after a 429 with Retry-After: 1", gap)
	}
	if r := res.Records[0]; r.Attempts != 2 {
		t.Fatalf("record %+v", r)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0}, {"2", 2 * time.Second}, {"0", 0}, {"-3", 0}, {"soon", 0}, {"86400", maxRetryAfter},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tc.h, now); got != tc.want {
			t.Errorf("Retry-After %q: %v, want %v", tc.h, got, tc.want)
		}
	}
}

// TestCapacityRejectionTriedElsewhere: a worker that rejects a request in
// its stream (llm-d-inference-sim's capacity error) does not get it back;
// the other worker serves it.
func TestCapacityRejectionTriedElsewhere(t *testing.T) {
	small := newFake()
	small.fault = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"error\":{\"message\":\"the kv cache does not have sufficient capacity to store this request\"}}\n\n")
		return true
	}
	big := newFake()
	ss, bs := httptest.NewServer(small), httptest.NewServer(big)
	defer ss.Close()
	defer bs.Close()
	tr := smallTrace(t, 10)
	res := liveRun(t, tr, []string{ss.URL, bs.URL}, Config{Concurrency: 1, Retries: 1, Client: ClientConfig{Model: "m"}})
	if res.Completed != 10 {
		t.Fatalf("%d of 10 completed: %v", res.Completed, res.FailReasons)
	}
	// Round robin's turns move on with every routing, retries included:
	// each request meets the rejecting worker at most once.
	if n := small.requests.Load(); n > 10 {
		t.Fatalf("the rejecting worker got %d attempts for 10 requests", n)
	}
	for _, r := range res.Records {
		if r.Worker != 1 || r.Attempts > 2 {
			t.Fatalf("request %d: %+v", r.Index, r)
		}
	}
}

// TestHalfOpenTrial: a worker whose breaker opened comes back half-open
// after its probe answers, takes one request at a time, and a success
// closes the breaker.
func TestHalfOpenTrial(t *testing.T) {
	w := &worker{healthy: true}
	for range 2 {
		if w.failedAttempt(KindStatus5, 3) {
			t.Fatal("opened before 3 consecutive failures")
		}
	}
	if w.failedAttempt(KindBusy, 3) {
		t.Fatal("a 429 opened the breaker")
	}
	if !w.failedAttempt(KindStatus5, 3) {
		t.Fatal("3 consecutive 5xx did not open the breaker")
	}
	w.consec, w.halfOpen = 0, true
	if !w.failedAttempt(KindStall, 3) {
		t.Fatal("a failed half-open trial did not reopen the breaker")
	}
	w.succeeded()
	if w.halfOpen || w.consec != 0 || w.opens != 0 {
		t.Fatalf("a success did not close the breaker: %+v", w.breaker)
	}
	d := &driver{workers: []*worker{{healthy: true, breaker: breaker{halfOpen: true}, inFlight: 1}, {healthy: true}}}
	if d.usable(0) || !d.usable(1) {
		t.Fatal("a half-open worker with a trial in flight took another request")
	}
	d.cfg.ProbeInterval = 10 * time.Millisecond
	for opens, want := range []time.Duration{10, 20, 40, 80, 160, 320, 320} {
		d.workers[1].opens = opens
		if got := d.coolDown(d.workers[1]); got != want*time.Millisecond {
			t.Fatalf("cool-down after %d openings: %v, want %v", opens, got, want*time.Millisecond)
		}
	}
}

// TestRetryGoesToNextChoice: consistent_hash sends a request to the same
// worker every time it is routed; with the breaker out of the way (a high
// threshold), only the driver's memory of who failed the request keeps
// its retry off the broken worker.
func TestRetryGoesToNextChoice(t *testing.T) {
	good, bad := newFake(), alwaysFails(http.StatusBadGateway)
	gs, bs := httptest.NewServer(good), httptest.NewServer(bad)
	defer gs.Close()
	defer bs.Close()
	tr := smallTrace(t, 60)
	res := liveRun(t, tr, []string{bs.URL, gs.URL}, Config{Router: "consistent_hash", Concurrency: 2, Retries: 1, BreakerFailures: 1000, Client: ClientConfig{Model: "m"}})
	if bad.requests.Load() == 0 {
		t.Fatal("no request hashed to the broken worker: the test proves nothing")
	}
	if res.Completed != 60 {
		t.Fatalf("%d of 60 completed: %v", res.Completed, res.FailReasons)
	}
	for _, r := range res.Records {
		if r.Attempts == 2 && (r.Routed != 0 || r.Worker != 1 || !strings.Contains(r.Why, "already failed this request")) {
			t.Fatalf("request %d: %+v", r.Index, r)
		}
	}
}
