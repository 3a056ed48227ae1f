package evict_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// mapPass looks every block id of the trace up once in a pre-filled
// map[uint64]struct{} (the baseline) and returns the hits (so the
// loop is not optimised away).
func mapPass(m map[uint64]struct{}, ids [][]uint64) int {
	n := 0
	for _, ch := range ids {
		for _, id := range ch {
			if _, ok := m[id]; ok {
				n++
			}
		}
	}
	return n
}

// BenchmarkMooncake: one worker, hit-only replay of the Mooncake
// conversation trace; a lookup is one block of one request processed; the
// cache (and policy) is rebuilt before each pass. The map baseline runs
// the same number of passes in the same benchmark.
func BenchmarkMooncake(b *testing.B) {
	tr := loadMooncake(b)
	var blocks int
	ids := make([][]uint64, len(tr.Requests))
	m := map[uint64]struct{}{}
	for i := range tr.Requests {
		r := &tr.Requests[i]
		blocks += len(r.Blocks)
		ids[i] = make([]uint64, len(r.Blocks))
		for j, d := range r.Blocks {
			ids[i][j] = tr.Blocks.Orig(d)
			m[ids[i][j]] = struct{}{}
		}
	}
	future := chainsOf(tr.Requests)
	var total int64
	for _, r := range tr.Requests {
		total += int64(len(r.Blocks)) + int64(allowBlocks(&r))
	}
	for _, size := range []struct {
		name string
		cap  int64
	}{{"4000", 4000}, {"unbounded", total + 1}} {
		for _, name := range evict.Names() {
			b.Run(name+"/"+size.name, func(b *testing.B) {
				sp, _ := param.Parse(name)
				passes := 0
				for b.Loop() {
					p, _, err := evict.New(sp, evict.Env{Unit: kvcache.Blocks, Capacity: size.cap, Rand: rand.New(rand.NewPCG(1, 1)), Future: future})
					if err != nil {
						b.Fatal(err)
					}
					c, _ := kvcache.New(kvcache.Config{Unit: kvcache.Blocks, Capacity: size.cap, BlockSize: 512, SizeHint: tr.Blocks.Len()}, p)
					for i := range tr.Requests {
						if _, _, err := c.HitOnly(&tr.Requests[i]); err != nil {
							b.Fatal(err)
						}
					}
					passes++
				}
				el := b.Elapsed()
				b.StopTimer()
				t0 := time.Now()
				hits := 0
				for range passes {
					hits += mapPass(m, ids)
				}
				mapEl := time.Since(t0)
				if hits != passes*blocks {
					b.Fatal("map baseline missed")
				}
				rate := float64(passes*blocks) / el.Seconds()
				mapRate := float64(passes*blocks) / mapEl.Seconds()
				b.ReportMetric(rate, "lookups/s")
				b.ReportMetric(mapRate, "map_lookups/s")
				b.ReportMetric(rate/mapRate, "ratio_vs_map")
			})
		}
	}
}

// BenchmarkBelady: the Belady bound on the Mooncake trace at 4000 blocks.
func BenchmarkBelady(b *testing.B) {
	tr := loadMooncake(b)
	chains := chainsOf(tr.Requests)
	var blocks int
	for _, ch := range chains {
		blocks += len(ch)
	}
	for b.Loop() {
		evict.BeladyMisses(chains, 4000)
	}
	b.ReportMetric(float64(b.N*blocks)/b.Elapsed().Seconds(), "lookups/s")
}

var _ = trace.BlockID(0)
