package live

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCountersIncrease(t *testing.T) {
	rd := func(q, h, start float64) *Scrape {
		return &Scrape{HasCache: true, Queried: q, Hit: h, StartTime: start}
	}
	for _, tc := range []struct {
		name     string
		before   *Scrape
		readings []*Scrape
		q, h     float64
		resets   int
	}{
		{"steady", rd(100, 10, 0), []*Scrape{rd(150, 20, 0), rd(200, 50, 0)}, 100, 40, 0},
		{"absent before the run counts from 0", &Scrape{}, []*Scrape{rd(30, 3, 0)}, 30, 3, 0},
		{"a decrease is a reset", rd(100, 10, 0), []*Scrape{rd(150, 20, 0), rd(40, 4, 0), rd(60, 5, 0)}, 50 + 40 + 20, 10 + 4 + 1, 1},
		{"hit alone decreasing is a reset", rd(100, 10, 0), []*Scrape{rd(120, 5, 0)}, 120, 5, 1},
		// The restarted server had counted past the old values before
		// the first reading after it: only the start time tells.
		{"a new start time is a reset", rd(100, 10, 1000), []*Scrape{rd(500, 90, 2000)}, 500, 90, 1},
		{"same start time, growing", rd(100, 10, 1000), []*Scrape{rd(500, 90, 1000)}, 400, 80, 0},
		{"readings without the counters change nothing", rd(100, 10, 0), []*Scrape{{Usage: 0.5, HasUsage: true}, rd(110, 10, 0)}, 10, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k counters
			k.start(tc.before)
			for _, s := range tc.readings {
				k.observe(s)
			}
			if k.queried != tc.q || k.hit != tc.h || k.resets != tc.resets {
				t.Fatalf("increase %v/%v resets %d, want %v/%v resets %d", k.queried, k.hit, k.resets, tc.q, tc.h, tc.resets)
			}
		})
	}
	var k counters // no baseline (the reading before the run failed)
	k.observe(rd(10, 1, 0))
	if k.queried != 0 || k.resets != 0 {
		t.Fatalf("observed without a baseline: %+v", k)
	}
}

// TestCounterResetMidRun: the server restarts (its counters go back to 0
// and its start time changes) during the run; the report counts the
// reset and never goes negative, as Prometheus's increase() would not.
func TestCounterResetMidRun(t *testing.T) {
	f := newFake()
	f.start = 1000
	// Traffic before the run, so a plain difference would go negative.
	f.queried, f.hit = 1_000_000, 500_000
	var after int64
	f.fault = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n == 6 {
			f.mu.Lock()
			f.queried, f.hit, f.start = 0, 0, 2000
			f.seen = map[string]bool{}
			f.mu.Unlock()
		}
		return false
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	tr := smallTrace(t, 20)
	res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, Client: ClientConfig{Model: "m"}})
	f.mu.Lock()
	after = f.queried
	f.mu.Unlock()
	w := res.Workers[0]
	if !w.HasMetrics || w.CounterResets != 1 {
		t.Fatalf("worker %+v: want metrics with one reset", w)
	}
	// At least what was counted since the restart, at most every prompt.
	if w.MetricsQueried < float64(after) || w.MetricsQueried > float64(w.PromptTokens) || w.MetricsHit < 0 || w.MetricsHitRatio < 0 || w.MetricsHitRatio > 1 {
		t.Fatalf("metrics %v queried (%d since the restart, %d prompt tokens), %v hit, ratio %v", w.MetricsQueried, after, w.PromptTokens, w.MetricsHit, w.MetricsHitRatio)
	}
}

// TestModelForgetsFailedAttempt: a 5xx answers the first attempt before
// the server cached anything; the retry must be predicted as the server
// serves it, not as a hit on the blocks of the failed attempt.
func TestModelForgetsFailedAttempt(t *testing.T) {
	f := newFake()
	f.fault = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			http.Error(w, "overloaded", http.StatusInternalServerError)
			return true
		}
		return false
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	tr := smallTrace(t, 10)
	res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, Retries: 1, Client: ClientConfig{Model: "m"}})
	if res.Completed != 10 || res.Records[0].Attempts != 2 {
		t.Fatalf("completed %d, request 0 attempts %d", res.Completed, res.Records[0].Attempts)
	}
	for _, r := range res.Records {
		if r.ModelCachedTokens != r.CachedTokens {
			t.Fatalf("request %d: model predicted %d cached tokens, server reported %d", r.Index, r.ModelCachedTokens, r.CachedTokens)
		}
	}
	if w := res.Workers[0]; w.ModelForgotten == 0 {
		t.Fatalf("worker %+v: the failed attempt's blocks were not forgotten", w)
	}
}
