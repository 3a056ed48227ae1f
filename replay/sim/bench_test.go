package sim

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/gen"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
)

func loadMooncake(b *testing.B) *trace.Trace {
	b.Helper()
	tr, err := trace.Load(filepath.Join(testenv.SharedTraces(b), "mooncake", "conversation_trace.jsonl"), trace.ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return tr
}

// BenchmarkSimulate is issue 4's throughput target: the Mooncake
// conversation trace, 8 workers, 4,000 blocks each, linear model defaults.
// It reports simulated requests/s and the ratio to the hit-only replay
// (`kvscope replay`, round_robin+lru) measured in the same benchmark.
func BenchmarkSimulate(b *testing.B) {
	tr := loadMooncake(b)
	hitOnly := func() time.Duration {
		st := time.Now()
		_, err := seq.Run(tr, seq.Config{Workers: 8, Router: param.Spec{Name: "round_robin"}, Evict: param.Spec{Name: "lru"},
			Unit: kvcache.Blocks, Capacity: 4000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(st)
	}
	for _, s := range []string{"cache_aware+lru", "lbgr+rlt", "round_robin+lru"} {
		b.Run(s, func(b *testing.B) {
			sc := mustScenario(b, s+";workers=8;cache_blocks=4000")
			var sim, ho time.Duration
			for b.Loop() {
				st := time.Now()
				if _, err := Simulate(context.Background(), tr, sc, Options{}); err != nil {
					b.Fatal(err)
				}
				sim += time.Since(st)
				b.StopTimer()
				ho += hitOnly()
				b.StartTimer()
			}
			n := float64(b.N * len(tr.Requests))
			b.ReportMetric(n/sim.Seconds(), "requests/s")
			b.ReportMetric(sim.Seconds()/ho.Seconds(), "x_hit_only_time")
		})
	}
}

// gsp100k is issue 4's StateAt workload: `kvscope gen gsp --groups 1000
// --prompts-per-group 100 --total-lens 512,1024 --seed 1`.
func gsp100k(b *testing.B) *trace.Trace {
	b.Helper()
	g := gen.DefaultGSP()
	g.Groups, g.PromptsPerGroup, g.TotalLens, g.Seed = 1000, 100, []int{512, 1024}, 1
	tr, _ := tracetest.Generate(b, &g, trace.FormatNative, "gsp100k")
	return tr
}

// BenchmarkStateAt is issue 4's scrubbing target: StateAt at random times
// of an 8-worker run of 100,000 requests (p99 under 5 ms), and the run's
// memory per request, checkpoints included (under 1 KiB).
func BenchmarkStateAt(b *testing.B) {
	tr := gsp100k(b)
	sc := mustScenario(b, "lbgr+rlt;workers=8;cache_tokens=200000")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	run, err := Simulate(context.Background(), tr, sc, Options{})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perReq := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(tr.Requests))
	rnd := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	for b.Loop() {
		t := run.Start + time.Duration(rnd.Int64N(int64(run.End-run.Start)+1))
		st := time.Now()
		s := run.StateAt(t)
		lat = append(lat, time.Since(st))
		if len(s.Workers) != 8 {
			b.Fatal("wrong worker count")
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[(len(lat)*99+99)/100-1].Microseconds()), "p99_us")
	b.ReportMetric(perReq, "run_bytes/request")
	runtime.KeepAlive(run)
}

// BenchmarkStreamSinks is the cost of spilling a streamed run (CreateSpill:
// its records, event log, samples and router loads): the Mooncake
// conversation trace streamed from disk, 8 workers of 4,000 blocks, with
// the spill's sinks writing a spilled run, against the same run without
// sinks, measured in the same benchmark. It reports the ratio of the two times, the bytes
// spilled per request and the time the writers' Close takes (committing
// the files: flush, fsync, rename), part of the sinks' time. Sub-benchmark
// detail also writes the detail file (SpillWriter.Detail: every worker's
// router score and true cached prefix per request, one cache match per
// worker per request), as the streamed explorer does.
func BenchmarkStreamSinks(b *testing.B) {
	for _, detail := range []bool{false, true} {
		name := "spill"
		if detail {
			name = "spill+detail"
		}
		b.Run(name, func(b *testing.B) { benchStreamSinks(b, detail) })
	}
}

func benchStreamSinks(b *testing.B, detail bool) {
	path := filepath.Join(testenv.SharedTraces(b), "mooncake", "conversation_trace.jsonl")
	sc := mustScenario(b, "cache_aware+lru;workers=8;cache_blocks=4000")
	dir := b.TempDir()
	stream := func(opt StreamOptions) (time.Duration, int) {
		s, err := trace.Open(path, trace.ReadOptions{KeepIDs: true})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		st := time.Now()
		run, err := SimulateStream(context.Background(), s, sc, opt)
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(st), run.Requests
	}
	var with, bare, closing time.Duration
	var reqs int
	var spilled int64
	for b.Loop() {
		os.RemoveAll(dir)
		w, err := CreateSpill(dir, sc)
		if err != nil {
			b.Fatal(err)
		}
		var opt StreamOptions
		w.Hook(&opt)
		if detail {
			if err := w.Detail(&opt); err != nil {
				b.Fatal(err)
			}
		}
		var fin *Run
		opt.OnEnd = func(r *Run) { fin = r }
		st := time.Now()
		_, n := stream(opt)
		cl := time.Now()
		if err := w.Close(fin); err != nil {
			b.Fatal(err)
		}
		with += time.Since(st)
		closing += time.Since(cl)
		reqs += n
		b.StopTimer()
		d, _ := stream(StreamOptions{})
		bare += d
		spilled = 0
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				spilled += fi.Size()
			}
			return nil
		})
		b.StartTimer()
	}
	b.ReportMetric(float64(reqs)/with.Seconds(), "requests/s")
	b.ReportMetric(with.Seconds()/bare.Seconds(), "x_no_sinks_time")
	b.ReportMetric(float64(spilled)/float64(reqs/b.N), "spill_bytes/request")
	b.ReportMetric(closing.Seconds()*1e3/float64(b.N), "close_ms")
}
