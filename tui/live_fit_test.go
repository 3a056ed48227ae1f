package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/trace"
)

// liveFitRun is a live hook with wide figures (four-digit counts, a long
// https URL, cancelled requests): one snapshot, then the end.
func liveFitRun(end bool) LiveFunc {
	return func(_ context.Context, _ *trace.Trace, up chan<- live.Update) (*live.Result, error) {
		up <- live.Update{Snapshot: &live.Snapshot{Elapsed: 61500 * time.Millisecond, Dispatched: 4321, Finished: 4000, Total: 12031,
			Workers: []live.WorkerSnapshot{
				{Worker: 0, Healthy: true, InFlight: 64, Completed: 1999, Failed: 12, HitRatio: 0.4375, HasUsage: true, Usage: 0.93, HasQueue: true, Waiting: 1234},
				{Worker: 1, Healthy: false, InFlight: 0, Completed: 1989, Failed: 345, HitRatio: 0.25},
			}}}
		if !end {
			return nil, fmt.Errorf("live: worker 1 (https://inference-gateway.example.internal:8443/v1/pool-b): connection refused")
		}
		url := "https://inference-gateway.example.internal:8443/serving/pool-a/replica-0/with/a/long/prefix"
		return &live.Result{Counts: live.Counts{Requests: 12031, Completed: 11000, Failed: 357, TimedOut: 12, Cancelled: 662, Sent: 11500, Interrupted: true}, DurationS: 95.25,
			Workers: []live.WorkerResult{
				{Worker: 0, URL: url, Completed: 5600, Failed: 12, HitRatio: 0.4375, ModelHitRatio: 0.4402, Healthy: true},
				{Worker: 1, URL: "http://127.0.0.1:8001", Completed: 5400, Failed: 345, HitRatio: 0.25, ModelHitRatio: 0.2513},
			}}, fmt.Errorf("live: run cancelled: %w", context.Canceled)
	}
}

// The live lines fit the workers pane at 80 and 120 columns, zoomed or
// not: wrapped under their first figure, a long URL broken across lines,
// nothing cut (every figure is on screen). Refresh with -update.
func TestLiveLinesFit(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	for _, sz := range [][2]int{{80, 40}, {120, 40}} {
		for _, end := range []bool{false, true} {
			for _, zoom := range []bool{false, true} {
				name := fmt.Sprintf("%dx%d_%s_%s", sz[0], sz[1], map[bool]string{false: "failed", true: "ended"}[end], map[bool]string{false: "pane", true: "zoomed"}[zoom])
				t.Run(name, func(t *testing.T) {
					cfg := smallConfig(t, 100)
					cfg.Live = liveFitRun(end)
					m := newDone(t, cfg, sz[0], sz[1])
					press(m, "3")
					if zoom {
						press(m, "z")
					}
					pane := ansi.Strip(m.panes[paneWorkers].View())
					out := plain(m)
					checkFrame(t, out, sz[0], sz[1])
					flat := strings.Join(strings.Fields(strings.ReplaceAll(pane, "┃", " ")), " ")
					var want []string
					if end {
						want = []string{"interrupted after 1.59 min", "12031 requests: 11000 completed, 357 failed, 12 timed out, 662 cancelled (11500 sent)",
							"done 5600", "failed 12", "hit 0.438 (model 0.440)", "w1 down", "http://127.0.0.1:8001"}
					} else {
						want = []string{"connection refused", "1.02 min", "4000/12031 finished (0 not completed)", "4321 sent",
							"in flight 64", "done 1999", "failed 12", "hit 0.438", "usage 0.93", "waiting 1.2k", "w1 down", "usage –", "waiting –"}
					}
					for _, s := range want {
						if !strings.Contains(flat, s) {
							t.Errorf("workers pane lacks %q:\n%s", s, pane)
						}
					}
					if end && !strings.Contains(strings.ReplaceAll(strings.ReplaceAll(pane, "┃", ""), " ", ""), "with/a/long/prefix") {
						t.Errorf("the long URL is cut:\n%s", pane)
					}
					// The golden holds the pane's top edge and its live lines,
					// up to the first scenario's header (the modeled rows below
					// follow open's defaults, not this test).
					var live []string
					for _, l := range strings.Split(pane, "\n") {
						if strings.HasPrefix(l, "┃A ") || strings.HasPrefix(l, "│A ") {
							break
						}
						live = append(live, l)
					}
					golden.RequireEqual(t, strings.Join(live, "\n"))
				})
			}
		}
	}
}
