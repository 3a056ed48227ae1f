package route

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// req builds a request with full blocks of bs tokens (the last one weighing
// last tokens when last > 0) and the given extra output tokens.
func req(idx int, bs int, blocks []trace.BlockID, last, output int) *trace.Request {
	r := &trace.Request{Index: idx, Blocks: blocks, Output: output}
	if len(blocks) > 0 {
		if last == 0 {
			last = bs
		}
		r.LastBlockTokens = last
		r.Input = (len(blocks)-1)*bs + last
	}
	return r
}

func ids(v ...trace.BlockID) []trace.BlockID { return v }

func mustNew(t testing.TB, spec string, env Env) Router {
	t.Helper()
	r, _, err := New(spec, env)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6b7673636f7065)) }

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// fakeCluster is a hand-built cluster: per worker a set of cached block
// ids, waiting counts and usage, with call counters.
type fakeCluster struct {
	bs      int
	cached  []map[trace.BlockID]bool
	waiting []int
	usage   []float64

	matchCalls, waitingCalls, usageCalls int
}

func newFakeCluster(n, bs int) *fakeCluster {
	c := &fakeCluster{bs: bs, waiting: make([]int, n), usage: make([]float64, n)}
	for range n {
		c.cached = append(c.cached, map[trace.BlockID]bool{})
	}
	return c
}

func (c *fakeCluster) cache(w int, blocks ...trace.BlockID) {
	for _, b := range blocks {
		c.cached[w][b] = true
	}
}

func (c *fakeCluster) Match(w int, r *trace.Request) (int, int) {
	c.matchCalls++
	tok := 0
	for i, b := range r.Blocks {
		if !c.cached[w][b] {
			return i, tok
		}
		tok += r.BlockTokens(i, c.bs)
	}
	return len(r.Blocks), tok
}

func (c *fakeCluster) Waiting(w int) int { c.waitingCalls++; return c.waiting[w] }

func (c *fakeCluster) Usage(w int) float64 { c.usageCalls++; return c.usage[w] }
