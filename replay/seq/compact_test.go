package seq

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// TestCompactKeepsOrder checks the renumbering is dense and monotone and
// leaves the trace's own requests untouched.
func TestCompactKeepsOrder(t *testing.T) {
	a := &trace.Request{Index: 0, Blocks: []trace.BlockID{900, 12, 5000}}
	b := &trace.Request{Index: 1, Blocks: []trace.BlockID{900, 12, 77}}
	c := &trace.Request{Index: 2}
	got := compact([]*trace.Request{a, b, c})
	want := [][]trace.BlockID{{2, 0, 3}, {2, 0, 1}, {}}
	for i, r := range got {
		if !reflect.DeepEqual(append([]trace.BlockID{}, r.Blocks...), want[i]) {
			t.Errorf("request %d: blocks %v, want %v", i, r.Blocks, want[i])
		}
	}
	// 12 < 77 < 900 < 5000 become 0 < 1 < 2 < 3.
	if a.Blocks[0] != 900 || b.Blocks[2] != 77 {
		t.Error("compact changed the trace's own requests")
	}
	if got[0].Index != 0 || got[1].Index != 1 {
		t.Error("compact lost the request indices")
	}
}

// TestCompactSameRatios replays every sample trace's worker sequences
// (three round-robin workers) with every online policy and opt, on the
// trace's own ids and on compacted ids: every figure must be the same,
// the randomized policies drawing from the same seed.
func TestCompactSameRatios(t *testing.T) {
	for _, name := range samples.Names() {
		tr, err := trace.LoadSample(name)
		if err != nil {
			t.Fatal(err)
		}
		seqs := make([][]*trace.Request, 3)
		for i := range tr.Requests {
			seqs[i%3] = append(seqs[i%3], &tr.Requests[i])
		}
		for _, pol := range evict.Names() {
			if info, _ := evict.Lookup(pol); info.Offline {
				continue
			}
			for w, reqs := range seqs {
				for _, u := range []kvcache.Unit{kvcache.Blocks, kvcache.Tokens} {
					capacity := int64(64)
					if u == kvcache.Tokens {
						capacity *= int64(tr.Info.BlockSize)
					}
					var fits []*trace.Request
					for _, r := range reqs {
						if weight(u, r, tr.Info.BlockSize) <= capacity {
							fits = append(fits, r)
						}
					}
					run := func(rs []*trace.Request) WorkerRatios {
						got, err := sequentialRatios(context.Background(), rs, param.Spec{Name: pol}, rand.New(rand.NewPCG(7, uint64(w))), u, capacity, tr.Info.BlockSize, nil)
						if err != nil {
							t.Fatalf("%s %s worker %d %s: %v", name, pol, w, u, err)
						}
						return got
					}
					if a, b := run(fits), run(compact(fits)); !reflect.DeepEqual(a, b) {
						t.Errorf("%s %s worker %d %s: trace ids give %+v, compacted ids %+v", name, pol, w, u, a, b)
					}
				}
			}
		}
	}
}

// weight is an upper bound of a request's footprint with its output
// allowance (rounded up to whole blocks in block mode).
func weight(u kvcache.Unit, r *trace.Request, bs int) int64 {
	if u == kvcache.Tokens {
		return int64(r.Input + r.Output)
	}
	return int64(len(r.Blocks) + (r.Output+bs-1)/bs)
}
