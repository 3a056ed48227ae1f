package evict

import (
	"math"

	"github.com/kvscope/kvscope/replay/kvcache"
)

// opt is the offline optimum of SPEC §5 (block mode; a farthest-in-future
// heuristic in token mode): on the worker's fixed request sequence
// (Env.Future, in service order), evict the unpinned leaf whose next use —
// the index of the next request containing it, ∞ if none — is farthest.
// Ties: the deeper block, then the smaller dense id.
//
// opt follows the sequence by counting accesses: each HitOnly or
// PrefillStart access is the next request of Env.Future, and gives every
// block of its path the next use of that occurrence (precomputed). It is
// meant for sequential replay (kvscope replay, and the timed simulator's
// ratio computation on a prefill-start-ordered sequence); it is never a
// live policy of the timed simulator. A path that departs from the
// expected request gets next use ∞ for the blocks that do not match.
type opt struct {
	nop
	future [][]BlockID
	off    []int32 // offset of request j's blocks in nextOcc
	next   []int32 // per-occurrence next use (request index), or never
	cur    int
	nu     []int32 // per block: its current next use
	h      keyHeap
}

const never = math.MaxInt32

func newOpt(_ *paramArgs, env Env) (Policy, error) {
	p := &opt{future: env.Future}
	total := 0
	maxID := -1
	for _, ch := range env.Future {
		total += len(ch)
		for _, b := range ch {
			maxID = max(maxID, int(b))
		}
	}
	p.off = make([]int32, len(env.Future)+1)
	p.next = make([]int32, total)
	last := make([]int32, maxID+1)
	for i := range last {
		last[i] = never
	}
	pos := total
	for j := len(env.Future) - 1; j >= 0; j-- {
		ch := env.Future[j]
		pos -= len(ch)
		p.off[j] = int32(pos)
		for k, b := range ch {
			p.next[pos+k] = last[b]
		}
		for _, b := range ch {
			last[b] = int32(j)
		}
	}
	p.off[len(env.Future)] = int32(total)
	return p, nil
}

func (p *opt) Attach(c *kvcache.Cache) {
	p.c = c
	p.nu = make([]int32, 0, c.SizeHint())
	p.h.pos = make([]int32, 0, c.SizeHint())
}

func (p *opt) Inserted(b BlockID) {
	p.nu = grow(p.nu, int(b)+1)
	p.nu[b] = never
}

func (p *opt) key(b BlockID) uint64 { return uint64(never - p.nu[b]) }

func (p *opt) Access(path []BlockID, ev kvcache.Event) {
	if ev != kvcache.HitOnly && ev != kvcache.PrefillStart {
		return
	}
	var exp []BlockID
	var off int32
	if p.cur < len(p.future) {
		exp = p.future[p.cur]
		off = p.off[p.cur]
	}
	p.cur++
	for i, b := range path {
		v := int32(never)
		if i < len(exp) && exp[i] == b {
			v = p.next[off+int32(i)]
		}
		p.nu[b] = v
		if p.h.has(b) {
			p.h.rekey(b, p.key(b), 0, tie(p.c, b))
		}
	}
}

func (p *opt) Evictable(b BlockID, yes bool) {
	if yes {
		p.h.push(b, p.key(b), 0, tie(p.c, b))
	} else {
		p.h.remove(b)
	}
}

func (p *opt) Victim(int64) (BlockID, bool) { return p.h.min() }
