package gen

import (
	"slices"
	"testing"
	"time"
)

func TestCycleDefaults(t *testing.T) {
	p := DefaultCycle()
	reqs := collect(t, &p)
	checkWellFormed(t, reqs, 1)
	if len(reqs) != 17*17 {
		t.Fatalf("requests = %d, want 289", len(reqs))
	}
	for i, r := range reqs {
		if r.Arrival != time.Duration(i)*time.Millisecond || r.Output != 0 || r.Input != 1 ||
			!slices.Equal(r.Blocks, []uint32{uint32(i % 17)}) {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	if res := ideal(reqs, 1); res.hitTokens != 272 || res.tokens != 289 {
		t.Fatalf("ideal hits %d of %d tokens, want 272 of 289", res.hitTokens, res.tokens)
	}
	if p.Canonical() != "cycle --k 16 --prefix-blocks 1 --rounds 17 --output-len 0 --block-size 1 --seed 1" {
		t.Fatalf("canonical %q", p.Canonical())
	}
}

func TestCycleChains(t *testing.T) {
	p := Cycle{K: 3, PrefixBlocks: 3, Rounds: 2, OutputLen: 5, BlockSize: 4}
	reqs := collect(t, &p)
	checkWellFormed(t, reqs, 4)
	if len(reqs) != 8 {
		t.Fatalf("%d requests, want 8", len(reqs))
	}
	for i, r := range reqs {
		f := uint32(i%4) * 3
		if !slices.Equal(r.Blocks, []uint32{f, f + 1, f + 2}) || r.Input != 12 || r.Output != 5 {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
}

// TestCycleSeparatesLRU replays the default cycle through unit-page LRU
// and Belady's MIN with a cache of k blocks (SPEC §6): after the first
// round LRU misses every request and MIN exactly k+1 times.
func TestCycleSeparatesLRU(t *testing.T) {
	for _, k := range []int{1, 4, 16} {
		p := DefaultCycle()
		p.K = k
		reqs := collect(t, &p)
		seq := make([]uint32, len(reqs))
		for i, r := range reqs {
			seq[i] = r.Blocks[0]
		}
		lru, opt := 0, 0
		var lruCache []uint32 // most recent last
		optCache := map[uint32]bool{}
		for i, b := range seq {
			counted := i >= k+1
			if j := slices.Index(lruCache, b); j >= 0 {
				lruCache = slices.Delete(lruCache, j, j+1)
			} else {
				if counted {
					lru++
				}
				if len(lruCache) == k {
					lruCache = lruCache[1:]
				}
			}
			lruCache = append(lruCache, b)
			if !optCache[b] {
				if counted {
					opt++
				}
				if len(optCache) == k {
					victim, far := uint32(0), -1
					for c := range optCache {
						next := slices.Index(seq[i+1:], c)
						if next < 0 {
							next = len(seq)
						}
						if next > far || (next == far && c < victim) {
							victim, far = c, next
						}
					}
					delete(optCache, victim)
				}
				optCache[b] = true
			}
		}
		if lru != k*(k+1) || opt != k+1 {
			t.Errorf("k=%d: lru %d misses (want %d), opt %d (want %d)", k, lru, k*(k+1), opt, k+1)
		}
	}
}
