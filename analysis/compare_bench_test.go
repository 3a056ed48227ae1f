//go:build unix

package analysis

import (
	"context"
	"syscall"
	"testing"
	"time"
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

// benchCompare runs the issue's fixed comparison (the Mooncake
// conversation trace; lbgr and cache_aware × rlt and lru; 8 workers of
// 4000 blocks; linear model at 0.15 ms per missed token) with n seeds and
// reports the replay stage's CPU time / wall time, which shows whether the
// runs spread over the cores.
func benchCompare(b *testing.B, seeds int) {
	tr, es := mooncakeIssueEntries(b, [][2]string{{"workers", "8"}, {"cache_blocks", "4000"}, {"latency", "linear:miss_ms=0.15"}})
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

// BenchmarkCompareFixed is the issue's fixed command's replay stage
// (--seeds 5: 5+1+5+1 runs).
func BenchmarkCompareFixed(b *testing.B) { benchCompare(b, 5) }

// BenchmarkCompareSeeds20 is the same with --seeds 20 (42 runs); the
// target is cpu/wall ≥ 1.6 on 2 cores.
func BenchmarkCompareSeeds20(b *testing.B) { benchCompare(b, 20) }
