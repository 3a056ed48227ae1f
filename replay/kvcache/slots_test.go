package kvcache

import (
	"math/rand/v2"
	"testing"
)

// TestSlotMapMatchesMap checks the open-addressing table (with its
// backward-shift deletion and growth) against Go's map over random puts
// and deletes of clustered ids, the shape of a cache's churn.
func TestSlotMapMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var m slotMap
	want := map[BlockID]BlockID{}
	var keys []BlockID
	next := BlockID(0)
	for step := range 200_000 {
		if len(keys) > 0 && (r.IntN(2) == 0 || len(keys) > 3000) {
			i := r.IntN(len(keys))
			k := keys[i]
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			m.del(k)
			delete(want, k)
		} else {
			// Mostly new ids in runs (chains), sometimes an old one again.
			k := next
			if r.IntN(8) == 0 {
				k = BlockID(r.IntN(int(next) + 1))
			} else {
				next++
			}
			if _, ok := want[k]; ok {
				continue
			}
			v := BlockID(r.Uint32() >> 1)
			m.put(k, v)
			want[k] = v
			keys = append(keys, k)
		}
		if m.n != len(want) {
			t.Fatalf("step %d: %d entries, want %d", step, m.n, len(want))
		}
		if step%1000 == 0 {
			for k, v := range want {
				if got := m.get(k); got != v {
					t.Fatalf("step %d: get(%d) = %d, want %d", step, k, got, v)
				}
			}
			// NoBlock is the empty entries' key, never a block's id.
			if got := m.get(NoBlock); got != NoBlock {
				t.Fatalf("step %d: get(NoBlock) = %d", step, got)
			}
			for range 100 {
				k := BlockID(r.IntN(int(next) + 10))
				if _, ok := want[k]; !ok && m.get(k) != NoBlock {
					t.Fatalf("step %d: absent %d found", step, k)
				}
			}
		}
	}
	if 2*m.n > len(m.e) {
		t.Fatalf("table %d for %d entries", len(m.e), m.n)
	}
}
