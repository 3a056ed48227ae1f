package tui

import (
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/sim"
)

// TestReplayPanicIsAFailure: a panic inside a scenario's replay (injected
// in the router on request 5 through KVSCOPE_DEBUG) does not take the
// explorer down: the replay job ends with the recovered error, and the
// scenario shows as failed with the message naming the scenario and the
// request, like any other failure.
func TestReplayPanicIsAFailure(t *testing.T) {
	t.Setenv(sim.DebugEnv, "panic_at=5")
	m := newDone(t, smallConfig(t, 100), 200, 60)
	for i, sl := range m.s.slots {
		if sl.state != slotFailed {
			t.Fatalf("slot %d state %v, want failed", i, sl.state)
		}
		msg := sl.err.Error()
		if !strings.Contains(msg, "request 5 (sample-head:6)") || !strings.Contains(msg, "internal error: KVSCOPE_DEBUG=panic_at=5: injected panic in the router") {
			t.Fatalf("slot %d: %s", i, msg)
		}
	}
	out := plain(m)
	for _, want := range []string{"[A] failed", "B failed",
		"failed: request 5 (sample-head:6) at 0 s: internal error", "B failed: request 5 (sample-head:6) at 0 s",
		"internal error: KVSCOPE_DEBUG=panic_at=5: injected panic in the router"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
}
