package analysis

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/live/liverun"
)

func sec(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }

// liveRecs: request 0 completes on w0 at 0.6 s (first token 0.15 s),
// request 1 on w1 at 1.5 s after a stall on w0, request 2 fails on w1,
// request 3 was never sent.
func liveRecs() []liverun.Record {
	return []liverun.Record{
		{Index: 0, Status: liverun.Completed, Worker: 0, Routed: 0, Attempts: 1, FirstSentMs: 100, SentMs: 100, TTFTMs: 50, E2EMs: 500,
			TTFTFromArrivalMs: 60, PromptTokens: 100, CachedTokens: 0, CachedKnown: true},
		{Index: 1, Status: liverun.Completed, Worker: 1, Routed: 0, Attempts: 2, Failures: []string{"stalled"}, FirstSentMs: 200, SentMs: 1200,
			TTFTMs: 100, E2EMs: 300, TTFTFromArrivalMs: 1150, PromptTokens: 100, CachedTokens: 50, CachedKnown: true},
		{Index: 2, Status: liverun.Failed, Worker: 1, Routed: 1, Attempts: 1, Failures: []string{"5xx"}, FirstSentMs: 1300, SentMs: 1300, Reason: "HTTP 500"},
		{Index: 3, Status: liverun.Failed, Worker: -1, Routed: -1, Reason: "no healthy worker"},
	}
}

func livePts() []LivePoint {
	return []LivePoint{
		{Elapsed: sec(1), Finished: 1, Workers: []LiveWorkerPoint{{Healthy: true, HasQueue: true, Waiting: 2}, {Healthy: true}}},
		{Elapsed: sec(2), Finished: 3, Workers: []LiveWorkerPoint{{Healthy: false, HasQueue: true, Waiting: 0}, {Healthy: true, Restarts: 1}}},
	}
}

func TestLiveSeriesOn(t *testing.T) {
	grid := []time.Duration{sec(0.5), sec(1), sec(1.5), sec(2), sec(2.5)}
	s := LiveSeriesOn(liveRecs(), livePts(), grid, sec(2))
	str := func(v []float64) string { return fmt.Sprint(v) }
	for _, c := range []struct {
		name string
		got  []float64
		want string
	}{
		// Completed by 1 s: request 0 (0/100); by 1.5 s: both (50/200).
		{"hit", s.Hit, "[NaN 0 0.25 0.25 NaN]"},
		// First tokens at 0.15 s and 1.3 s: windows ending 0.5 s and 1.5 s.
		{"ttft", s.TTFT, "[60 NaN 1150 NaN NaN]"},
		{"waiting", s.Waiting, "[NaN 2 2 0 NaN]"},
		// From the records: request 0 in [0.1, 0.6) s on w0, request 1 in
		// [0.2, 1.5) s (on w1 from its retry at 1.2 s), request 2 in
		// [1.3, 2) s on w1 (its failure counted by the 2 s point).
		{"in flight", s.InFlight, "[2 1 1 0 NaN]"},
		{"w0", s.Workers[0], "[1 0 0 0 NaN]"},
		{"w1", s.Workers[1], "[0 0 1 0 NaN]"},
	} {
		if g := str(c.got); g != c.want {
			t.Errorf("%s = %s, want %s", c.name, g, c.want)
		}
	}
	// Without points the queue is unknown, and a failure ends at until.
	if s := LiveSeriesOn(liveRecs(), nil, grid, sec(9)); !math.IsNaN(s.Waiting[4]) || s.InFlight[4] != 1 || len(s.Workers) != 2 || s.Hit[4] != 0.25 {
		t.Errorf("no points: %+v", s)
	}
}

func TestLiveEvents(t *testing.T) {
	line := func(evs []LiveEvent) string {
		var b strings.Builder
		for _, e := range evs {
			by := ""
			if e.By {
				by = "≤"
			}
			fmt.Fprintf(&b, "%s%v r%d w%d %s %s\n", by, e.T, e.Req, e.Worker, e.Kind, e.Note)
		}
		return b.String()
	}
	got := line(LiveEvents(liveRecs(), livePts(), sec(2.5), true))
	// Request 2 is the third record: finished by the 2 s point (3 finished);
	// request 3, the fourth, by no point: the run's end.
	want := `100ms r0 w0 sent 
150ms r0 w0 first token 
200ms r1 w-1 sent 
600ms r0 w0 complete 
1.2s r1 w1 retry attempt 2 after stalled (router chose w0)
1.3s r1 w1 first token 
1.3s r2 w1 sent 
1.5s r1 w1 complete 
≤2s r-1 w0 breaker open 
≤2s r-1 w1 KV restart restart 1
≤2s r2 w1 fail failed: HTTP 500
≤2.5s r3 w-1 fail failed: no healthy worker
`
	if got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
	// While the run goes, a failure no point covers yet is left out.
	if got := line(LiveEvents(liveRecs(), livePts(), 0, false)); strings.Contains(got, "r3") {
		t.Errorf("an uncovered failure listed while running:\n%s", got)
	}
	// A worker back in routing closes its breaker.
	pts := append(livePts(), LivePoint{Elapsed: sec(3), Finished: 4, Workers: []LiveWorkerPoint{{Healthy: true}, {Healthy: true, Restarts: 1}}})
	if got := line(LiveEvents(nil, pts, 0, false)); !strings.Contains(got, "≤3s r-1 w0 breaker closed") || strings.Count(got, "KV restart") != 1 {
		t.Errorf("worker events:\n%s", got)
	}
	if s := LiveEventKind(99).String(); s != "LiveEventKind(99)" {
		t.Error(s)
	}
}

// liveBenchRun is a 12k-request live run (the Mooncake trace's size) with
// a snapshot a second over 10 minutes, on 4 workers.
func liveBenchRun() ([]liverun.Record, []LivePoint) {
	recs := make([]liverun.Record, 12000)
	for i := range recs {
		sent := float64(i) * 50
		recs[i] = liverun.Record{Index: i, Status: liverun.Completed, Worker: i % 4, Routed: i % 4, Attempts: 1 + i%7/6,
			FirstSentMs: sent, SentMs: sent, TTFTMs: float64(100 + i%300), E2EMs: float64(2000 + i%5000),
			TTFTFromArrivalMs: float64(150 + i%400), PromptTokens: 4096, CachedTokens: 512 * (i % 8), CachedKnown: true}
		if i%50 == 0 {
			recs[i].Status, recs[i].Reason = liverun.Failed, "server error (5xx)"
		}
	}
	pts := make([]LivePoint, 600)
	for i := range pts {
		pts[i] = LivePoint{Elapsed: time.Duration(i+1) * time.Second, Finished: 20 * (i + 1), Workers: make([]LiveWorkerPoint, 4)}
		for w := range pts[i].Workers {
			pts[i].Workers[w] = LiveWorkerPoint{Healthy: i%100 != 50 || w != 1, HasQueue: true, Waiting: float64(i % 9)}
		}
	}
	return recs, pts
}

// What the explorer recomputes once per snapshot (and at the run's end)
// for a 12k-request run: the chart series on its 240-point grid and the
// event list.
func BenchmarkLiveSeriesOn(b *testing.B) {
	recs, pts := liveBenchRun()
	grid := make([]time.Duration, 240)
	for i := range grid {
		grid[i] = time.Duration(i) * 2500 * time.Millisecond
	}
	for b.Loop() {
		LiveSeriesOn(recs, pts, grid, 10*time.Minute)
	}
}

func BenchmarkLiveEvents(b *testing.B) {
	recs, pts := liveBenchRun()
	for b.Loop() {
		LiveEvents(recs, pts, 10*time.Minute, true)
	}
}
