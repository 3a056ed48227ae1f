//go:build unix

package analysis

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
)

// processCPU is the process's user+system CPU time (getrusage, all
// threads).
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCompare runs the fixed comparison (the Mooncake
// conversation trace; lbgr and cache_aware × rlt and lru; 8 workers of
// 4000 blocks; linear model at 0.15 ms per missed token) with n seeds and
// reports the replay stage's CPU time / wall time, which shows whether the
// runs spread over the cores.
func benchCompare(b *testing.B, seeds int) {
	dir := testenv.SharedTraces(b)
	tr, err := trace.Load(filepath.Join(dir, "mooncake", "conversation_trace.jsonl"), trace.ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	base := scenario.Default(param.Spec{}, param.Spec{})
	for _, kv := range [][2]string{{"workers", "8"}, {"cache_blocks", "4000"}, {"latency", "linear:miss_ms=0.15"}} {
		if err := base.Set(kv[0], kv[1]); err != nil {
			b.Fatal(err)
		}
	}
	var es []Entry
	for _, s := range []string{"lbgr+rlt", "lbgr+lru", "cache_aware+rlt", "cache_aware+lru"} {
		sc, err := scenario.Parse(s, base)
		if err != nil {
			b.Fatal(err)
		}
		es = append(es, Entry{Label: s, Scenario: sc})
	}
	var wall, cpu time.Duration
	runs := 0
	for b.Loop() {
		c0, t0 := processCPU(b), time.Now()
		cmp, err := Compare(context.Background(), tr, es, CompareOptions{Seeds: seeds})
		if err != nil {
			b.Fatal(err)
		}
		wall += time.Since(t0)
		cpu += processCPU(b) - c0
		runs += cmp.Timing.Runs
		for _, s := range cmp.Scenarios {
			if !s.OK() {
				b.Fatalf("%s: %s", s.Label, s.Error)
			}
		}
	}
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu/wall")
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/op")
	b.ReportMetric(float64(runs)/wall.Seconds(), "runs/s")
}

// BenchmarkCompareFixed is the fixed command's replay stage
// (--seeds 5: 5+1+5+1 runs).
func BenchmarkCompareFixed(b *testing.B) { benchCompare(b, 5) }

// BenchmarkCompareSeeds20 is the same with --seeds 20 (42 runs); the
// target is cpu/wall ≥ 1.6 on 2 cores.
func BenchmarkCompareSeeds20(b *testing.B) { benchCompare(b, 20) }
