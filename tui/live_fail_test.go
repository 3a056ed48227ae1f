package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/trace"
)

// liveScreen runs the explorer with the live hook f to its end and returns
// the workers pane, zoomed, and the status line as plain text.
func liveScreen(t *testing.T, f LiveFunc) string {
	t.Helper()
	cfg := smallConfig(t, 100)
	cfg.Live = f
	m := newDone(t, cfg, 120, 40)
	press(m, "3", "z")
	return plain(m)
}

// A panic in the live run (which the driver turns into a *live.PanicError)
// shows as a readable failure: the error wrapped in the workers pane, the
// last snapshot below it, "live failed" and the error on the status line.
func TestLivePanicShownAsFailure(t *testing.T) {
	pe := &live.PanicError{Router: "cache_aware", ModelEvict: "server_lru", Request: 17, Where: "serving",
		Value: "runtime error: index out of range [3] with length 2"}
	out := liveScreen(t, func(_ context.Context, _ *trace.Trace, up chan<- live.Update) (*live.Result, error) {
		up <- live.Update{Snapshot: &live.Snapshot{Dispatched: 18, Finished: 16, Total: 40,
			Workers: []live.WorkerSnapshot{{Worker: 0, Healthy: true, InFlight: 2, Completed: 16}}}}
		return nil, pe
	})
	flat := strings.Join(strings.Fields(strings.ReplaceAll(out, "┃", " ")), " ")
	for _, want := range []string{
		"L live workers · failed: live run (router cache_aware, model eviction server_lru): internal error (panic) serving request 17:",
		"index out of range [3] with length 2", "last snapshot: · 0 s · 16/40 finished", "w0 up in flight 2",
		"live failed",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("screen lacks %q:\n%s", want, out)
		}
	}
}

// A hook that panics itself (outside the driver) is a failure on screen,
// not a crash of the explorer.
func TestLiveHookPanicRecovered(t *testing.T) {
	out := liveScreen(t, func(context.Context, *trace.Trace, chan<- live.Update) (*live.Result, error) {
		var m map[string]int
		m["x"]++ // assignment to entry in nil map
		return nil, nil
	})
	flat := strings.Join(strings.Fields(strings.ReplaceAll(out, "┃", " ")), " ")
	if !strings.Contains(flat, "failed: live: internal error (panic): assignment to entry in nil map") || !strings.Contains(flat, "live failed") {
		t.Errorf("screen:\n%s", out)
	}
}

// An interrupted run (the driver returns the result of what was sent and
// an error wrapping context.Canceled) shows as interrupted, with its
// cancelled requests, not as a failure nor as a clean end.
func TestLiveInterruptedShown(t *testing.T) {
	out := liveScreen(t, func(context.Context, *trace.Trace, chan<- live.Update) (*live.Result, error) {
		res := &live.Result{Counts: live.Counts{Requests: 10, Completed: 3, Cancelled: 7, Sent: 5, Interrupted: true}, DurationS: 1,
			Workers: []live.WorkerResult{{Worker: 0, URL: "http://w0", Completed: 3, Healthy: true}}}
		return res, fmt.Errorf("live: run cancelled: %w", context.Canceled)
	})
	for _, want := range []string{"interrupted after 1.00 s · 10 requests: 3 completed, 0 failed, 0 timed out, 7 cancelled (5 sent)",
		"live interrupted", "7 cancelled (interrupted)"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "live failed") || strings.Contains(out, "live ✓") {
		t.Errorf("an interrupted run is neither failed nor clean:\n%s", out)
	}
}
