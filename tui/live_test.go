package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/trace"
)

// TestLiveHook: the explorer runs the live driver hook in the background
// and shows its snapshots and its end.
func TestLiveHook(t *testing.T) {
	cfg := smallConfig(t, 100)
	var gotCtx bool
	cfg.Live = func(ctx context.Context, _ *trace.Trace, up chan<- live.Update) (*live.Result, error) {
		gotCtx = ctx != nil
		up <- live.Update{Snapshot: &live.Snapshot{Elapsed: 1500 * time.Millisecond, Dispatched: 3, Finished: 2, Total: 5,
			Workers: []live.WorkerSnapshot{{Worker: 0, Healthy: true, InFlight: 1, Completed: 2, HitRatio: 0.25},
				{Worker: 1, Healthy: false, Failed: 1, HasQueue: true, Waiting: 4}}}}
		up <- live.Update{Record: &live.Record{Index: 0, Status: live.Completed}}
		up <- live.Update{Record: &live.Record{Index: 1, Status: live.Failed}}
		return &live.Result{Counts: live.Counts{Requests: 5, Completed: 4, Failed: 1}, DurationS: 2,
			Workers: []live.WorkerResult{{Worker: 0, URL: "http://w0", Completed: 4, HitRatio: 0.5, ModelHitRatio: 0.4, Healthy: true}}}, nil
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	press(m, "3", "z") // workers, zoomed: the live lines are wide
	// Run the hook's stream by hand: the snapshot first.
	cmd := liveCmd(m.ctx, m.s.tr, cfg.Live)
	m.s.live = &liveState{running: true}
	msg := cmd()
	_, next := m.Update(msg)
	out := plain(m)
	for _, want := range []string{"L live workers · 1.50 s · 2/5 finished (0 not completed) · 3 sent",
		"w0  up   in flight 1", "hit 0.250", "w1  down", "waiting 4", "live 2/5"} {
		if !strings.Contains(out, want) {
			t.Errorf("during the run, screen lacks %q", want)
		}
	}
	drive(t, m, next)
	out = plain(m)
	for _, want := range []string{"ended after 2.00 s · 5 requests: 4 completed, 1 failed", "w0  up   done 4", "hit 0.500 (model 0.400)",
		"live ✓", "live: 5 requests: 4 completed, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("after the run, screen lacks %q", want)
		}
	}
	if !gotCtx || m.s.live.records != 2 || m.s.live.failed != 1 {
		t.Errorf("live state %+v", m.s.live)
	}
	cfg.Live = func(context.Context, *trace.Trace, chan<- live.Update) (*live.Result, error) {
		return nil, errors.New("no worker answered")
	}
	m = newDone(t, cfg, 120, 40)
	if out := plain(m); !strings.Contains(out, "live failed") || !strings.Contains(out, "no worker answered") {
		t.Error("live failure not shown")
	}
}
