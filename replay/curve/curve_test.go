package curve_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
)

// SPEC §5's worked example: lru hits 3 of 10 blocks at B = 3.
func TestWorkedExample(t *testing.T) {
	tr := load(t, 16, []req{{ids: []int{1, 2}}, {ids: []int{3}}, {ids: []int{1, 2, 4}}, {ids: []int{5}}, {ids: []int{3}}, {ids: []int{1, 2}}})
	cfg := curve.Config{Workers: 1, Router: spec("round_robin"), Unit: kvcache.Blocks}
	cv := checkEvery(t, tr, cfg)
	pt, err := cv.At(3)
	if err != nil {
		t.Fatal(err)
	}
	if pt.HitBlocks != 3 || cv.InputBlocks != 10 || cv.MinCapacity != 3 {
		t.Fatalf("at 3: %d hits of %d, L = %d", pt.HitBlocks, cv.InputBlocks, cv.MinCapacity)
	}
	// With an unbounded cache every block seen before hits: 1,2 (twice), 3.
	if u := cv.Unbounded(); u.HitBlocks != 5 {
		t.Fatalf("unbounded hits %d, want 5", u.HitBlocks)
	}
}

// Reservations shrink the room of every request: a long output evicts
// what a cache of the same size without it keeps.
func TestReservations(t *testing.T) {
	for _, u := range units() {
		tr := load(t, 4, []req{
			{ids: []int{1, 2}},
			{ids: []int{3}, out: 9},     // 3 blocks of output in block mode
			{ids: []int{1, 2}, tail: 3}, // tail tokens are reserved too
			{ids: []int{4, 5, 6}, out: 1},
			{ids: []int{1, 2}},
			{ids: []int{3}},
			{ids: nil, tail: 2, out: 8}, // no ids: only a reservation
			{ids: []int{4, 5, 6}},
		})
		checkEvery(t, tr, curve.Config{Workers: 1, Router: spec("round_robin"), Unit: u})
	}
}

func TestRandomTraces(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	routers := []string{"round_robin", "random", "consistent_hash"}
	for i := range 120 {
		bs := []int{1, 2, 4, 16}[i%4]
		reqs := randomTrace(rng, 10+rng.IntN(60), 1+rng.IntN(8), bs, rng.Float64(), i%3 != 0)
		tr := load(t, bs, reqs)
		for _, u := range units() {
			cfg := curve.Config{Workers: 1 + i%3, Router: spec(routers[i%len(routers)]), Unit: u, Seed: uint64(i)}
			checkEvery(t, tr, cfg)
		}
	}
}

func TestRefusals(t *testing.T) {
	tr := load(t, 4, []req{{ids: []int{1, 2}}, {ids: []int{1, 2, 3}}})
	for _, c := range []struct {
		name string
		cfg  curve.Config
	}{
		{"rlt", curve.Config{Workers: 1, Router: spec("round_robin"), Evict: spec("rlt")}},
		{"timed router", curve.Config{Workers: 2, Router: spec("least_load")}},
	} {
		_, err := curve.Compute(tr, c.cfg)
		if !errors.Is(err, curve.ErrNotExact) {
			t.Errorf("%s: %v, want ErrNotExact", c.name, err)
		}
	}
	cv, err := curve.Compute(tr, curve.Config{Workers: 1, Router: spec("round_robin")})
	if err != nil {
		t.Fatal(err)
	}
	var be *curve.BelowMinError
	if _, err := cv.At(2); !errors.As(err, &be) || be.Min != 3 {
		t.Fatalf("below L: %v", err)
	}
	// Token mode: one id weighing two token counts.
	bad := load(t, 4, []req{{ids: []int{1, 2}, last: 2}, {ids: []int{1, 2, 3}}})
	if _, err := curve.Compute(bad, curve.Config{Workers: 1, Router: spec("round_robin"), Unit: kvcache.Tokens}); !errors.Is(err, curve.ErrNotExact) {
		t.Fatalf("inconsistent weights: %v", err)
	}
	// Block mode is exact on the same trace.
	checkEvery(t, bad, curve.Config{Workers: 1, Router: spec("round_robin"), Unit: kvcache.Blocks})
}
