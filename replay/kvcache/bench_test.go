package kvcache_test

import "testing"

// BenchmarkMemoryPerBlock reports (heap in use after filling 100,000+
// blocks − before) / blocks, after runtime.GC(), policy state included.
func BenchmarkMemoryPerBlock(b *testing.B) {
	for _, pol := range []string{"lru", "rlt", "opt", "s3fifo"} {
		b.Run(pol, func(b *testing.B) {
			var per float64
			for b.Loop() {
				per = fillMemory(b, pol, 131_072)
			}
			b.ReportMetric(per, "bytes/block")
		})
	}
}
