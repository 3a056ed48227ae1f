package analysis

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/gen"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
)

// multiturn generates a multiturn trace of clients conversations (five
// requests each on average) in kvscope's native format.
func multiturn(b *testing.B, clients int) []byte {
	p := gen.DefaultMultiturn()
	p.Clients = clients
	_, data := tracetest.Generate(b, &p, trace.FormatNative, "bench")
	return data
}

func benchScenario(b *testing.B, s string) scenario.Scenario {
	sc, err := scenario.Parse(s, scenario.Default(param.Spec{}, param.Spec{}))
	if err != nil {
		b.Fatal(err)
	}
	return sc
}

// runStreamed is `kvscope run` on data, streamed: reading and parsing
// included.
func runStreamed(b *testing.B, data []byte, sc scenario.Scenario, idLimit int) RunMetrics {
	s, err := trace.OpenReader("bench", bytes.NewReader(data), trace.ReadOptions{KeepIDs: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m, err := SummaryStream(context.Background(), s, sc, sim.StreamOptions{IDLimit: idLimit}, NewTally(sc.Workers))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// Whole-process `kvscope run` of a 10k-request multiturn trace under
// cache_aware+lru, 8 workers of 4,000 blocks: streamed (SummaryStream,
// what the command does) against loading the trace and simulating it
// whole (Simulate + Summary, what it did before). Same figures.
// go test ./analysis -run '^$' -bench 'RunMultiturn' -benchmem
func BenchmarkRunMultiturnStreamed(b *testing.B) {
	data := multiturn(b, 2000)
	sc := benchScenario(b, "cache_aware+lru;workers=8;cache_blocks=4000")
	n := 0
	for b.Loop() {
		n += runStreamed(b, data, sc, 0).Requests
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "requests/s")
}

func BenchmarkRunMultiturnWhole(b *testing.B) {
	data := multiturn(b, 2000)
	sc := benchScenario(b, "cache_aware+lru;workers=8;cache_blocks=4000")
	n := 0
	for b.Loop() {
		tr, err := trace.LoadBytes("bench", data, trace.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		run, err := sim.Simulate(context.Background(), tr, sc, sim.Options{})
		if err != nil {
			b.Fatal(err)
		}
		n += Summary(tr, run, sc).Requests
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkRunStreamLinearity measures a streamed run's time per request
// on a trace ten times as long as a baseline, in the same iteration, and
// reports their ratio (per-request-10x, 1 = linear; issue 18 asks for
// within 1.2). The scenario keeps up with its arrivals, trims its routing
// history from the start (a small max_tree_size) and recycles block ids
// from 65,536 on, so both runs are in steady state: the issue's own scenario is overloaded (its queue,
// hence memory and work per request, grows with the trace) and its trees
// first trim past 500k requests (BENCHMARKS.md, "Streamed simulation").
// go test ./analysis -run '^$' -bench RunStreamLinearity -benchtime 3x
func BenchmarkRunStreamLinearity(b *testing.B) {
	small, large := multiturn(b, 1000), multiturn(b, 10000)
	sc := benchScenario(b, "cache_aware:max_tree_size=262144,eviction_interval_s=30+lru;workers=8;cache_blocks=4000;time_scale=4")
	var ts, tl time.Duration
	var ns, nl int
	for b.Loop() {
		t0 := time.Now()
		ns += runStreamed(b, small, sc, 1<<16).Requests
		t1 := time.Now()
		nl += runStreamed(b, large, sc, 1<<16).Requests
		ts, tl = ts+t1.Sub(t0), tl+time.Since(t1)
	}
	b.ReportMetric((tl.Seconds()/float64(nl))/(ts.Seconds()/float64(ns)), "per-request-10x")
}
