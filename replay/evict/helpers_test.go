package evict_test

import (
	"math/rand/v2"
	"testing"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// recorder wraps a policy and records victims as trace ids
// (kvcache.Cache.TraceID, for caches with local slots).
type recorder struct {
	evict.Policy
	c       *kvcache.Cache
	victims []trace.BlockID
}

func (r *recorder) Attach(c *kvcache.Cache) { r.c = c; r.Policy.Attach(c) }

func (r *recorder) Victim(n int64) (trace.BlockID, bool) {
	b, ok := r.Policy.Victim(n)
	if ok {
		r.victims = append(r.victims, r.c.TraceID(b))
	}
	return b, ok
}

type rules interface {
	Rules() (a, b, c, empty int64)
}

// mkReqs builds requests from chains of dense ids (block size bs, every
// block full, given output).
func mkReqs(bs, out int, chains ...[]trace.BlockID) []trace.Request {
	rs := make([]trace.Request, len(chains))
	for i, ch := range chains {
		rs[i] = trace.Request{Index: i, Input: len(ch) * bs, Output: out, Blocks: ch, LastBlockTokens: bs, Session: -1, Parent: trace.NoParent}
		if len(ch) == 0 {
			rs[i].LastBlockTokens = 0
		}
	}
	return rs
}

func chainsOf(rs []trace.Request) [][]trace.BlockID {
	out := make([][]trace.BlockID, len(rs))
	for i := range rs {
		out[i] = rs[i].Blocks
	}
	return out
}

func newCache(t testing.TB, name string, unit kvcache.Unit, capacity int64, bs int, rng *rand.Rand, future [][]trace.BlockID) (*kvcache.Cache, *recorder) {
	t.Helper()
	sp, err := param.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(1, 2))
	}
	p, _, err := evict.New(sp, evict.Env{Unit: unit, Capacity: capacity, Rand: rng, Future: future})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{Policy: p}
	c, err := kvcache.New(kvcache.Config{Unit: unit, Capacity: capacity, BlockSize: bs}, rec)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func mustSpec(t testing.TB, s string) param.Spec {
	t.Helper()
	sp, err := param.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
