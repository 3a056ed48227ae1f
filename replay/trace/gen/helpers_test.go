package gen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

// collect runs g and returns deep copies of its requests.
func collect(t *testing.T, g Generator) []trace.Request {
	t.Helper()
	var out []trace.Request
	err := g.Generate(func(r *trace.Request) error {
		c := *r
		c.Blocks = slices.Clone(r.Blocks)
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", g.Canonical(), err)
	}
	return out
}

// ideal replays reqs through an infinite prefix cache in arrival order and
// returns hit and total tokens and blocks, and the hit blocks of each
// request. It knows nothing of how the generators build chains.
type idealResult struct {
	hitTokens, tokens int
	hitBlocks, blocks int
	perReq            []int // hit tokens of each request
}

func ideal(reqs []trace.Request, bs int) idealResult {
	seen := map[trace.BlockID]bool{}
	var res idealResult
	for i := range reqs {
		r := &reqs[i]
		h := 0
		for h < len(r.Blocks) && seen[r.Blocks[h]] {
			h++
		}
		for _, b := range r.Blocks {
			seen[b] = true
		}
		hitTok := h * bs
		if h == len(r.Blocks) && h > 0 {
			hitTok = r.ChainTokens(bs)
		}
		res.hitTokens += hitTok
		res.tokens += r.Input
		res.hitBlocks += h
		res.blocks += len(r.Blocks)
		res.perReq = append(res.perReq, hitTok)
	}
	return res
}

func (r idealResult) tokenRatio() float64 { return float64(r.hitTokens) / float64(r.tokens) }

// checkWellFormed checks what every generated trace must satisfy: valid
// requests, Index and ID in emission order, arrivals non-decreasing, ids
// dense in order of first appearance, and SPEC §1's one-parent rule
// (through the reader's own Table, which must map every id to itself).
func checkWellFormed(t *testing.T, reqs []trace.Request, bs int) {
	t.Helper()
	tab := trace.NewTable(false)
	next := trace.BlockID(0)
	var orig []uint64
	var dense []trace.BlockID
	for k := range reqs {
		r := &reqs[k]
		if err := r.Validate(bs); err != nil {
			t.Fatalf("request %d: %v", k, err)
		}
		if r.ChainTokens(bs) != r.Input {
			t.Fatalf("request %d: chain covers %d tokens, input %d", k, r.ChainTokens(bs), r.Input)
		}
		if r.Index != k || r.ID != int64(k) {
			t.Fatalf("request %d: Index %d ID %d", k, r.Index, r.ID)
		}
		if k > 0 && r.Arrival < reqs[k-1].Arrival {
			t.Fatalf("request %d arrives at %v before request %d at %v", k, r.Arrival, k-1, reqs[k-1].Arrival)
		}
		for j, b := range r.Blocks {
			if b > next {
				t.Fatalf("request %d block %d: id %d skips ahead of next new id %d", k, j, b, next)
			}
			if b == next {
				next++
			}
		}
		orig = orig[:0]
		for _, b := range r.Blocks {
			orig = append(orig, uint64(b))
		}
		var err error
		dense, err = tab.Intern(dense[:0], orig)
		if err != nil {
			t.Fatalf("request %d: %v", k, err)
		}
		if !slices.Equal(dense, r.Blocks) {
			t.Fatalf("request %d: Table maps %v to %v", k, r.Blocks, dense)
		}
	}
}

// checkBijection checks that two blocks have the same id exactly when the
// token content up to their end is the same: key(k, end) names that
// content for request k's block ending at token `end`.
func checkBijection[K comparable](t *testing.T, reqs []trace.Request, bs int, key func(k, end int) K) {
	t.Helper()
	byKey := map[K]trace.BlockID{}
	byID := map[trace.BlockID]K{}
	for k := range reqs {
		r := &reqs[k]
		for j, b := range r.Blocks {
			end := j*bs + r.BlockTokens(j, bs)
			c := key(k, end)
			if id, ok := byKey[c]; ok && id != b {
				t.Fatalf("request %d block %d: content %v has ids %d and %d", k, j, c, id, b)
			}
			if c0, ok := byID[b]; ok && c0 != c {
				t.Fatalf("request %d block %d: id %d names contents %v and %v", k, j, b, c0, c)
			}
			byKey[c], byID[b] = b, c
		}
	}
}

// digest hashes every field a writer may write.
func digest(reqs []trace.Request) string {
	h := sha256.New()
	for i := range reqs {
		r := &reqs[i]
		fmt.Fprintln(h, r.Index, int64(r.Arrival), r.Input, r.Output, r.Blocks, r.LastBlockTokens,
			r.Session, r.ID, r.Parent, r.Turn, r.ThinkS, r.Type, r.Tags)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
