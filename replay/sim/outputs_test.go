package sim

import (
	"context"
	"reflect"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/gen"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
)

func multiturn(t testing.TB, clients int, outLen int) *trace.Trace {
	t.Helper()
	g := gen.DefaultMultiturn()
	g.Clients, g.Turns, g.UserLen, g.OutputLen, g.Rate, g.Seed = clients, []int{4}, 64, outLen, 2, 1
	tr, _ := tracetest.Generate(t, &g, trace.FormatNative, "multiturn")
	return tr
}

// TestKeepOutputs: with keep_outputs a next turn hits the previous turn's
// reply, so every later turn hits at least as much as without, and strictly
// more in total; the invariants hold in both units and both timings.
func TestKeepOutputs(t *testing.T) {
	tr := multiturn(t, 6, 40)
	for _, base := range []string{
		"round_robin+lru;workers=1;cache_blocks=400",
		"round_robin+rlt;workers=1;cache_tokens=6400",
		"consistent_hash+lru;workers=2;cache_blocks=400;session_timing=closed",
	} {
		t.Run(base, func(t *testing.T) {
			off, err := Simulate(context.Background(), tr, mustScenario(t, base), Options{})
			if err != nil {
				t.Fatal(err)
			}
			on, err := Simulate(context.Background(), tr, mustScenario(t, base+";keep_outputs=true"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkRun(t, tr, on)
			var hOff, hOn int64
			for i := range tr.Requests {
				a, b := off.Records[i].HitTokens, on.Records[i].HitTokens
				hOff += int64(a)
				hOn += int64(b)
				if tr.Requests[i].Turn == 1 && b != 0 {
					t.Fatalf("first turn %d hit %d tokens", i, b)
				}
			}
			// 6 clients × 3 later turns each reuse at least one full block
			// of the previous reply (40 output tokens, 16-token blocks).
			if hOn < hOff+6*3*16 {
				t.Fatalf("keep_outputs hit %d tokens, without %d: want at least %d more", hOn, hOff, 6*3*16)
			}
		})
	}
}

// TestClosedSessionTiming: a turn is released think_s after its parent
// completes, whatever the trace's timestamp says.
func TestClosedSessionTiming(t *testing.T) {
	tr := multiturn(t, 3, 8)
	run, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;workers=2;cache_blocks=400;session_timing=closed;latency=linear:miss_ms=5"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, tr, run)
	byID := map[int64]int{}
	for i := range tr.Requests {
		byID[tr.Requests[i].ID] = i
	}
	n := 0
	for i := range tr.Requests {
		r := &tr.Requests[i]
		if r.Parent == trace.NoParent {
			continue
		}
		p := run.Records[byID[r.Parent]]
		want := p.Done + secondsToDuration(r.ThinkS)
		if run.Records[i].Arrival != want {
			t.Fatalf("turn %d arrived at %v, want parent done %v + think %vs", i, run.Records[i].Arrival, p.Done, r.ThinkS)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no dependent turns tested")
	}
}

// TestRequestDetailChangesNothingElse: recording every worker's score and
// cached prefix per request (the explorer's request pane) leaves every other
// figure of the run as it is, and fills both tables; without it they are nil.
func TestRequestDetailChangesNothingElse(t *testing.T) {
	tr := multiturn(t, 12, 8)
	for _, s := range []string{
		"cache_aware+lru;workers=3;cache_blocks=300",
		"lbgr+rlt;workers=3;cache_blocks=300",
		"round_robin+lru;workers=2;profile=h100-sxm-llama-2-7b;latency=vllm",
	} {
		t.Run(s, func(t *testing.T) {
			plain, err := Simulate(context.Background(), tr, mustScenario(t, s), Options{})
			if err != nil {
				t.Fatal(err)
			}
			detail, err := Simulate(context.Background(), tr, mustScenario(t, s), Options{RequestDetail: true})
			if err != nil {
				t.Fatal(err)
			}
			if plain.Scores != nil || plain.Matches != nil || plain.RequestScores(0) != nil {
				t.Fatal("a run without RequestDetail kept scores or matches")
			}
			if got, want := len(detail.Matches), len(tr.Requests)*detail.Workers; got != want || len(detail.Scores) != want {
				t.Fatalf("%d matches recorded, want %d", got, want)
			}
			some := false
			for _, m := range detail.Matches {
				some = some || m > 0
			}
			if !some {
				t.Fatal("no worker ever had a cached prefix at arrival: the test trace shares nothing")
			}
			detail.Scores, detail.Matches = nil, nil
			if !reflect.DeepEqual(plain, detail) {
				t.Fatal("RequestDetail changed the run beyond its two tables")
			}
		})
	}
}
