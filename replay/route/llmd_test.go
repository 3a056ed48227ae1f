package route

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

func TestLLMDScores(t *testing.T) {
	cl := newFakeCluster(4, 16)
	cl.waiting = []int{5, 3, 3, 1}
	cl.usage = []float64{0.5, 0.1, 0.9, 0}
	r := mustNew(t, "llmd", Env{Workers: 4, BlockSize: 16, Rand: rng(1), Cluster: cl}).(*llmd)
	r.Observe(0)
	// Worker 2's routing tree holds 3 of the request's 4 blocks.
	r.tree.insert(2, req(-1, 16, ids(1, 2, 3), 0, 0))
	d := r.Route(ms(10), req(0, 16, ids(1, 2, 3, 4), 0, 0))
	// prefix [0 0 .75 0], queue (5−q)/(5−1) = [0 .5 .5 1], kv [.5 .9 .1 1].
	want := []float64{2 * 0.5, 2*0.5 + 2*0.9, 3*0.75 + 2*0.5 + 2*0.1, 2 + 2}
	for i := range want {
		if math.Abs(d.Scores[i]-want[i]) > 1e-12 {
			t.Fatalf("scores %v, want %v", d.Scores, want)
		}
	}
	if d.Worker != 3 || d.Why.A != 0 || d.Why.B != 1 || d.Why.C != 1 {
		t.Fatalf("worker %d why %+v", d.Worker, d.Why)
	}
	if !strings.Contains(d.Reason(), "llmd: highest score 4") {
		t.Fatalf("reason %q", d.Reason())
	}
	// All queues equal → queue 1 for all; a four-way tie, drawn.
	cl.waiting = []int{3, 3, 3, 3}
	cl.usage = []float64{0.2, 0.2, 0.2, 0.2}
	r.Observe(ms(50))
	d = r.Route(ms(50), req(1, 16, nil, 0, 0))
	if d.Scores[0] != 2+2*0.8 || d.Scores[3] != d.Scores[0] || d.Why.E != 4 {
		t.Fatalf("equal: worker %d scores %v why %+v", d.Worker, d.Scores, d.Why)
	}
	if want := fmt.Sprintf("→ worker %d, drawn among 4 tied", d.Worker); !strings.HasSuffix(d.Reason(), want) {
		t.Fatalf("reason %q, want it to end in %q", d.Reason(), want)
	}
}

// Exact score ties are drawn uniformly from the router stream (SPEC §7, as
// llm-d's max-score picker shuffles before its stable sort); a unique top
// score draws nothing, so decisions without a tie are what they were.
func TestLLMDTies(t *testing.T) {
	const seeds = 400
	for _, c := range []struct {
		name    string
		waiting []int
		usage   []float64
		cached  map[int][]trace.BlockID // worker → blocks in its routing tree
		tied    []int                   // the workers tied at the top
	}{
		{name: "four idle workers", waiting: []int{0, 0, 0, 0}, usage: []float64{0, 0, 0, 0}, tied: []int{0, 1, 2, 3}},
		{name: "queues and usage equal, not idle", waiting: []int{4, 4, 4, 4}, usage: []float64{0.375, 0.375, 0.375, 0.375}, tied: []int{0, 1, 2, 3}},
		{name: "two of five, not adjacent", waiting: []int{2, 0, 1, 0, 2}, usage: []float64{0.5, 0.25, 0.25, 0.25, 0.5}, tied: []int{1, 3}},
		{name: "equal prefixes, queue and kv trade off", waiting: []int{0, 2, 1}, usage: []float64{1, 0, 0.5},
			cached: map[int][]trace.BlockID{0: ids(1, 2), 1: ids(1, 2), 2: ids(1, 2)}, tied: []int{0, 1, 2}},
		{name: "a prefix breaks the tie", waiting: []int{0, 0, 0}, usage: []float64{0, 0, 0},
			cached: map[int][]trace.BlockID{2: ids(1)}, tied: []int{2}},
		{name: "one worker", waiting: []int{7}, usage: []float64{0.5}, tied: []int{0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := len(c.waiting)
			count := make([]int, n)
			for seed := range uint64(seeds) {
				route := func() (Decision, *llmd) {
					cl := newFakeCluster(n, 16)
					copy(cl.waiting, c.waiting)
					copy(cl.usage, c.usage)
					r := mustNew(t, "llmd", Env{Workers: n, BlockSize: 16, Rand: rng(seed), Cluster: cl}).(*llmd)
					for w, b := range c.cached {
						r.tree.insert(w, req(-1, 16, b, 0, 0))
					}
					r.Observe(0)
					return r.Route(ms(1), req(0, 16, ids(1, 2, 3, 4), 0, 0)), r
				}
				d, r := route()
				if again, _ := route(); again.Worker != d.Worker {
					t.Fatalf("seed %d: worker %d, then %d with the same seed", seed, d.Worker, again.Worker)
				}
				if !slices.Contains(c.tied, d.Worker) || d.Why.E != float64(len(c.tied)) {
					t.Fatalf("seed %d: worker %d (why %+v), want one of %v", seed, d.Worker, d.Why, c.tied)
				}
				for w := range n {
					if top := d.Scores[c.tied[0]]; (d.Scores[w] == top) != slices.Contains(c.tied, w) {
						t.Fatalf("scores %v: the tie is not %v", d.Scores, c.tied)
					}
				}
				// A unique top score leaves the stream untouched.
				if len(c.tied) == 1 && r.rng.Uint64() != rng(seed).Uint64() {
					t.Fatalf("seed %d: drew without a tie", seed)
				}
				count[d.Worker]++
			}
			// Uniform among the tied: each gets seeds/t ± 40% (for t = 4,
			// 60..140 of 400; binomial σ ≈ 8.7, so the bound is 4.6σ).
			want := float64(seeds) / float64(len(c.tied))
			for _, w := range c.tied {
				if f := float64(count[w]); f < 0.6*want || f > 1.4*want {
					t.Errorf("worker %d picked %d times of %d, want about %.0f (counts %v)", w, count[w], seeds, want, count)
				}
			}
			t.Logf("counts %v", count)
		})
	}
}

// Over a random workload, every decision picks a worker with the top score
// and its reason names a tie exactly when there is one; ties do occur (the
// conformance workload makes usage coarse every other request).
func TestLLMDDecisionsPickTheTop(t *testing.T) {
	for _, spec := range []string{"llmd", "llmd:precise=true"} {
		for _, n := range []int{2, 3, 8} {
			cl := newFakeCluster(n, 16)
			var ties int
			for i, s := range drive(t, mustNew(t, spec, Env{Workers: n, BlockSize: 16, Rand: rng(7), Cluster: cl}), cl, n, 9, 400) {
				top := slices.Max(s.scores)
				var tied []int
				for w, x := range s.scores {
					if x == top {
						tied = append(tied, w)
					}
				}
				if !slices.Contains(tied, s.worker) {
					t.Fatalf("%s n=%d request %d: worker %d, top score on %v (scores %v)", spec, n, i, s.worker, tied, s.scores)
				}
				if len(tied) > 1 {
					ties++
					if !strings.Contains(s.reason, fmt.Sprintf("drawn among %d tied", len(tied))) {
						t.Fatalf("%s n=%d request %d: reason %q for a %d-way tie", spec, n, i, s.reason, len(tied))
					}
				} else if strings.Contains(s.reason, "tied") {
					t.Fatalf("%s n=%d request %d: reason %q without a tie", spec, n, i, s.reason)
				}
			}
			if ties == 0 {
				t.Fatalf("%s n=%d: no tie in 400 decisions; the test shows nothing", spec, n)
			}
			t.Logf("%s n=%d: %d ties of 400", spec, n, ties)
		}
	}
}

func TestLLMDScrapeInstants(t *testing.T) {
	cl := newFakeCluster(2, 16)
	r := mustNew(t, "llmd", Env{Workers: 2, BlockSize: 16, Rand: rng(1), Cluster: cl}).(*llmd)
	if at, ok := r.NextObserve(); !ok || at != 0 {
		t.Fatalf("first scrape at %v %v, want 0", at, ok)
	}
	cl.waiting = []int{5, 0}
	r.Observe(0)
	if at, _ := r.NextObserve(); at != 50*time.Millisecond {
		t.Fatalf("next scrape %v", at)
	}
	// The cluster changes at 10 ms; a routing at 49.999 ms still sees the
	// 0 ms sample (worker 1 has the shorter queue).
	cl.waiting = []int{0, 5}
	if d := r.Route(ms(49.999), req(0, 16, nil, 0, 0)); d.Worker != 1 {
		t.Fatalf("routed on a sample it should not have yet: %d %v", d.Worker, d.Scores)
	}
	r.Observe(ms(50))
	if d := r.Route(ms(50), req(1, 16, nil, 0, 0)); d.Worker != 0 {
		t.Fatalf("at 50 ms: worker %d", d.Worker)
	}
	if r.lateSamples != 0 {
		t.Fatal("late samples with a punctual simulator")
	}
	// A caller that skips Observe gets a late sample at its next routing.
	cl.waiting = []int{9, 0}
	if d := r.Route(ms(170), req(2, 16, nil, 0, 0)); d.Worker != 1 || r.lateSamples != 1 {
		t.Fatalf("late: worker %d late %d", d.Worker, r.lateSamples)
	}
	if at, _ := r.NextObserve(); at != 200*time.Millisecond {
		t.Fatalf("next after a late sample %v", at)
	}
	if _, _, err := New("llmd", Env{Workers: 2, BlockSize: 16}); err == nil {
		t.Fatal("llmd without a cluster accepted")
	}
}

// eventCluster is a fakeCluster that tells llmd when its next event is
// (route.ClusterEvents), as replay/sim's does.
type eventCluster struct {
	*fakeCluster
	next func() (time.Duration, bool)
}

func (c eventCluster) NextEvent() (time.Duration, bool) { return c.next() }

// llmdScript drives llmd the way replay/sim does: cluster changes, then
// scrape instants, then arrivals at equal times, the scrape scheduled at
// NextObserve. It returns every decision's worker and scores, and the
// number of Observe calls.
func llmdScript(t *testing.T, spec string, withEvents bool) (dec [][]float64, observes int) {
	t.Helper()
	type change struct {
		at      time.Duration
		waiting []int
		usage   []float64
	}
	s := rng(11)
	const n = 3
	var changes []change
	var arrivals []time.Duration
	now := time.Duration(0)
	for range 400 {
		gap := time.Duration(s.IntN(int(80 * time.Millisecond)))
		if s.IntN(6) == 0 {
			gap = time.Duration(s.IntN(int(30 * time.Second))) // idle stretches
		}
		if s.IntN(5) == 0 {
			gap -= gap % (50 * time.Millisecond) // on a scrape instant
		}
		now += gap
		if s.IntN(2) == 0 {
			c := change{at: now, waiting: make([]int, n), usage: make([]float64, n)}
			for i := range n {
				c.waiting[i], c.usage[i] = s.IntN(6), float64(s.IntN(9))/8
			}
			changes = append(changes, c)
		} else {
			arrivals = append(arrivals, now)
		}
	}
	cl := newFakeCluster(n, 16)
	next := func() (time.Duration, bool) {
		switch {
		case len(changes) > 0 && len(arrivals) > 0:
			return min(changes[0].at, arrivals[0]), true
		case len(changes) > 0:
			return changes[0].at, true
		case len(arrivals) > 0:
			return arrivals[0], true
		}
		return 0, false
	}
	var c Cluster = cl
	if withEvents {
		c = eventCluster{cl, next}
	}
	r := mustNew(t, spec, Env{Workers: n, BlockSize: 16, Rand: rng(1), Cluster: c})
	gen := newChainGen(5, 16, 3)
	for i := 0; len(changes) > 0 || len(arrivals) > 0; {
		at, _ := r.NextObserve()
		ev, _ := next()
		switch {
		case len(changes) > 0 && changes[0].at <= at && changes[0].at == ev:
			copy(cl.waiting, changes[0].waiting)
			copy(cl.usage, changes[0].usage)
			changes = changes[1:]
		case at <= ev:
			r.Observe(at)
			observes++
		default:
			d := r.Route(arrivals[0], gen.request(i, 4))
			dec = append(dec, append([]float64{float64(d.Worker)}, d.Scores...))
			arrivals = arrivals[1:]
			i++
		}
	}
	if l := r.(*llmd).lateSamples; l != 0 {
		t.Fatalf("%d late samples", l)
	}
	return dec, observes
}

// Skipping idle scrape instants changes no decision and no score bit, and
// costs Observe calls in proportion to events, not to the span.
func TestLLMDSkipsIdleInstants(t *testing.T) {
	for _, spec := range []string{"llmd", "llmd:scrape_ms=7", "llmd:scrape_ms=1000"} {
		every, nEvery := llmdScript(t, spec, false)
		skip, nSkip := llmdScript(t, spec, true)
		if len(every) == 0 || len(every) != len(skip) {
			t.Fatalf("%s: %d and %d decisions", spec, len(every), len(skip))
		}
		for i := range every {
			if !slices.Equal(every[i], skip[i]) {
				t.Fatalf("%s: decision %d: every instant %v, skipping %v", spec, i, every[i], skip[i])
			}
		}
		// 400 events: at most one scrape after each, plus the first.
		if nSkip > 401 || nEvery < 10*nSkip && spec != "llmd:scrape_ms=1000" {
			t.Fatalf("%s: %d scrapes skipping, %d every instant", spec, nSkip, nEvery)
		}
		t.Logf("%s: %d decisions; %d scrapes every instant, %d skipping", spec, len(every), nEvery, nSkip)
	}
	// The next scrape after an Observe: the first instant at or after the
	// next event, never the instant just sampled.
	for _, c := range []struct {
		ev   time.Duration
		ok   bool
		want time.Duration
	}{
		{ms(1000), true, ms(1000)}, {ms(1010), true, ms(1050)}, {ms(100), true, ms(150)},
		{ms(120), true, ms(150)}, {ms(0), false, ms(150)}, {ms(100), false, ms(150)},
		{math.MaxInt64 - 1, true, math.MaxInt64},
	} {
		cl := eventCluster{newFakeCluster(2, 16), func() (time.Duration, bool) { return c.ev, c.ok }}
		r := mustNew(t, "llmd", Env{Workers: 2, BlockSize: 16, Rand: rng(1), Cluster: cl}).(*llmd)
		r.Observe(ms(100))
		if at, _ := r.NextObserve(); at != c.want {
			t.Errorf("next event %v %v: next scrape %v, want %v", c.ev, c.ok, at, c.want)
		}
	}
}
