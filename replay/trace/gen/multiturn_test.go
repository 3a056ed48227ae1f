package gen

import (
	"math"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

func TestMultiturnDefaults(t *testing.T) {
	p := DefaultMultiturn()
	reqs := collect(t, &p)
	checkWellFormed(t, reqs, 16)
	// 128 clients cycling over 2, 4, 6, 8 turns: 32 of each.
	if len(reqs) != 32*(2+4+6+8) {
		t.Fatalf("requests = %d, want 640", len(reqs))
	}
	tokens, hits := 0, 0
	for _, T := range []int{2, 4, 6, 8} {
		for turn := 1; turn <= T; turn++ {
			in := turn*1024 + (turn-1)*4
			tokens += 32 * in
			if turn > 1 {
				prev := (turn-1)*1024 + (turn-2)*4
				hits += 32 * (prev / 16 * 16) // the previous turn's full blocks
			}
		}
	}
	res := ideal(reqs, 16)
	if res.tokens != tokens || res.hitTokens != hits {
		t.Fatalf("tokens %d hit %d, want %d and %d", res.tokens, res.hitTokens, tokens, hits)
	}
	t.Logf("multiturn defaults: %d requests, %d input tokens, ideal token hit ratio %.6f", len(reqs), res.tokens, res.tokenRatio())
}

// TestMultiturnStructure checks sharing against a token-content model (a
// conversation is one stream: a block's content is its session and its
// end), parents, turns, think times and open-loop timing.
func TestMultiturnStructure(t *testing.T) {
	for _, c := range []struct {
		name          string
		turns         []int
		user, out, bs int
		think, rate   float64
	}{
		{"defaults small", []int{2, 4, 6, 8}, 1024, 4, 16, 0, 12},
		{"unaligned", []int{5, 1, 3}, 37, 5, 16, 1.5, 2},
		{"token level", []int{4}, 7, 3, 1, 0.25, 100},
		{"block bigger than a turn", []int{6, 2}, 10, 3, 64, 0, 12},
		{"no output", []int{3}, 20, 0, 8, 0, 12},
		{"all at once", []int{3, 2}, 40, 4, 16, 0.5, math.Inf(1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Multiturn{Clients: 9, Turns: c.turns, UserLen: c.user, OutputLen: c.out,
				Rate: c.rate, ThinkS: c.think, BlockSize: c.bs, Seed: 3}
			reqs := collect(t, &p)
			checkWellFormed(t, reqs, c.bs)
			type key struct{ s, end int }
			checkBijection(t, reqs, c.bs, func(k, end int) key { return key{int(reqs[k].Session), end} })

			res := ideal(reqs, c.bs)
			last := map[int64]*trace.Request{}
			var starts []time.Duration
			thinkNs := time.Duration(math.Round(c.think * 1e9))
			for k := range reqs {
				r := &reqs[k]
				prev := last[r.Session]
				wantTurn := 1
				if prev != nil {
					wantTurn = prev.Turn + 1
				}
				if r.Turn != wantTurn {
					t.Fatalf("request %d (client %d): turn %d, want %d", k, r.Session, r.Turn, wantTurn)
				}
				if in := r.Turn*c.user + (r.Turn-1)*c.out; r.Input != in || r.Output != c.out {
					t.Fatalf("request %d: input %d output %d, want %d and %d", k, r.Input, r.Output, in, c.out)
				}
				if prev == nil {
					if r.Parent != trace.NoParent || r.ThinkS != 0 {
						t.Fatalf("first turn %d: parent %d think %v", k, r.Parent, r.ThinkS)
					}
					if int(r.Session) != len(starts) {
						t.Fatalf("client %d starts before client %d", r.Session, len(starts))
					}
					starts = append(starts, r.Arrival)
				} else {
					if r.Parent != prev.ID || r.ThinkS != c.think {
						t.Fatalf("request %d: parent %d think %v, want %d and %v", k, r.Parent, r.ThinkS, prev.ID, c.think)
					}
					// The previous turn's service: its missed tokens (those
					// an infinite cache did not hold) at 0.15 ms each.
					missed := prev.Input - res.perReq[prev.Index]
					want := prev.Arrival + time.Duration(missed)*150*time.Microsecond + thinkNs
					if r.Arrival != want {
						t.Fatalf("request %d arrives at %v, want %v (parent at %v, %d missed tokens)", k, r.Arrival, want, prev.Arrival, missed)
					}
					// The whole previous prompt's full blocks are reused.
					full := prev.Input / c.bs
					for j := 0; j < full; j++ {
						if r.Blocks[j] != prev.Blocks[j] {
							t.Fatalf("request %d block %d is %d, previous turn had %d", k, j, r.Blocks[j], prev.Blocks[j])
						}
					}
					if full < len(prev.Blocks) && full < len(r.Blocks) && r.Blocks[full] == prev.Blocks[full] {
						t.Fatalf("request %d reuses the previous turn's partial block %d", k, prev.Blocks[full])
					}
				}
				last[r.Session] = r
			}
			if len(starts) != p.Clients {
				t.Fatalf("%d clients started, want %d", len(starts), p.Clients)
			}
			for cl, r := range last {
				if want := c.turns[int(cl)%len(c.turns)]; r.Turn != want {
					t.Fatalf("client %d ends at turn %d, want %d", cl, r.Turn, want)
				}
			}
			if starts[0] != 0 {
				t.Fatalf("first client starts at %v", starts[0])
			}
			if math.IsInf(c.rate, 1) && starts[len(starts)-1] != 0 {
				t.Fatalf("infinite rate: last client starts at %v", starts[len(starts)-1])
			}
		})
	}
}

// TestMultiturnStreams checks that a long trace holds only the clients in
// conversation: with clients starting every ~0.1 s and conversations of
// about a second, a handful are live at once.
func TestMultiturnStreams(t *testing.T) {
	p := DefaultMultiturn()
	p.Clients = 20000
	live, peak := map[int64]int{}, 0
	err := p.Generate(func(r *trace.Request) error {
		live[r.Session] = r.Turn
		if r.Turn == p.Turns[int(r.Session)%len(p.Turns)] {
			delete(live, r.Session)
		}
		peak = max(peak, len(live))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if peak > 64 {
		t.Fatalf("%d conversations live at once", peak)
	}
	// The heap holds the live clients and the next one to start; measure
	// its allocations per request instead of trusting the count above.
	small := DefaultMultiturn()
	small.Clients = 2000
	n := 0
	allocs := testing.AllocsPerRun(1, func() {
		n = 0
		_ = small.Generate(func(*trace.Request) error { n++; return nil })
	})
	if per := allocs / float64(n); per > 2 {
		t.Fatalf("%.2f allocations per request", per)
	}
}
