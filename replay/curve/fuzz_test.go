package curve_test

import (
	"testing"

	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
)

// fuzzTrace decodes bytes into a small trace: the first bytes choose the
// block size, unit and workers, then each request takes four bytes (how
// deep it goes, which existing children it follows, tail and output
// tokens). Ids form a tree as a trace's do; a partial last block is a
// leaf-only id of a fixed weight, so token mode stays exact.
func fuzzTrace(data []byte) (bs int, u kvcache.Unit, workers int, reqs []req) {
	if len(data) < 3 {
		return 0, 0, 0, nil
	}
	bs = []int{1, 2, 4, 16}[data[0]%4]
	u = kvcache.Unit(data[1] % 2)
	workers = 1 + int(data[2]%3)
	data = data[3:]
	kids := map[int][]int{}
	partial := map[int]int{}
	next := 1
	for len(data) >= 4 && len(reqs) < 40 {
		depth, pick, tail, out := int(data[0]%9), int(data[1]), int(data[2]), int(data[3])
		data = data[4:]
		var r req
		cur := 0
		for d := 0; d < depth; d++ {
			ks := kids[cur]
			var id int
			if bit := pick >> (d % 8) & 1; bit == 1 && len(ks) > 0 {
				id = ks[(pick+d)%len(ks)]
			} else {
				id = next
				next++
				kids[cur] = append(kids[cur], id)
				if bs > 1 && (pick+d)%5 == 0 {
					partial[id] = 1 + (pick+d)%(bs-1)
				}
			}
			r.ids = append(r.ids, id)
			if w, ok := partial[id]; ok {
				r.last = w
				break
			}
			cur = id
		}
		if r.last == 0 || len(r.ids) == 0 {
			r.tail = tail % (bs + 1)
		}
		r.out = out % (3*bs + 1)
		reqs = append(reqs, r)
	}
	return bs, u, workers, reqs
}

// FuzzCurve checks the curve against replay --evict lru at every capacity
// from L to past saturation, on random small traces.
func FuzzCurve(f *testing.F) {
	f.Add([]byte{2, 0, 0, 3, 0, 0, 0, 1, 0, 0, 9, 3, 1, 1, 0, 2, 3, 2, 5, 0, 255, 0, 0})
	f.Add([]byte{3, 1, 1, 8, 7, 3, 40, 8, 255, 0, 0, 2, 1, 1, 1, 8, 0, 2, 2, 1, 3, 4, 5})
	f.Add([]byte{0, 1, 2, 5, 1, 0, 0, 5, 3, 0, 0, 5, 2, 0, 1, 4, 255, 2, 2, 5, 0, 0, 0, 2, 1, 0, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, u, workers, reqs := fuzzTrace(data)
		if len(reqs) == 0 {
			return
		}
		tr := load(t, bs, reqs)
		routers := []string{"round_robin", "random", "consistent_hash"}
		checkEvery(t, tr, curve.Config{Workers: workers, Router: spec(routers[len(reqs)%3]), Unit: u, Seed: uint64(len(data))})
	})
}
