package evict

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// idset and keyHeap against plain slices. The idset's order keys are a
// permutation of the ids (as trace ids are of local slots), so kth must
// follow the keys, not the ids.
func TestIdsetAndHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s idset
	perm := r.Perm(3000)
	key := func(id BlockID) BlockID { return BlockID(perm[id]) }
	ref := map[BlockID]bool{}
	var h keyHeap
	keys := map[BlockID]uint64{}
	for step := 0; step < 20000; step++ {
		id := BlockID(r.IntN(3000))
		switch r.IntN(4) {
		case 0, 1:
			if s.add(id, key(id)) == ref[id] {
				t.Fatalf("add %d", id)
			}
			ref[id] = true
			k := uint64(r.IntN(50))
			h.push(id, k, 0, uint64(id))
			keys[id] = k
		case 2:
			if s.del(id, key(id)) != ref[id] {
				t.Fatalf("del %d", id)
			}
			delete(ref, id)
			h.remove(id)
			delete(keys, id)
		case 3:
			if m, ok := h.min(); ok {
				h.remove(m)
				delete(keys, m)
				if s.del(m, key(m)) != ref[m] {
					t.Fatal("del min")
				}
				delete(ref, m)
			}
		}
		if s.n != len(ref) || h.len() != len(keys) {
			t.Fatalf("sizes %d/%d %d/%d", s.n, len(ref), h.len(), len(keys))
		}
		if step%97 == 0 && s.n > 0 {
			var want []BlockID
			for k := range ref {
				want = append(want, k)
			}
			slices.SortFunc(want, func(a, b BlockID) int { return int(key(a)) - int(key(b)) })
			for i, w := range want {
				if s.kth(i) != w || !s.has(w) {
					t.Fatalf("kth(%d) = %d, want %d", i, s.kth(i), w)
				}
			}
			best, bk := BlockID(0), uint64(1<<63)
			for id, k := range keys {
				if k < bk || k == bk && id < best {
					best, bk = id, k
				}
			}
			if m, _ := h.min(); m != best {
				t.Fatalf("heap min %d, want %d", m, best)
			}
		}
	}
}
