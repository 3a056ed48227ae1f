package sim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/route"
)

// TestPanicBecomesError: a panic inside a replay (here the router's, on
// request 3, injected with KVSCOPE_DEBUG=panic_at=3) comes back from
// Simulate as an *InternalError naming the canonical scenario and the
// request, for every router; the stack is kept, and printed only with
// KVSCOPE_DEBUG=stack.
func TestPanicBecomesError(t *testing.T) {
	tr := mkTrace(t, 4, time.Millisecond, 1, []uint64{1}, []uint64{1, 2}, []uint64{3}, []uint64{1, 2, 4}, []uint64{5})
	t.Setenv(DebugEnv, "panic_at=3")
	for _, name := range route.Names() {
		sc := mustScenario(t, name+"+lru;cache_blocks=10;workers=2")
		canon, err := Resolve(sc)
		if err != nil {
			t.Fatal(err)
		}
		run, err := Simulate(context.Background(), tr, sc, Options{})
		var ie *InternalError
		if !errors.As(err, &ie) || run != nil {
			t.Fatalf("%s: got %v, %v; want an InternalError", name, run, err)
		}
		if ie.Scenario != canon || ie.Request != 3 || ie.Source != "test:3" || ie.At != 3*time.Millisecond || len(ie.Stack) == 0 {
			t.Fatalf("%s: %+v", name, ie)
		}
		want := `scenario "` + canon + `": request 3 (test:3) at 0.003 s: internal error: KVSCOPE_DEBUG=panic_at=3: injected panic in the router (set KVSCOPE_DEBUG=stack for the stack trace)`
		if err.Error() != want {
			t.Fatalf("got  %s\nwant %s", err, want)
		}
	}
	t.Setenv(DebugEnv, "stack,panic_at=0")
	_, err := Simulate(context.Background(), tr, mustScenario(t, "lbgr+lru;cache_blocks=10"), Options{})
	if err == nil || !strings.Contains(err.Error(), "request 0 (test:0) at 0 s: internal error") || !strings.Contains(err.Error(), "\ngoroutine ") {
		t.Fatalf("with stack: %v", err)
	}
	// A request index past the trace panics nowhere.
	t.Setenv(DebugEnv, "panic_at=99")
	if _, err := Simulate(context.Background(), tr, mustScenario(t, "lbgr+lru;cache_blocks=10"), Options{}); err != nil {
		t.Fatal(err)
	}
}

// panicModel panics in its n-th iteration.
type panicModel struct{ n *int }

func (m panicModel) Iteration([]Chunk, []int) time.Duration {
	if *m.n--; *m.n == 0 {
		panic("iteration model broke")
	}
	return time.Millisecond
}

// TestPanicOutsideRouting: a panic elsewhere in the event loop (an engine
// iteration, started while request 1 is admitted) names that request too.
func TestPanicOutsideRouting(t *testing.T) {
	tr := mkTrace(t, 4, time.Second, 2, []uint64{1}, []uint64{2})
	n := 3 // prefill of 0, its decode, then the prefill of 1
	_, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;cache_blocks=10;latency=engine;profile=h200-llama-3.1-8b-hf"),
		Options{iterModel: panicModel{&n}})
	var ie *InternalError
	if !errors.As(err, &ie) || ie.Request != 1 || !strings.Contains(err.Error(), "request 1 (test:1) at 1 s: internal error: iteration model broke") {
		t.Fatalf("got %v", err)
	}
}

func TestRecovered(t *testing.T) {
	t.Setenv(DebugEnv, "")
	e := Recovered("a+b", "boom")
	if got, want := e.Error(), `scenario "a+b": internal error: boom (set KVSCOPE_DEBUG=stack for the stack trace)`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if e.Brief() != "internal error: boom" || e.Request != -1 || len(e.Stack) == 0 {
		t.Fatalf("%+v", e)
	}
}
