package curve_test

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
)

// benchTraces are the shared traces of the performance targets, with the
// capacity of the fixed-capacity replay each is compared with.
var benchTraces = []struct {
	name, rel string
	capacity  int64
}{
	{"mooncake", "mooncake/conversation_trace.jsonl", 4000},
	{"kvtester", "kv-cache-tester/traces.tar.xz", 100000},
}

// loadCurve is the whole tree-LRU curve from the file: load, one pass,
// and every point (what `kvscope curve --json` walks).
func loadCurve(b *testing.B, path string, u kvcache.Unit) int {
	tr, err := trace.Load(path, trace.ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cv, err := curve.Compute(tr, curve.Config{Workers: 1, Router: spec("round_robin"), Unit: u})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	cv.Steps(func(curve.Point) bool { n++; return true })
	return n
}

// loadReplay is one fixed-capacity `kvscope replay --evict lru` from the
// file.
func loadReplay(b *testing.B, path string, u kvcache.Unit, capacity int64) {
	tr, err := trace.Load(path, trace.ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := seq.Run(tr, seq.Config{Workers: 1, Router: spec("round_robin"), Evict: spec("lru"), Unit: u, Capacity: capacity, Seed: 1}); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCurve(b *testing.B) {
	for _, bt := range benchTraces {
		b.Run(bt.name, func(b *testing.B) {
			path := filepath.Join(testenv.SharedTraces(b), bt.rel)
			var points int
			for b.Loop() {
				points = loadCurve(b, path, kvcache.Blocks)
			}
			b.ReportMetric(float64(points), "points")
		})
	}
}

func BenchmarkReplayLRU(b *testing.B) {
	for _, bt := range benchTraces {
		b.Run(bt.name, func(b *testing.B) {
			path := filepath.Join(testenv.SharedTraces(b), bt.rel)
			for b.Loop() {
				loadReplay(b, path, kvcache.Blocks, bt.capacity)
			}
		})
	}
}

// cpu is the process's user + system CPU time so far (what /usr/bin/time
// reports), which a loaded machine inflates less than wall time.
func cpu(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCurveVsReplay runs both, alternately, in one process and
// reports the ratio of their CPU times: the performance target is a ratio
// (curve ≤ 3× one replay on Mooncake, ≤ 2× on kv-cache-tester, loading
// included in both).
func BenchmarkCurveVsReplay(b *testing.B) {
	for _, bt := range benchTraces {
		for _, u := range units() {
			b.Run(bt.name+"/"+u.String(), func(b *testing.B) {
				path := filepath.Join(testenv.SharedTraces(b), bt.rel)
				capacity := bt.capacity
				if u == kvcache.Tokens {
					capacity *= 64 // comparable room in tokens
				}
				var tc, tr time.Duration
				for b.Loop() {
					t0 := cpu(b)
					loadCurve(b, path, u)
					t1 := cpu(b)
					loadReplay(b, path, u, capacity)
					tc, tr = tc+t1-t0, tr+cpu(b)-t1
				}
				b.ReportMetric(float64(tc.Nanoseconds())/float64(b.N), "curve-cpu-ns/op")
				b.ReportMetric(float64(tr.Nanoseconds())/float64(b.N), "replay-cpu-ns/op")
				b.ReportMetric(float64(tc)/float64(tr), "curve/replay")
			})
		}
	}
}
