package evict_test

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

var (
	mooncakeOnce sync.Once
	mooncake     *trace.Trace
	mooncakeErr  error
)

// loadMooncake reads the whole Mooncake conversation trace once.
func loadMooncake(t testing.TB) *trace.Trace {
	t.Helper()
	dir := testenv.SharedTraces(t)
	mooncakeOnce.Do(func() {
		mooncake, mooncakeErr = trace.Load(filepath.Join(dir, "mooncake", "conversation_trace.jsonl"), trace.ReadOptions{})
	})
	if mooncakeErr != nil {
		t.Fatal(mooncakeErr)
	}
	return mooncake
}

// replayHits runs reqs hit-only through policy name and returns per-request
// hit blocks and the cache.
func replayHits(t testing.TB, name string, unit kvcache.Unit, capacity int64, bs int, reqs []trace.Request, seed uint64) ([]int, *kvcache.Cache) {
	t.Helper()
	c, _ := newCache(t, name, unit, capacity, bs, rand.New(rand.NewPCG(seed, 5)), chainsOf(reqs))
	hits := make([]int, len(reqs))
	for i := range reqs {
		h, _, err := c.HitOnly(&reqs[i])
		if err != nil {
			t.Fatalf("%s request %d: %v", name, i, err)
		}
		hits[i] = h
	}
	return hits, c
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

// slowLRU is a plain leaf-LRU over maps: every eviction scans all leaves.
// It shares nothing with the cache or the policy but the trace.
func slowLRU(reqs []trace.Request, capacity int) (hits []int, evicted int) {
	type blk struct {
		parent int64
		depth  int
		stamp  int64
		kids   int
	}
	cached := map[trace.BlockID]*blk{}
	leaves := map[trace.BlockID]bool{}
	var clock int64
	hits = make([]int, len(reqs))
	for i := range reqs {
		chain := reqs[i].Blocks
		h := 0
		for h < len(chain) && cached[chain[h]] != nil {
			h++
		}
		hits[i] = h
		pinned := map[trace.BlockID]bool{}
		for _, b := range chain[:h] {
			pinned[b] = true
		}
		for len(cached)+len(chain)-h+allowBlocks(&reqs[i]) > capacity {
			var best trace.BlockID
			found := false
			for b := range leaves {
				if pinned[b] {
					continue
				}
				x := cached[b]
				if !found {
					best, found = b, true
					continue
				}
				y := cached[best]
				if x.stamp < y.stamp || x.stamp == y.stamp && (x.depth > y.depth || x.depth == y.depth && b < best) {
					best = b
				}
			}
			if !found {
				panic("slowLRU: nothing to evict")
			}
			x := cached[best]
			delete(cached, best)
			delete(leaves, best)
			evicted++
			if x.parent >= 0 {
				p := cached[trace.BlockID(x.parent)]
				p.kids--
				if p.kids == 0 {
					leaves[trace.BlockID(x.parent)] = true
				}
			}
		}
		for j := h; j < len(chain); j++ {
			par := int64(-1)
			d := 1
			if j > 0 {
				par = int64(chain[j-1])
				p := cached[chain[j-1]]
				p.kids++
				delete(leaves, chain[j-1])
				d = p.depth + 1
			}
			cached[chain[j]] = &blk{parent: par, depth: d}
			leaves[chain[j]] = true
		}
		clock++
		for _, b := range chain {
			cached[b].stamp = clock
		}
	}
	return hits, evicted
}

// allowBlocks is the block-mode allowance of a Mooncake request (512-token
// blocks): its output, and tokens past the chain (none in Mooncake).
func allowBlocks(r *trace.Request) int {
	return (r.Output+511)/512 + (r.TailTokens(512)+511)/512
}

// mooncakeForTest is the whole Mooncake trace (whole = true) or, under
// -short (CI's race pass), its first 2,000 requests as embedded in
// samples: the checks still run on real data there, the whole trace is
// left to the plain pass.
func mooncakeForTest(t *testing.T) (tr *trace.Trace, whole bool) {
	t.Helper()
	if !testing.Short() {
		return loadMooncake(t), true
	}
	data, err := samples.ReadFile(samples.Mooncake)
	if err != nil {
		t.Fatal(err)
	}
	tr, err = trace.LoadBytes(samples.Mooncake, data, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("-short: the embedded first %d requests of the Mooncake trace, not the whole trace", len(tr.Requests))
	return tr, false
}

func TestLRUMatchesSlowReferenceOnMooncake(t *testing.T) {
	tr, _ := mooncakeForTest(t)
	if tr.Info.BlockSize != 512 {
		t.Fatalf("block size %d", tr.Info.BlockSize)
	}
	caps := []int{1000, 4000, 16000}
	if raceEnabled {
		caps = []int{4000}
	}
	for _, capacity := range caps {
		got, c := replayHits(t, "lru", kvcache.Blocks, int64(capacity), 512, tr.Requests, 1)
		want, wantEv := slowLRU(tr.Requests, capacity)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("cache-blocks %d: request %d hits %d, reference %d", capacity, i, got[i], want[i])
			}
		}
		if c.Evicted() != int64(wantEv) {
			t.Errorf("cache-blocks %d: evicted %d, reference %d", capacity, c.Evicted(), wantEv)
		}
		t.Logf("cache-blocks %d: hit blocks %d, evicted %d", capacity, sum(got), wantEv)
	}
}

func TestOptDominatesOnMooncake(t *testing.T) {
	tr, _ := mooncakeForTest(t)
	caps := []int64{1000, 4000, 16000}
	if raceEnabled {
		caps = []int64{4000}
	}
	for _, capacity := range caps {
		opt, _ := replayHits(t, "opt", kvcache.Blocks, capacity, 512, tr.Requests, 1)
		o := sum(opt)
		for _, name := range evict.Names() {
			h, _ := replayHits(t, name, kvcache.Blocks, capacity, 512, tr.Requests, 1)
			if sum(h) > o {
				t.Errorf("cache-blocks %d: %s hits %d > opt %d", capacity, name, sum(h), o)
			}
		}
		var total int64
		for i := range tr.Requests {
			total += int64(len(tr.Requests[i].Blocks))
		}
		if bel := evict.BeladyMisses(chainsOf(tr.Requests), capacity); total-int64(o) < bel {
			t.Errorf("cache-blocks %d: opt misses %d below the Belady bound %d", capacity, total-int64(o), bel)
		}
	}
}

// smallTrace is up to n requests of up to 4 blocks on a random forest, with
// no output and full blocks (block size 1).
func smallTrace(r *rand.Rand, n, maxLen int) []trace.Request {
	nb := 3 + r.IntN(8)
	parent := make([]int, nb)
	depth := make([]int, nb)
	for i := range parent {
		parent[i] = -1
		depth[i] = 1
		if i > 0 && r.IntN(3) != 0 {
			p := r.IntN(i)
			if depth[p] < maxLen {
				parent[i], depth[i] = p, depth[p]+1
			}
		}
	}
	remap := map[int]trace.BlockID{}
	var chains [][]trace.BlockID
	for range n {
		var path []int
		for b := r.IntN(nb); b >= 0; b = parent[b] {
			path = append([]int{b}, path...)
		}
		ch := make([]trace.BlockID, len(path))
		for i, b := range path {
			if _, ok := remap[b]; !ok {
				remap[b] = trace.BlockID(len(remap))
			}
			ch[i] = remap[b]
		}
		chains = append(chains, ch)
	}
	return mkReqs(1, 0, chains...)
}

// bruteForceHits is the best total hit over every leaf-only, whole-insert
// schedule: after request j the cache may hold any ancestor-closed set S_j
// with path_j ⊆ S_j ⊆ S_{j-1} ∪ path_j and |S_j| ≤ B (any such set is
// reachable by evicting unpinned leaves one at a time before inserting the
// path whole).
func bruteForceHits(reqs []trace.Request, capacity int) int {
	parent := map[trace.BlockID]int{}
	for _, r := range reqs {
		for i, b := range r.Blocks {
			parent[b] = -1
			if i > 0 {
				parent[b] = int(r.Blocks[i-1])
			}
		}
	}
	closed := func(s uint64) bool {
		for x := s; x != 0; x &= x - 1 {
			b := bits.TrailingZeros64(x)
			if p := parent[trace.BlockID(b)]; p >= 0 && s&(1<<p) == 0 {
				return false
			}
		}
		return true
	}
	best := map[uint64]int{0: 0}
	for _, r := range reqs {
		var path uint64
		for _, b := range r.Blocks {
			path |= 1 << b
		}
		next := map[uint64]int{}
		for s, v := range best {
			h := 0
			for h < len(r.Blocks) && s&(1<<r.Blocks[h]) != 0 {
				h++
			}
			free := s &^ path
			// Every subset of the other cached blocks to keep.
			for sub := free; ; sub = (sub - 1) & free {
				ns := sub | path
				if bits.OnesCount64(ns) <= capacity && closed(ns) {
					if old, ok := next[ns]; !ok || v+h > old {
						next[ns] = v + h
					}
				}
				if sub == 0 {
					break
				}
			}
		}
		best = next
	}
	m := 0
	for _, v := range best {
		m = max(m, v)
	}
	return m
}

func TestOptEqualsBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cases := 0
	for iter := 0; iter < 3000; iter++ {
		capacity := 1 + r.IntN(6)
		reqs := smallTrace(r, 3+r.IntN(6), min(4, capacity))
		opt, _ := replayHits(t, "opt", kvcache.Blocks, int64(capacity), 1, reqs, 1)
		bf := bruteForceHits(reqs, capacity)
		if sum(opt) != bf {
			t.Errorf("FINDING: opt hits %d, brute-force optimum %d, capacity %d, requests %v", sum(opt), bf, capacity, chainsOf(reqs))
			if t.Failed() && cases > 5 {
				return
			}
			cases++
		}
		for _, name := range evict.Names() {
			h, _ := replayHits(t, name, kvcache.Blocks, int64(capacity), 1, reqs, uint64(iter))
			if sum(h) > bf {
				t.Fatalf("%s hits %d above the brute-force optimum %d: %v B=%d", name, sum(h), bf, chainsOf(reqs), capacity)
			}
			if sum(h) > sum(opt) {
				t.Errorf("%s hits %d > opt %d: %v B=%d", name, sum(h), sum(opt), chainsOf(reqs), capacity)
			}
		}
		var total int64
		for i := range reqs {
			total += int64(len(reqs[i].Blocks))
		}
		if bel := evict.BeladyMisses(chainsOf(reqs), int64(capacity)); total-int64(bf) < bel {
			t.Fatalf("brute force misses %d below the Belady bound %d", total-int64(bf), bel)
		}
	}
}

// cycleReqs is SPEC §6's cycle: k+1 one-block prefixes, k+1 rounds, output
// 0, block size 1.
func cycleReqs(k int) []trace.Request {
	var chains [][]trace.BlockID
	for i := 0; i < (k+1)*(k+1); i++ {
		chains = append(chains, []trace.BlockID{trace.BlockID(i % (k + 1))})
	}
	return mkReqs(1, 0, chains...)
}

// cycleMisses counts misses of requests k+2 … (k+1)² (1-based).
func cycleMisses(t *testing.T, name string, k int, seed uint64) int {
	reqs := cycleReqs(k)
	hits, _ := replayHits(t, name, kvcache.Blocks, int64(k), 1, reqs, seed)
	m := 0
	for i := k + 1; i < len(reqs); i++ {
		m += 1 - hits[i]
	}
	return m
}

func harmonic(k int) float64 {
	h := 0.0
	for i := 1; i <= k; i++ {
		h += 1 / float64(i)
	}
	return h
}

func TestCycleSeparatesPolicies(t *testing.T) {
	for _, k := range []int{8, 64} {
		opt := cycleMisses(t, "opt", k, 1)
		if opt != k+1 {
			t.Errorf("k=%d: opt misses %d, want k+1 = %d", k, opt, k+1)
		}
		lru := cycleMisses(t, "lru", k, 1)
		if lru != k*(k+1) || float64(lru)/float64(opt) != float64(k) {
			t.Errorf("k=%d: lru misses %d (ratio %g), want every request (%d), ratio k", k, lru, float64(lru)/float64(opt), k*(k+1))
		}
		hk := harmonic(k)
		var rltSum, rlSum float64
		for seed := uint64(1); seed <= 20; seed++ {
			rltSum += float64(cycleMisses(t, "rlt", k, seed)) / float64(opt)
			rlSum += float64(cycleMisses(t, "random_leaf", k, seed)) / float64(opt)
		}
		rlt, rl := rltSum/20, rlSum/20
		t.Logf("k=%d: H_k=%.3f lru/opt=%d rlt/opt=%.3f (%.3f·H_k) random_leaf/opt=%.3f (%.3f·H_k)", k, hk, lru/opt, rlt, rlt/hk, rl, rl/hk)
		if rlt < 0.8*hk || rlt > 1.0*hk {
			t.Errorf("k=%d: mean rlt/opt %.3f outside [0.8·H_k, 1.0·H_k] = [%.3f, %.3f]", k, rlt, 0.8*hk, hk)
		}
		if k == 64 && rl >= 0.6*hk {
			t.Errorf("k=64: mean random_leaf/opt %.3f not below 0.6·H_k = %.3f", rl, 0.6*hk)
		}
	}
}

// With a cache larger than the trace every policy reaches the trace's
// ideal (infinite-cache) hit ratio, and nothing is evicted.
func TestLargeCacheIdeal(t *testing.T) {
	check := func(label string, reqs []trace.Request, bs int, wantIdeal float64) {
		seen := map[trace.BlockID]bool{}
		ideal, total := 0, 0
		for _, r := range reqs {
			h := 0
			for h < len(r.Blocks) && seen[r.Blocks[h]] {
				h++
			}
			ideal += h
			for _, b := range r.Blocks {
				seen[b] = true
			}
			total += len(r.Blocks) + allowUnits(&r, bs)
		}
		for _, name := range evict.Names() {
			h, c := replayHits(t, name, kvcache.Blocks, int64(total+1), bs, reqs, 3)
			if sum(h) != ideal || c.Evicted() != 0 {
				t.Errorf("%s %s: hits %d evicted %d, ideal %d", label, name, sum(h), c.Evicted(), ideal)
			}
		}
		if wantIdeal > 0 {
			var blocks int
			for _, r := range reqs {
				blocks += len(r.Blocks)
			}
			if r := float64(ideal) / float64(blocks); math.Abs(r-wantIdeal) > 5e-7 {
				t.Errorf("%s ideal block hit ratio %.6f, SPEC says %.6f", label, r, wantIdeal)
			}
		}
	}
	check("random", randomTrace(rand.New(rand.NewPCG(3, 4)), 300, 200, 8, 16, 40), 16, 0)
	tr, whole := mooncakeForTest(t)
	want := 0.0
	if whole {
		want = 0.366412 // SPEC §2, the whole trace
	}
	check("mooncake", tr.Requests, 512, want)
}

func allowUnits(r *trace.Request, bs int) int {
	return (r.Output+bs-1)/bs + (r.TailTokens(bs)+bs-1)/bs
}
