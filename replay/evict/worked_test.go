package evict_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// SPEC §5's worked example: B = 3 blocks, outputs 0. Dense ids are the
// spec's ids (1..5; 0 unused).
func workedReqs() []trace.Request {
	return mkReqs(16, 0, []trace.BlockID{1, 2}, []trace.BlockID{3}, []trace.BlockID{1, 2, 4}, []trace.BlockID{5}, []trace.BlockID{3}, []trace.BlockID{1, 2})
}

type step struct {
	hits    int
	victims []trace.BlockID
	after   []trace.BlockID // nil: not checked
}

func cached(c *kvcache.Cache) []trace.BlockID {
	var out []trace.BlockID
	for b := trace.BlockID(0); int(b) < c.Slots(); b++ {
		if c.Present(b) {
			out = append(out, b)
		}
	}
	return out
}

func runWorked(t *testing.T, name string, rng *rand.Rand, want []step) *recorder {
	t.Helper()
	reqs := workedReqs()
	c, rec := newCache(t, name, kvcache.Blocks, 3, 16, rng, chainsOf(reqs))
	total := 0
	for i := range reqs {
		before := len(rec.victims)
		h, _, err := c.HitOnly(&reqs[i])
		if err != nil {
			t.Fatalf("%s request %d: %v", name, i, err)
		}
		if err := c.Check(); err != nil {
			t.Fatalf("%s request %d: %v", name, i, err)
		}
		total += h
		got := rec.victims[before:]
		if h != want[i].hits || !slices.Equal(got, want[i].victims) {
			t.Errorf("%s request %d %v: hits %d victims %v, want %d %v", name, i, reqs[i].Blocks, h, got, want[i].hits, want[i].victims)
		}
		if want[i].after != nil && !slices.Equal(cached(c), want[i].after) {
			t.Errorf("%s request %d: cache %v, want %v", name, i, cached(c), want[i].after)
		}
	}
	return rec
}

func ids(b ...trace.BlockID) []trace.BlockID { return b }

func TestWorkedExampleLRU(t *testing.T) {
	runWorked(t, "lru", nil, []step{
		{0, nil, ids(1, 2)},
		{0, nil, ids(1, 2, 3)},
		{2, ids(3), ids(1, 2, 4)},
		{0, ids(4), ids(1, 2, 5)},
		{0, ids(2), ids(1, 3, 5)},
		{1, ids(5), ids(1, 2, 3)},
	})
}

func TestWorkedExampleOpt(t *testing.T) {
	runWorked(t, "opt", nil, []step{
		{0, nil, ids(1, 2)},
		{0, nil, ids(1, 2, 3)},
		{2, ids(3), ids(1, 2, 4)},
		{0, ids(4), ids(1, 2, 5)},
		{0, ids(5), ids(1, 2, 3)},
		{2, nil, ids(1, 2, 3)},
	})
}

// script is a rand source returning fixed values.
type script struct {
	vals []uint64
	i    int
}

func (s *script) Uint64() uint64 {
	v := s.vals[s.i%len(s.vals)]
	s.i++
	return v
}

func TestWorkedExampleRLT(t *testing.T) {
	// The only multi-way draw is the last one, from C = {3, 5} in id
	// order; single-element draws consume stream values too, so the script
	// is replayed through a twin rand to find which index it yields.
	for _, v := range []uint64{0, 1 << 63, ^uint64(0)} {
		vals := []uint64{v}
		twin := rand.New(&script{vals: vals})
		twin.IntN(1) // evicting 3 in [1,2,4] (C = {3})
		twin.IntN(1) // 4 in [5]
		twin.IntN(1) // 2 in [3]
		k := twin.IntN(2)
		last := ids(3, 5)[k]
		rec := runWorked(t, "rlt", rand.New(&script{vals: vals}), []step{
			{0, nil, ids(1, 2)},
			{0, nil, ids(1, 2, 3)},
			{2, ids(3), ids(1, 2, 4)},
			{0, ids(4), ids(1, 2, 5)},
			{0, ids(2), ids(1, 3, 5)},
			{1, ids(last), nil},
		})
		m := rec.Policy.(kvcache.Marker)
		if m.Phases() != 5 {
			t.Errorf("rlt phases = %d, want 5", m.Phases())
		}
		a, b, c, e := rec.Policy.(rules).Rules()
		// a: [3] and [1,2,4]; b: [5] and the last [1,2]; c: [1,2,4].
		if a != 2 || b != 2 || c != 1 || e != 0 {
			t.Errorf("rlt rules a=%d b=%d c=%d empty=%d, want 2 2 1 0", a, b, c, e)
		}
	}
}

// The worked example's rule order, request by request.
func TestWorkedExampleRLTRuleOrder(t *testing.T) {
	reqs := workedReqs()
	c, rec := newCache(t, "rlt", kvcache.Blocks, 3, 16, nil, nil)
	r := rec.Policy.(rules)
	want := [][4]int64{{0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 1, 0}, {2, 1, 1, 0}, {2, 1, 1, 0}, {2, 2, 1, 0}}
	marks := [][]trace.BlockID{{1, 2}, {3}, {1, 2, 4}, {5}, {3, 5}, nil}
	for i := range reqs {
		if _, _, err := c.HitOnly(&reqs[i]); err != nil {
			t.Fatal(err)
		}
		a, b, cc, e := r.Rules()
		if got := [4]int64{a, b, cc, e}; got != want[i] {
			t.Errorf("after request %d: rules %v, want %v", i, got, want[i])
		}
		if marks[i] != nil {
			var got []trace.BlockID
			for _, bl := range cached(c) {
				if rec.Policy.(kvcache.Marker).IsMarked(bl) {
					got = append(got, bl)
				}
			}
			if !slices.Equal(got, marks[i]) {
				t.Errorf("after request %d: marked %v, want %v", i, got, marks[i])
			}
		}
	}
}
