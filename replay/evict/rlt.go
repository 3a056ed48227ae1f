package evict

import (
	"math/rand/v2"

	"github.com/kvscope/kvscope/replay/kvcache"
)

// rlt is Randomized Leaf Token, the paper's marking algorithm (SPEC §5),
// rule by rule:
//
//   - Marking: at prefill end (hit-only: the single access after
//     insertion) the path is marked root to leaf, skipping marked blocks.
//     After each newly marked block b, if marked ≥ B a new phase starts
//     (rule a): every mark is cleared, root…b is marked again without
//     re-checking rule a, and marking continues down the path.
//   - Eviction of shortfall n: if n + marked ≥ B a new phase starts first
//     (rule b). C = the unpinned, unmarked leaves; if their weight is below
//     n a new phase starts (rule c; only current leaves count). While n > 0
//     one block is drawn from C with probability 1/|C| whatever its weight
//     (rng.IntN(|C|) over C in trace id order), removed, and its parent
//     joins C when it becomes a childless, unpinned, unmarked block; if C
//     runs empty with n > 0, a new phase starts and C is recomputed.
//   - phases counts phase starts after the first.
//
// C is kept live (the cache reports every change of the unpinned-leaf set),
// in an idset (sorted chunks, structs.go) so a draw is cheap. Its order is
// the blocks' trace ids (Cache.TraceID), not the numbers the cache gives
// them, so the draws are the same under local slots (Info.TraceOrder). A
// phase start clears marks by walking the list of blocks marked in the
// phase.
type rlt struct {
	nop
	rng      *rand.Rand
	marked   int64
	phases   int64
	isMarked []bool
	list     []BlockID // blocks marked in this phase (may hold evicted ones)
	cand     idset     // C
	candW    int64

	// Rules counts rule firings (a, b, c, empty-C) for tests and display.
	rules [4]int64
}

// Rule indices of rlt's counters.
const (
	ruleA = iota
	ruleB
	ruleC
	ruleEmpty
)

func newRLT(_ *paramArgs, env Env) (Policy, error) {
	return &rlt{rng: env.Rand}, nil
}

// Phases is the number of phase starts after the first.
func (p *rlt) Phases() int64 { return p.phases }

// IsMarked reports b's mark.
func (p *rlt) IsMarked(b BlockID) bool { return int(b) < len(p.isMarked) && p.isMarked[b] }

// Marked is Σ weight of marked blocks.
func (p *rlt) Marked() int64 { return p.marked }

// Rules returns how often rules a, b, c and the empty-C restart fired.
func (p *rlt) Rules() (a, b, c, empty int64) {
	return p.rules[ruleA], p.rules[ruleB], p.rules[ruleC], p.rules[ruleEmpty]
}

func (p *rlt) Attach(c *kvcache.Cache) {
	p.c = c
	p.isMarked = make([]bool, 0, c.SizeHint())
	p.cand.member = make([]bool, 0, c.SizeHint())
}

func (p *rlt) Inserted(b BlockID) {
	p.isMarked = grow(p.isMarked, int(b)+1)
	p.isMarked[b] = false
}

func (p *rlt) Removed(b BlockID) {
	if p.isMarked[b] {
		// rlt never evicts a marked block; a released copy is not a removal.
		p.isMarked[b] = false
		p.marked -= p.c.BlockWeight(b)
	}
}

func (p *rlt) Evictable(b BlockID, yes bool) {
	if yes {
		if !p.isMarked[b] && p.cand.add(b, p.c.TraceID(b)) {
			p.candW += p.c.BlockWeight(b)
		}
	} else if p.cand.del(b, p.c.TraceID(b)) {
		p.candW -= p.c.BlockWeight(b)
	}
}

func (p *rlt) mark(b BlockID) {
	p.isMarked[b] = true
	p.marked += p.c.BlockWeight(b)
	p.list = append(p.list, b)
	if p.cand.del(b, p.c.TraceID(b)) {
		p.candW -= p.c.BlockWeight(b)
	}
}

func (p *rlt) newPhase(rule int) {
	p.phases++
	p.rules[rule]++
	p.marked = 0
	for _, b := range p.list {
		if int(b) < len(p.isMarked) && p.isMarked[b] {
			p.isMarked[b] = false
			if p.c.IsEvictable(b) && p.cand.add(b, p.c.TraceID(b)) {
				p.candW += p.c.BlockWeight(b)
			}
		}
	}
	p.list = p.list[:0]
}

func (p *rlt) Access(path []BlockID, ev kvcache.Event) {
	if ev != kvcache.HitOnly && ev != kvcache.PrefillEnd {
		return
	}
	for i, b := range path {
		if p.isMarked[b] {
			continue
		}
		p.mark(b)
		if p.marked >= p.c.Capacity() {
			p.newPhase(ruleA)
			for _, a := range path[:i+1] {
				p.mark(a)
			}
		}
	}
}

func (p *rlt) BeginEvict(n int64) {
	if n+p.marked >= p.c.Capacity() {
		p.newPhase(ruleB)
	}
	if p.candW < n {
		p.newPhase(ruleC)
	}
}

func (p *rlt) Victim(int64) (BlockID, bool) {
	if p.cand.n == 0 {
		p.newPhase(ruleEmpty)
		if p.cand.n == 0 {
			return 0, false
		}
	}
	return p.cand.kth(p.rng.IntN(p.cand.n)), true
}
