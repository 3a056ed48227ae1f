package curve_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
)

func spec(s string) param.Spec {
	sp, err := param.Parse(s)
	if err != nil {
		panic(err)
	}
	return sp
}

// req is one request of a hand-made trace: its chain of ids, tokens past
// the chain (kv-cache-tester's tail), the last block's tokens (0: full)
// and output tokens.
type req struct {
	ids       []int
	tail, out int
	last      int
}

// native renders requests as a native trace of block size bs.
func native(bs int, reqs []req) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"format":"kvscope-trace","version":1,"block_size":%d}`+"\n", bs)
	for i, r := range reqs {
		in := len(r.ids)*bs + r.tail
		if r.last > 0 {
			in -= bs - r.last
		}
		ids := make([]string, len(r.ids))
		for j, id := range r.ids {
			ids[j] = fmt.Sprint(id)
		}
		fmt.Fprintf(&b, `{"arrival_s":%d,"input":%d,"output":%d,"blocks":[%s]`, i, in, r.out, strings.Join(ids, ","))
		if r.last > 0 && len(r.ids) > 0 {
			fmt.Fprintf(&b, `,"last_block_tokens":%d`, r.last)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func load(t testing.TB, bs int, reqs []req) *trace.Trace {
	t.Helper()
	tr, err := trace.LoadBytes("test", []byte(native(bs, reqs)), trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// randomTrace draws n requests over a random prefix tree: each request
// walks from the root, reusing a child with probability reuse, else
// growing a new one, for 1..maxLen blocks. With partial, a leaf-only id
// may be partial (it never gets children, and keeps its weight, so the
// trace stays exact in token mode). Tails and outputs are random.
func randomTrace(rng *rand.Rand, n, maxLen, bs int, reuse float64, partial bool) []req {
	kids := map[int][]int{}
	weight := map[int]int{} // partial ids' token weight
	next := 1
	var out []req
	for range n {
		var r req
		cur := 0
		depth := 1 + rng.IntN(maxLen)
		if rng.IntN(10) == 0 {
			depth = 0 // no ids: only a tail and an output
		}
		for d := 0; d < depth; d++ {
			ks := kids[cur]
			var id int
			if len(ks) > 0 && rng.Float64() < reuse {
				id = ks[rng.IntN(len(ks))]
			} else {
				id = next
				next++
				kids[cur] = append(kids[cur], id)
				if partial && bs > 1 && rng.IntN(4) == 0 {
					weight[id] = 1 + rng.IntN(bs-1)
				}
			}
			r.ids = append(r.ids, id)
			if w, ok := weight[id]; ok {
				r.last = w
				break
			}
			cur = id
		}
		if depth == 0 || r.last == 0 && rng.IntN(3) == 0 {
			r.tail = rng.IntN(bs)
		}
		if rng.IntN(2) == 0 {
			r.out = rng.IntN(3 * bs)
		}
		out = append(out, r)
	}
	return out
}

// replayAt is `kvscope replay --evict lru` at capacity c.
func replayAt(t testing.TB, tr *trace.Trace, cfg curve.Config, c int64) *seq.Result {
	t.Helper()
	res, err := seq.Run(tr, seq.Config{Workers: cfg.Workers, Router: cfg.Router, Evict: spec("lru"), Unit: cfg.Unit,
		Capacity: c, Seed: cfg.Seed, Oversize: cfg.Oversize})
	if err != nil {
		t.Fatalf("replay at %d: %v", c, err)
	}
	return res
}

// checkAt compares the curve with a replay at capacity c.
func checkAt(t testing.TB, tr *trace.Trace, cfg curve.Config, cv *curve.Curve, c int64) {
	t.Helper()
	res := replayAt(t, tr, cfg, c)
	pt, err := cv.At(c)
	if err != nil {
		t.Fatal(err)
	}
	if pt.HitBlocks != res.HitBlocks || pt.HitTokens != res.HitTokens {
		t.Fatalf("%s %s workers=%d %s: capacity %d: curve hits %d blocks %d tokens, replay %d blocks %d tokens",
			tr.Info.Source, cfg.Unit, cfg.Workers, cfg.Router.Name, c, pt.HitBlocks, pt.HitTokens, res.HitBlocks, res.HitTokens)
	}
	if pt.BlockHitRatio != res.BlockHitRatio || pt.TokenHitRatio != res.TokenHitRatio {
		t.Fatalf("capacity %d: curve ratios %v %v, replay %v %v", c, pt.BlockHitRatio, pt.TokenHitRatio, res.BlockHitRatio, res.TokenHitRatio)
	}
}

// checkEvery compares every capacity from L to past the saturation point.
func checkEvery(t testing.TB, tr *trace.Trace, cfg curve.Config) *curve.Curve {
	t.Helper()
	cv, err := curve.Compute(tr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for c := cv.MinCapacity; c <= cv.MaxCapacity+2; c++ {
		checkAt(t, tr, cfg, cv, c)
	}
	if c := cv.MinCapacity - 1; c >= 1 {
		if _, err := cv.At(c); err == nil {
			t.Fatalf("capacity %d below L = %d accepted", c, cv.MinCapacity)
		}
	}
	checkBelow(t, tr, cfg, cv.MinCapacity)
	return cv
}

// checkBelow compares every capacity below L with replay under oversize
// fail and bypass, one pass per set of requests left out.
func checkBelow(t testing.TB, tr *trace.Trace, cfg curve.Config, L int64) {
	t.Helper()
	for _, ov := range []string{"fail", "bypass"} {
		cfg.Oversize = ov
		var lv *curve.Curve
		for c := int64(1); c < L; c++ {
			if lv == nil || c > lv.Limit {
				var err error
				if lv, err = curve.Below(tr, cfg, c); err != nil {
					t.Fatal(err)
				}
				if lv.Limit < c || lv.Limit >= L || lv.Skipped == 0 {
					t.Fatalf("below %d: limit %d, %d left out", c, lv.Limit, lv.Skipped)
				}
			}
			checkAt(t, tr, cfg, lv, c)
		}
		if _, err := lv.At(lv.Limit + 1); err == nil {
			t.Fatalf("%s: capacity %d above the level's limit %d accepted", ov, lv.Limit+1, lv.Limit)
		}
	}
}

func units() []kvcache.Unit { return []kvcache.Unit{kvcache.Blocks, kvcache.Tokens} }
