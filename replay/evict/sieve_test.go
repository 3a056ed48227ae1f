package evict

import (
	"math/rand/v2"
	"testing"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// sieveList is SIEVE walking the whole insertion list, skipping blocks that
// are not unpinned leaves: the obvious form of the leaf adaptation, kept to
// check the ordered-set version gives the same victims.
type sieveList struct {
	nop
	l       dlist
	q       queue
	visited []int8 // as sieve's
	hand    BlockID
	nEvict  int
}

func (p *sieveList) Inserted(b BlockID) {
	p.visited = grow(p.visited, int(b)+1)
	p.visited[b] = -1
	p.l.pushNewest(&p.q, b, 0)
}

func (p *sieveList) Removed(b BlockID) {
	if p.hand == b {
		p.hand = p.l.next[b]
	}
	p.l.unlink(&p.q, b, 0)
}

func (p *sieveList) Access(path []BlockID, ev kvcache.Event) {
	if ev != kvcache.HitOnly && ev != kvcache.PrefillEnd {
		return
	}
	for _, b := range path {
		if p.visited[b] < 1 {
			p.visited[b]++
		}
	}
}

func (p *sieveList) Evictable(_ BlockID, yes bool) {
	if yes {
		p.nEvict++
	} else {
		p.nEvict--
	}
}

func (p *sieveList) Victim(int64) (BlockID, bool) {
	if p.nEvict == 0 {
		return 0, false
	}
	b := p.hand
	for {
		if b == nilID {
			b = p.q.head
		}
		if p.c.IsEvictable(b) {
			if p.visited[b] < 1 {
				p.hand = p.l.next[b]
				return b, true
			}
			p.visited[b] = 0
		}
		b = p.l.next[b]
	}
}

func TestSieveMatchesListWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for iter := range 300 {
		// Random chains over a small forest, block mode.
		nb := 5 + r.IntN(40)
		parent := make([]int, nb)
		for i := range parent {
			parent[i] = -1
			if i > 0 && r.IntN(3) != 0 {
				parent[i] = r.IntN(i)
			}
		}
		var reqs []trace.Request
		for k := range 200 {
			var path []BlockID
			for b := r.IntN(nb); b >= 0; b = parent[b] {
				path = append([]BlockID{BlockID(b)}, path...)
			}
			reqs = append(reqs, trace.Request{Index: k, Blocks: path, LastBlockTokens: 1, Input: len(path)})
		}
		capacity := int64(0)
		for _, q := range reqs {
			capacity = max(capacity, int64(len(q.Blocks)))
		}
		capacity += int64(r.IntN(10))
		a, _ := kvcache.New(kvcache.Config{Unit: kvcache.Blocks, Capacity: capacity, BlockSize: 1}, &sieve{q: newQueue(1)})
		bl := &sieveList{q: newQueue(1), hand: nilID}
		b, _ := kvcache.New(kvcache.Config{Unit: kvcache.Blocks, Capacity: capacity, BlockSize: 1}, bl)
		for i := range reqs {
			ha, _, err1 := a.HitOnly(&reqs[i])
			hb, _, err2 := b.HitOnly(&reqs[i])
			if err1 != nil || err2 != nil || ha != hb {
				t.Fatalf("iter %d request %d: sieve hit %d (%v), list walk %d (%v)", iter, i, ha, err1, hb, err2)
			}
		}
	}
}
