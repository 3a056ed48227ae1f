package route

import (
	"fmt"
	"github.com/kvscope/kvscope/replay/param"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// chainGen draws chains from a random prefix trie, so every id keeps one
// parent and one weight (a partial block ends its chains), as in a trace.
type chainGen struct {
	rng    *rand.Rand
	bs     int
	kids   map[int64][]trace.BlockID // parent (-1 root) → children
	weight map[trace.BlockID]int
	next   trace.BlockID
	fanout int
}

func newChainGen(seed uint64, bs, fanout int) *chainGen {
	return &chainGen{rng: rng(seed), bs: bs, kids: map[int64][]trace.BlockID{}, weight: map[trace.BlockID]int{}, fanout: fanout}
}

// request draws a request of up to maxLen blocks, maybe with tail tokens.
func (g *chainGen) request(idx, maxLen int) *trace.Request {
	n := 1 + g.rng.IntN(maxLen)
	r := &trace.Request{Index: idx, Output: g.rng.IntN(64)}
	parent := int64(-1)
	for len(r.Blocks) < n {
		ch := g.kids[parent]
		var b trace.BlockID
		if len(ch) > 0 && g.rng.IntN(g.fanout+1) > 0 {
			b = ch[g.rng.IntN(len(ch))]
		} else {
			b = g.next
			g.next++
			g.kids[parent] = append(ch, b)
			g.weight[b] = g.bs
			if g.bs > 1 && g.rng.IntN(8) == 0 {
				g.weight[b] = 1 + g.rng.IntN(g.bs-1)
			}
		}
		r.Blocks = append(r.Blocks, b)
		parent = int64(b)
		if g.weight[b] < g.bs {
			break
		}
	}
	if g.rng.IntN(10) == 0 {
		r.Blocks = nil // a request without ids (Azure-style)
	}
	if len(r.Blocks) > 0 {
		r.LastBlockTokens = g.weight[r.Blocks[len(r.Blocks)-1]]
	}
	r.Input = r.ChainTokens(g.bs)
	if g.rng.IntN(4) == 0 {
		r.Input += g.rng.IntN(g.bs) // tail tokens past the chain
	}
	return r
}

// conformanceSpecs covers every registered router and its main variants.
var conformanceSpecs = []string{
	"random", "round_robin", "least_load", "p2c", "consistent_hash", "consistent_hash:n=3",
	"cache_aware", "cache_aware:preset=sglang-0.4.6", "cache_aware:precise=true",
	"cache_aware:max_tree_size=200,eviction_interval_s=0.5",
	"dynamo", "dynamo:precise=false", "dynamo:temperature=0.5,overlap_weight=2",
	"lbgr", "lbgr:preset=paper", "lbgr:precise=true", "lbgr:preset=paper,precise=true",
	"llmd", "llmd:precise=true",
}

type inflight struct {
	req    *trace.Request
	worker int
	routed time.Duration
}

type step struct {
	worker int
	scores []float64
	reason string
	rule   *Rule
}

// drive runs nreq random requests with random completions through r,
// honouring NextObserve, and completes everything at the end. It checks
// every decision and returns them.
func drive(t testing.TB, r Router, cl *fakeCluster, n int, seed uint64, nreq int) []step {
	t.Helper()
	gen := newChainGen(seed, 16, 3)
	s := rng(seed + 1)
	var out []step
	var fly []inflight
	now := time.Duration(0)
	observe := func(upto time.Duration) {
		for {
			at, ok := r.NextObserve()
			if !ok || at > upto {
				return
			}
			r.Observe(at)
		}
	}
	complete := func(i int) {
		f := fly[i]
		fly[i] = fly[len(fly)-1]
		fly = fly[:len(fly)-1]
		observe(now)
		err := r.Complete(Completion{Worker: f.worker, Req: f.req, Routed: f.routed, Done: now, E2E: now - f.routed + ms(float64(s.IntN(50))), Failed: s.IntN(20) == 0})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range nreq {
		now += ms(s.ExpFloat64() * 15)
		if s.IntN(10) == 0 {
			now += 20 * time.Millisecond // land on decay and scrape instants now and then
			now -= now % (20 * time.Millisecond)
		}
		for w := range cl.waiting {
			cl.waiting[w] = s.IntN(5)
			cl.usage[w] = s.Float64()
			if i%2 == 0 {
				// Coarse usage, so that llmd's scores tie exactly now and
				// then (no extra draw: the workload stays the same).
				cl.usage[w] = math.Floor(cl.usage[w]*4) / 4
			}
		}
		for len(fly) > 0 && s.IntN(3) > 0 {
			complete(s.IntN(len(fly)))
		}
		observe(now)
		rq := gen.request(i, 12)
		d := r.Route(now, rq)
		if d.Worker < 0 || d.Worker >= n {
			t.Fatalf("request %d: worker %d of %d", i, d.Worker, n)
		}
		if len(d.Scores) != n {
			t.Fatalf("request %d: %d scores for %d workers", i, len(d.Scores), n)
		}
		for _, x := range d.Scores {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("request %d: scores %v", i, d.Scores)
			}
		}
		if d.Reason() == "" || d.Unit() == "" {
			t.Fatalf("request %d: empty reason or unit", i)
		}
		// Cache what was routed, so precise routers see something.
		cl.cache(d.Worker, rq.Blocks...)
		out = append(out, step{d.Worker, slices.Clone(d.Scores), d.Reason(), d.Why.Rule})
		fly = append(fly, inflight{rq, d.Worker, now})
	}
	for len(fly) > 0 {
		now += ms(s.ExpFloat64() * 5)
		complete(len(fly) - 1)
	}
	return out
}

type inflightCounter interface{ inflightCounts() []int64 }

func (b *base) inflightCounts() []int64 { return b.reqs }

func TestConformance(t *testing.T) {
	for _, spec := range conformanceSpecs {
		for _, n := range []int{1, 3, 8, 70} {
			t.Run(fmt.Sprintf("%s/%d", spec, n), func(t *testing.T) {
				nreq := 400
				if n == 70 {
					nreq = 150
				}
				// run drives the router on seed's workload with the router
				// stream of seed+stream.
				run := func(seed, stream uint64) ([]step, *fakeCluster, Router) {
					cl := newFakeCluster(n, 16)
					r, canon, err := New(spec, Env{Workers: n, BlockSize: 16, Rand: rng(seed + stream), CachedMs: 0.01, MissMs: 0.15, Cluster: cl})
					if err != nil {
						t.Fatal(err)
					}
					if _, canon2, err := New(canon, Env{Workers: n, BlockSize: 16, Rand: rng(seed + stream), CachedMs: 0.01, MissMs: 0.15, Cluster: cl}); err != nil || canon2 != canon {
						t.Fatalf("canonical %q does not round-trip: %q, %v", canon, canon2, err)
					}
					return drive(t, r, cl, n, seed, nreq), cl, r
				}
				same := func(x, y step) bool {
					return x.worker == y.worker && x.reason == y.reason && slices.Equal(x.scores, y.scores)
				}
				a, cl, r := run(5, 0)
				b, _, _ := run(5, 0)
				if !slices.EqualFunc(a, b, same) {
					t.Fatal("same seed, different decisions")
				}
				// The descriptor says whether the router draws: another
				// router stream changes nothing unless it is Randomized (and
				// with several workers, something when it is).
				sp, _ := param.Parse(spec)
				randomized, err := Randomized(sp)
				if err != nil {
					t.Fatal(err)
				}
				other, _, _ := run(5, 1000)
				if changed := !slices.EqualFunc(a, other, same); changed != (randomized && n > 1) {
					t.Fatalf("Randomized = %v, but another router stream changed decisions: %v", randomized, changed)
				}
				// Every decision carries one of the rules its router registers.
				info, _ := Lookup(sp.Name)
				for i, s := range a {
					if !slices.Contains(info.Rules, s.rule) {
						t.Fatalf("request %d: rule %v is not among %s's registered rules %v", i, s.rule, sp.Name, info.Rules)
					}
					// The rule's Prefer direction is the one its choices
					// follow: unless it draws (p2c's pair, a softmax
					// sample, a uniform pick), the chosen worker's score is
					// the best in that direction.
					if slices.Contains([]string{"p2c", "sampled", "random"}, s.rule.Name) || len(s.scores) != n {
						continue
					}
					// lbgr moves off the lowest index only for a gain
					// above 1 ms (its tie rule).
					tol := 0.0
					if s.rule == ruleLBGR {
						tol = 1
					}
					for w, v := range s.scores {
						c := s.scores[s.worker]
						if (s.rule.Prefer == PreferLow && v < c-tol) || (s.rule.Prefer == PreferHigh && v > c+tol) {
							t.Fatalf("request %d: rule %s prefers %d but chose worker %d (score %g) over worker %d (score %g)", i, s.rule, s.rule.Prefer, s.worker, c, w, v)
						}
					}
				}
				for w, c := range r.(inflightCounter).inflightCounts() {
					if c != 0 {
						t.Fatalf("worker %d has %d requests in flight after every completion", w, c)
					}
				}
				loads := r.Loads(time.Hour, nil)
				if len(loads) != n || r.LoadUnit() == "" {
					t.Fatalf("loads %v unit %q", loads, r.LoadUnit())
				}
				if _, llmd := r.(*llmd); !llmd {
					for w, l := range loads {
						if math.Abs(l) > 1e-9 {
							t.Fatalf("worker %d load %g after every completion", w, l)
						}
					}
				}
				precise := slices.Contains([]string{"cache_aware:precise=true", "dynamo", "dynamo:temperature=0.5,overlap_weight=2", "lbgr:precise=true", "lbgr:preset=paper,precise=true", "llmd:precise=true"}, spec)
				if !precise && cl.matchCalls != 0 {
					t.Fatalf("precise=false router called Cluster.Match %d times", cl.matchCalls)
				}
				if _, ok := r.(*llmd); !ok && cl.waitingCalls+cl.usageCalls != 0 {
					t.Fatalf("%s read queue or usage of the cluster", spec)
				}
				if precise && cl.matchCalls == 0 {
					t.Fatal("precise router never read the cluster")
				}
				if len(a) > 1 && n > 1 {
					seen := map[int]bool{}
					for _, s := range a {
						seen[s.worker] = true
					}
					if len(seen) < 2 && spec != "consistent_hash:n=3" {
						t.Fatalf("every request went to one worker")
					}
				}
			})
		}
	}
}

// A cluster that caches exactly what was routed and never evicts is what a
// routing-history tree believes: precise and tree-fed routers must then
// decide alike (a cross-check of the trees' matching).
func TestPreciseEqualsTreeWithoutEvictions(t *testing.T) {
	pairs := [][2]string{
		{"cache_aware", "cache_aware:precise=true"},
		{"dynamo:precise=false", "dynamo"},
		{"lbgr", "lbgr:precise=true"},
		{"lbgr:preset=paper", "lbgr:preset=paper,precise=true"},
		{"llmd", "llmd:precise=true"},
	}
	for _, p := range pairs {
		for _, n := range []int{3, 70} {
			var runs [2][]step
			for i, spec := range p {
				cl := newFakeCluster(n, 16)
				r := mustNew(t, spec, Env{Workers: n, BlockSize: 16, Rand: rng(1), MissMs: 0.15, CachedMs: 0.01, Cluster: cl})
				runs[i] = drive(t, r, cl, n, 21, 500)
			}
			for k := range runs[0] {
				a, b := runs[0][k], runs[1][k]
				if a.worker != b.worker || !slices.Equal(a.scores, b.scores) {
					t.Fatalf("%v n=%d request %d: tree %d %v, precise %d %v", p, n, k, a.worker, a.scores, b.worker, b.scores)
				}
			}
		}
	}
}
