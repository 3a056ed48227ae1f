package sim

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

func TestDurationOf(t *testing.T) {
	for _, c := range []struct {
		ns   float64
		want time.Duration
	}{
		{0, 0},
		{1.5, 2},
		{-1.5, -2},
		{1e18, 1e18},
		{math.MaxInt64, math.MaxInt64},
		{1e300, math.MaxInt64},
		{math.Inf(1), math.MaxInt64},
		{math.NaN(), math.MaxInt64},
		{-1e300, math.MinInt64},
	} {
		if got := durationOf(c.ns); got != c.want {
			t.Errorf("durationOf(%g) = %d, want %d", c.ns, got, c.want)
		}
	}
	if got := ms(2.1e15); got != math.MaxInt64 {
		t.Errorf("ms(2.1e15) = %d, want saturation", got)
	}
}

// simErr runs sc on tr and returns the error, failing if there is none.
func simErr(t *testing.T, tr *trace.Trace, s string) string {
	t.Helper()
	_, err := Simulate(context.Background(), tr, mustScenario(t, s), Options{})
	if err == nil {
		t.Fatalf("%s: no error", s)
	}
	var ie *InternalError
	if errors.As(err, &ie) {
		t.Fatalf("%s: a panic: %v", s, err)
	}
	return err.Error()
}

func wantAll(t *testing.T, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q lacks %q", msg, p)
		}
	}
}

// TestTimeScaleLimit: time_scale × the trace's span past MaxTime is
// refused naming time_scale, the span and the limit; 1e6 on a 669 s trace
// (the embedded sample's span) runs.
func TestTimeScaleLimit(t *testing.T) {
	tr := mkTrace(t, 4, 669*time.Second, 1, []uint64{1}, []uint64{2})
	msg := simErr(t, tr, "round_robin+lru;cache_blocks=10;time_scale=1e9")
	wantAll(t, msg, "time_scale=1e9", "span 669 s", "test:1", "6.69e+11 s", "limit of 4e9 s", "time_scale up to 5.97e6")

	run, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;cache_blocks=10;time_scale=1e6"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Records[1].Arrival; got != 669e6*time.Second {
		t.Fatalf("arrival %v", got)
	}
	// The suggested largest time_scale does run.
	if _, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;cache_blocks=10;time_scale=5.97e6"), Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimit(t *testing.T) {
	tr := mkTrace(t, 4, time.Second, 1, []uint64{1}, []uint64{2}, []uint64{3}, []uint64{4}, []uint64{5})
	msg := simErr(t, tr, "round_robin+lru;cache_blocks=10;rate=1e-12")
	wantAll(t, msg, "rate=1e-12", "re-timed arrivals reach", "by request 1 of 5", "limit of 4e9 s")
}

// closedTrace chains n turns after a root at 0, each thinking think s.
func closedTrace(t *testing.T, n int, think float64) *trace.Trace {
	chains := make([][]uint64, n+1)
	for i := range chains {
		chains[i] = []uint64{uint64(i + 1)}
	}
	tr := mkTrace(t, 4, 0, 1, chains...)
	for i := 1; i <= n; i++ {
		tr.Requests[i].Parent, tr.Requests[i].ThinkS = int64(i-1), think
	}
	return tr
}

// TestThinkChainLimit: with session_timing=closed the think times along a
// chain add up; past MaxTime the run is refused naming the turn, think_s
// and the limit. Within it, every turn is released exactly think_s after
// its parent ends.
func TestThinkChainLimit(t *testing.T) {
	msg := simErr(t, closedTrace(t, 5, 1e9), "lbgr+lru;cache_blocks=10;session_timing=closed")
	wantAll(t, msg, "test:5: think_s:", "no earlier than 5e+09 s", "5 think times", "limit of 4e9 s")
	// Open timing ignores think times.
	if _, err := Simulate(context.Background(), closedTrace(t, 5, 1e9), mustScenario(t, "lbgr+lru;cache_blocks=10"), Options{}); err != nil {
		t.Fatal(err)
	}
	tr := closedTrace(t, 3, 1e9)
	// Not lbgr nor llmd: their per-instant loops make years of simulated
	// time slow (see FuzzSimulateClosed).
	for _, r := range []string{"round_robin", "least_load", "cache_aware", "dynamo"} {
		run, err := Simulate(context.Background(), tr, mustScenario(t, r+"+lru;cache_blocks=10;session_timing=closed"), Options{})
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		checkRun(t, tr, run)
		checkClosed(t, tr, run)
		if run.End < 3e9*time.Second {
			t.Fatalf("%s: ends at %v", r, run.End)
		}
	}
}

func TestParentLoopRefused(t *testing.T) {
	tr := closedTrace(t, 2, 1)
	tr.Requests[1].Parent = 2 // 1 → 2 → 1
	msg := simErr(t, tr, "round_robin+lru;cache_blocks=10;session_timing=closed")
	wantAll(t, msg, "test:1: parent: request id 1's chain of parents (id 2, …) loops back")
}

// TestServiceLimit: the linear model's service times count; a huge input
// at a slow model is refused up front, naming the latency model.
func TestServiceLimit(t *testing.T) {
	tr := mkTrace(t, 4, 0, 1, []uint64{1})
	tr.Requests[0].Input = math.MaxInt32
	msg := simErr(t, tr, "round_robin+lru;cache_blocks=10;oversize=bypass;latency=linear:miss_ms=1e6")
	wantAll(t, msg, "latency linear:miss_ms=1e6", "service times add up to as much as 2.14748e+12 s", "limit of 4e9 s")
}

// hugeModel is an iteration model whose durations overflow or stay
// within range.
type hugeModel struct{ d time.Duration }

func (m hugeModel) Iteration([]Chunk, []int) time.Duration { return m.d }

// TestEngineGuard: the engine model's iteration times are checked as
// they are scheduled; an overflowed (negative) or too long one stops the
// run with an error naming the worker and the limit.
func TestEngineGuard(t *testing.T) {
	tr := mkTrace(t, 4, time.Second, 2, []uint64{1}, []uint64{2})
	sc := mustScenario(t, "round_robin+lru;cache_blocks=10;latency=engine;profile=h200-llama-3.1-8b-hf")
	for _, d := range []time.Duration{math.MinInt64, -1, math.MaxInt64, MaxTime} {
		_, err := Simulate(context.Background(), tr, sc, Options{iterModel: hugeModel{d}})
		if err == nil {
			t.Fatalf("iteration %d: no error", d)
		}
		wantAll(t, err.Error(), "worker 0: an iteration from ", "past the simulator's limit of 4e9 s")
	}
	if _, err := Simulate(context.Background(), tr, sc, Options{iterModel: hugeModel{time.Hour}}); err != nil {
		t.Fatal(err)
	}
}
