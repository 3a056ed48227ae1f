package tui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/trace"
)

// The live run is recorded as it goes and the cursor scrubs it: inside
// the recorded time the workers pane adds the snapshot at the cursor and
// the requests completed by then (from the records); at or past the
// latest snapshot it shows only the latest state, as before.
func TestLiveScrub(t *testing.T) {
	snap := func(sec, fin int, w0done int) *live.Snapshot {
		return &live.Snapshot{Elapsed: time.Duration(sec) * time.Second, Finished: fin, Dispatched: fin + 2, Total: 10,
			Workers: []live.WorkerSnapshot{{Worker: 0, Healthy: true, Completed: w0done, InFlight: 2, HasUsage: true, Usage: 0.1 * float64(sec),
				HasMirror: sec >= 2, MirrorBlocks: 100 * sec, MirrorRestarts: sec / 2}}}
	}
	cfg := smallConfig(t, 100)
	cfg.Live = func(_ context.Context, _ *trace.Trace, up chan<- live.Update) (*live.Result, error) {
		up <- live.Update{Snapshot: snap(1, 1, 1)}
		up <- live.Update{Record: &live.Record{Index: 0, Status: live.Completed, SentMs: 100, E2EMs: 600, TTFTFromArrivalMs: 30, PromptTokens: 100, CachedTokens: 0, CachedKnown: true}}
		up <- live.Update{Snapshot: snap(2, 3, 3)}
		up <- live.Update{Record: &live.Record{Index: 1, Status: live.Completed, SentMs: 1200, E2EMs: 300, TTFTFromArrivalMs: 80, PromptTokens: 100, CachedTokens: 50, CachedKnown: true}}
		up <- live.Update{Record: &live.Record{Index: 2, Status: live.Failed, SentMs: 1300}}
		up <- live.Update{Snapshot: snap(3, 7, 6)}
		return &live.Result{Counts: live.Counts{Requests: 10, Completed: 9, Failed: 1}, DurationS: 3.5,
			Workers: []live.WorkerResult{{Worker: 0, URL: "http://w0", Completed: 9, Failed: 1, Healthy: true}}}, nil
	}
	m := newDone(t, cfg, 120, 40)
	press(m, "3", "z")
	if n := len(m.s.live.hist.snaps); n != 3 || len(m.s.live.hist.recs) != 3 {
		t.Fatalf("recorded %d snapshots, %d records", n, len(m.s.live.hist.recs))
	}
	at := func(c time.Duration) string {
		m.s.cursor = c
		return strings.Join(strings.Fields(strings.ReplaceAll(plain(m), "┃", " ")), " ")
	}
	for _, c := range []struct {
		cursor time.Duration
		want   []string
	}{
		{1600 * time.Millisecond, []string{"L live at cursor 1.60 s · snapshot of 1.00 s: 1/10 finished · 3 sent · 2 completed by the cursor, hit 0.250",
			"w0 up in flight 2 done 1 failed 0 hit 0.000 usage 0.10"}},
		{2500 * time.Millisecond, []string{"L live at cursor 2.50 s · snapshot of 2.00 s: 3/10 finished · 5 sent · 2 completed by the cursor, hit 0.250",
			"done 3 failed 0 hit 0.000 usage 0.20 waiting – true cache 200 blocks (restarted 1×)"}},
		{1000 * time.Millisecond, []string{"L live at cursor 1.00 s · snapshot of 1.00 s: 1/10 finished · 3 sent · 1 completed by the cursor, hit 0.000"}},
	} {
		out := at(c.cursor)
		for _, want := range c.want {
			if !strings.Contains(out, want) {
				t.Errorf("cursor %v: screen lacks %q:\n%s", c.cursor, want, out)
			}
		}
		if !strings.Contains(out, "L live workers · ended after 3.50 s") {
			t.Errorf("cursor %v: the run's end is gone:\n%s", c.cursor, out)
		}
	}
	// The compare pane sets the live run up to the cursor under its table.
	press(m, "z", fmt.Sprint(paneCompare+1), "z")
	if out := at(1600 * time.Millisecond); !strings.Contains(out, "L live up to cursor · completed 2 · token hit ratio 0.250 · TTFT p50 30.0 ms p99 80.0 ms (from arrival)") {
		t.Errorf("compare pane at 1.6 s:\n%s", out)
	}
	if out := at(500 * time.Millisecond); !strings.Contains(out, "L live up to cursor · completed 0 · token hit ratio – · TTFT p50 – p99 –") {
		t.Errorf("compare pane at 0.5 s:\n%s", out)
	}
	press(m, "z", fmt.Sprint(paneWorkers+1), "z")
	// Before the first snapshot and at or past the latest: no cursor block.
	for _, c := range []time.Duration{500 * time.Millisecond, 3 * time.Second, 5 * time.Second} {
		if out := at(c); strings.Contains(out, "live at cursor") {
			t.Errorf("cursor %v: a cursor block outside the recorded time:\n%s", c, out)
		}
	}
}

// The request pane shows the live record of the request at the cursor:
// how it ended, its cached tokens beside the model's, TTFT from send and
// from arrival, retries, rerouting and lag, the router's why; a request
// with no record says so.
func TestLiveRequestRecord(t *testing.T) {
	cfg := smallConfig(t, 100)
	// Three requests the cursor can land on: the last (stable order) of
	// those arriving at one instant.
	rs := cfg.Trace.Requests
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rs[a].Arrival, rs[b].Arrival) })
	var pick []int
	for j, i := range order {
		if (j == len(order)-1 || rs[order[j+1]].Arrival > rs[i].Arrival) && len(pick) < 3 {
			pick = append(pick, i)
		}
	}
	if len(pick) < 3 {
		t.Fatal("the sample has fewer than three arrival instants")
	}
	cfg.Live = func(_ context.Context, _ *trace.Trace, up chan<- live.Update) (*live.Result, error) {
		up <- live.Update{Record: &live.Record{Index: pick[0], Status: live.Completed, Worker: 1, Routed: 1, Attempts: 1, SentMs: 100, E2EMs: 600,
			TTFTMs: 40, TTFTFromArrivalMs: 45, LagMs: 5, PromptTokens: 1024, CachedTokens: 512, CachedKnown: true, ModelCachedTokens: 480,
			MirrorKnown: true, MirrorCachedTokens: 512, Why: "most cached blocks"}}
		up <- live.Update{Record: &live.Record{Index: pick[1], Status: live.TimedOut, Worker: 0, Routed: 2, Attempts: 2,
			Failures: []string{"stalled", "timed out"}, Reason: "request timeout"}}
		return &live.Result{Counts: live.Counts{Requests: 3, Completed: 1, TimedOut: 1, Cancelled: 1, Interrupted: true}, DurationS: 2}, nil
	}
	m := newDone(t, cfg, 120, 40)
	press(m, fmt.Sprint(paneRequest+1), "z")
	mr := m.s.selected().data.(*memRun)
	ts, req := mr.arrivals, mr.reqAt
	show := func(i int) string {
		for j, x := range req {
			if int(x) == i {
				m.s.cursor = ts[j]
			}
		}
		if got := m.s.requestAtCursor(); got != i {
			t.Fatalf("cursor on request %d, want %d", got, i)
		}
		v := plain(m)
		return strings.Join(strings.Fields(strings.ReplaceAll(v, "┃", " ")), " ")
	}
	for i, want := range []string{
		"L live · completed on w1 · cached 512/1024 tokens (0.500), model 480, true cache 512 · TTFT 40.0 ms from send, 45.0 ms from arrival",
		"L live · timed_out on w0: request timeout · 2 attempts (stalled, timed out) · routed to w2",
		"L live · no record (not sent)",
	} {
		if out := show(pick[i]); !strings.Contains(out, want) {
			t.Errorf("request %d: pane lacks %q:\n%s", pick[i], want, out)
		}
	}
	if out := show(pick[0]); !strings.Contains(out, "E2E 600.0 ms · ended at 700.0 ms · sent 5.0 ms after its arrival") || !strings.Contains(out, "why: most cached blocks") {
		t.Errorf("request 0: no lag or why:\n%s", out)
	}
}
