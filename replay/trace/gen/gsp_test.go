package gen

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// TestGSPDefaults checks the paper's totals (SPEC §3): 4096 requests, about
// 12.8 M input tokens, an infinite-cache token hit ceiling about 48%.
func TestGSPDefaults(t *testing.T) {
	p := DefaultGSP()
	reqs := collect(t, &p)
	checkWellFormed(t, reqs, 16)
	if len(reqs) != 4096 {
		t.Fatalf("requests = %d, want 4096", len(reqs))
	}
	// 128 groups over 5 lengths: lengths 512, 1024, 2048 get 26 groups,
	// 4096 and 8192 get 25; 32 prompts each.
	wantTokens := 32 * (26*(512+1024+2048) + 25*(4096+8192))
	res := ideal(reqs, 16)
	if res.tokens != wantTokens || wantTokens != 12_812_288 {
		t.Fatalf("input tokens = %d, want %d", res.tokens, wantTokens)
	}
	// Every prefix is a multiple of 16 tokens, so no sharing is lost at the
	// boundary: 31 of 32 prompts of a group hit half their tokens.
	if got, want := res.tokenRatio(), 31.0/64; got != want {
		t.Fatalf("ideal token hit ratio = %v, want %v", got, want)
	}
	if math.Abs(res.tokenRatio()-0.48) > 0.01 {
		t.Fatalf("ideal token hit ratio %v not about 48%%", res.tokenRatio())
	}
	for _, r := range reqs {
		if r.Output != 4 || r.Session != -1 || r.Parent != trace.NoParent || r.Turn != 0 {
			t.Fatalf("request %d: output %d session %d parent %d turn %d", r.Index, r.Output, r.Session, r.Parent, r.Turn)
		}
	}
	// Poisson at 12/s: 4095 gaps with mean 1/12 s (standard error 1.6%).
	mean := reqs[len(reqs)-1].Arrival.Seconds() / float64(len(reqs)-1)
	if reqs[0].Arrival != 0 || math.Abs(mean*12-1) > 0.07 {
		t.Fatalf("first arrival %v, mean gap %v s, want 0 and about 1/12", reqs[0].Arrival, mean)
	}
}

func TestGSPShapeRounding(t *testing.T) {
	for _, c := range []struct {
		ratio       float64
		total, want int
	}{
		{0.5, 512, 256},
		{0.5, 5, 3},  // 2.5 rounds away from zero
		{0.5, 3, 2},  // 1.5 → 2
		{0.3, 5, 2},  // 0.3·5 is 1.5 in float64 too → 2
		{0.1, 15, 2}, // 1.5000000000000002 → 2
		{0.7, 5, 4},  // 3.5 → 4
		{0.25, 10, 3},
		{0.75, 10, 8},
		{0, 100, 1},   // clamped up: a prefix has at least one token
		{1, 100, 99},  // clamped down: a question has at least one token
		{0.999, 2, 1}, // 1.998 → 2, clamped to L-1
		{0.001, 2, 1},
	} {
		p := DefaultGSP()
		p.PrefixRatio = c.ratio
		p.TotalLens = []int{c.total}
		want := c.want
		if s, l := p.Shape(0); s != want || l != c.total {
			t.Errorf("ratio %v total %d: shape (%d, %d), want (%d, %d)", c.ratio, c.total, s, l, want, c.total)
		}
	}
}

// TestGSPSharing checks the block structure against a token-content model:
// prompt i of group g holds prefix tokens (g, p) for p < S_g and question
// tokens (g, i, p) after; a block's content is everything up to its end.
func TestGSPSharing(t *testing.T) {
	type key struct{ g, i, end int }
	for _, c := range []struct {
		name  string
		ratio float64
		lens  []int
		bs    int
		order Order
	}{
		{"aligned", 0.5, []int{64, 128}, 16, OrderRandom},
		{"boundary inside a block", 0.3, []int{100, 37, 50}, 16, OrderGrouped},
		{"prefix shorter than a block", 0.1, []int{40}, 16, OrderRoundRobin},
		{"token level", 0.37, []int{30, 17}, 1, OrderRandom},
		{"big blocks", 0.5, []int{1000, 3}, 512, OrderRandom},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultGSP()
			p.Groups, p.PromptsPerGroup, p.PrefixRatio, p.TotalLens, p.BlockSize, p.Order = 7, 5, c.ratio, c.lens, c.bs, c.order
			var reqs []trace.Request
			var gi [][2]int
			err := p.generate(func(r *trace.Request, g, i int) error {
				cp := *r
				cp.Blocks = slices.Clone(r.Blocks)
				reqs = append(reqs, cp)
				gi = append(gi, [2]int{g, i})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			checkWellFormed(t, reqs, c.bs)
			seen := map[[2]int]bool{}
			hitWant := 0
			for k, r := range reqs {
				g := gi[k][0]
				s, l := p.Shape(g)
				if r.Input != l {
					t.Fatalf("request %d (group %d): input %d, want %d", k, g, r.Input, l)
				}
				if seen[gi[k]] {
					t.Fatalf("prompt %v emitted twice", gi[k])
				}
				seen[gi[k]] = true
				if seen[[2]int{g, -1}] {
					hitWant += s / c.bs * c.bs
				}
				seen[[2]int{g, -1}] = true
			}
			if len(reqs) != 35 {
				t.Fatalf("%d requests, want 35", len(reqs))
			}
			checkBijection(t, reqs, c.bs, func(k, end int) key {
				g, i := gi[k][0], gi[k][1]
				if s, _ := p.Shape(g); end <= s {
					return key{g, -1, end}
				}
				return key{g, i, end}
			})
			if got := ideal(reqs, c.bs).hitTokens; got != hitWant {
				t.Fatalf("ideal hit tokens %d, want %d", got, hitWant)
			}
		})
	}
}

func TestGSPOrders(t *testing.T) {
	groupsOf := func(o Order) ([]int, []time.Duration) {
		p := DefaultGSP()
		p.Groups, p.PromptsPerGroup, p.TotalLens, p.Order = 6, 4, []int{64}, o
		var gs []int
		var at []time.Duration
		if err := p.generate(func(r *trace.Request, g, _ int) error {
			gs = append(gs, g)
			at = append(at, r.Arrival)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return gs, at
	}
	grouped, at1 := groupsOf(OrderGrouped)
	rr, at2 := groupsOf(OrderRoundRobin)
	random, at3 := groupsOf(OrderRandom)
	for k := range grouped {
		if grouped[k] != k/4 || rr[k] != k%6 {
			t.Fatalf("position %d: grouped group %d (want %d), round_robin %d (want %d)", k, grouped[k], k/4, rr[k], k%6)
		}
	}
	if slices.Equal(random, grouped) || slices.Equal(random, rr) {
		t.Fatalf("random order %v is not shuffled", random)
	}
	sorted := slices.Sorted(slices.Values(random))
	if !slices.Equal(sorted, slices.Sorted(slices.Values(grouped))) {
		t.Fatalf("random order %v does not hold every prompt once", random)
	}
	// Arrivals come from their own stream: the order does not move them.
	if !slices.Equal(at1, at2) || !slices.Equal(at1, at3) {
		t.Fatal("arrival times depend on the order")
	}
}

func TestGSPInfiniteRate(t *testing.T) {
	p := DefaultGSP()
	p.Groups, p.PromptsPerGroup, p.Rate = 3, 3, math.Inf(1)
	for _, r := range collect(t, &p) {
		if r.Arrival != 0 {
			t.Fatalf("request %d arrives at %v with an infinite rate", r.Index, r.Arrival)
		}
	}
}

func TestEmitErrorStops(t *testing.T) {
	stop := errors.New("disk full")
	for _, name := range Names() {
		g, _ := Default(name)
		n := 0
		err := g.Generate(func(*trace.Request) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 3 {
			t.Errorf("%s: err %v after %d requests, want %v after 3", name, err, n, stop)
		}
	}
}
