package route

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// llmd is this project's reading of llm-d's scorer set (SPEC §7):
//
//	score_i = 3·prefix_i + 2·queue_i + 2·kv_i        (highest wins)
//	prefix_i = matched blocks on i / request blocks  (0 for a request without blocks)
//	queue_i  = (max q − q_i)/(max q − min q)         (1 when all equal)
//	kv_i     = 1 − usage_i
//
// with q (requests waiting) and usage ((pinned + reserved)/B) sampled from
// the Cluster at every instant k·scrape_ms, k ≥ 0, and held between
// samples. The simulator calls Observe at each instant NextObserve names,
// before routing at the same time (a routing exactly at a scrape instant
// uses the new sample); a router that was not observed in time
// samples at its next Route (late, counted in lateSamples) so that it never
// uses a sample older than one period plus the gap. Matched blocks come from
// a routing-history tree trimmed like the sglang preset's, or precise=true
// from the workers' caches. The weights are parameters (default 3/2/2).
//
// Exact ties of the score (float64 ==) are broken uniformly at random from
// the router stream, as llm-d's max-score picker does (it shuffles the
// candidates, then sorts them stably by score): with t ≥ 2 workers tied at
// the top, one IntN(t) draw picks the k-th of them in index order; a
// decision without a tie draws nothing. So llmd is always Randomized.
//
// Idle instants are jumped over: when the Cluster also implements
// ClusterEvents (replay/sim's does), Observe moves the next scrape to the
// first instant at or after the simulator's next pending event. Waiting
// and Usage change only at events, so the instants skipped would have
// sampled exactly what the last one did, and the held sample is the same
// bits; a run costs O(events), not O(span / scrape_ms).
type llmd struct {
	base
	wp, wq, wk float64
	scrape     time.Duration
	overlap
	events      ClusterEvents // nil: scrape every instant
	next        time.Duration // next scrape instant
	q, usage    []float64
	lateSamples int64
	rng         *rand.Rand
}

// ruleLLMD: Scores = 3·prefix + 2·queue + 2·kv (weights as configured);
// A = prefix, B = queue, C = kv of the winner, D = its score, E = the
// number of workers tied at that score (the winner drawn among them when
// E > 1).
var ruleLLMD = &Rule{Name: "llmd", Unit: "score", Prefer: PreferHigh,
	Format: func(y Why, w int) string {
		s := fmt.Sprintf("llmd: highest score %s (prefix %.3g, queue %.3g, kv %.3g) → worker %d", g(y.D), y.A, y.B, y.C, w)
		if y.E > 1 {
			s += fmt.Sprintf(", drawn among %d tied", int(y.E))
		}
		return s
	}}

func parseLLMD(a *param.Args) Builder {
	wk := a.Float("kv_weight", 2, 0, 1e6)
	wp := a.Float("prefix_weight", 3, 0, 1e6)
	wq := a.Float("queue_weight", 2, 0, 1e6)
	scrape := a.Float("scrape_ms", 50, 0.001, 1e9)
	precise := a.Bool("precise", false)
	return func(env Env) (Router, error) {
		if env.Cluster == nil {
			return nil, errors.New("reads queue lengths and cache usage from the workers, which need the simulator (no cluster here)")
		}
		if env.Rand == nil {
			return nil, errors.New("breaks exact score ties with the router's random stream (Env.Rand)")
		}
		ov, err := newOverlap(env, precise)
		if err != nil {
			return nil, err
		}
		n := env.Workers
		r := &llmd{
			base: newBase(n), wp: wp, wq: wq, wk: wk,
			scrape:  time.Duration(scrape * float64(time.Millisecond)),
			overlap: ov, rng: env.Rand,
			q: make([]float64, n), usage: make([]float64, n),
		}
		r.events, _ = env.Cluster.(ClusterEvents)
		if !precise {
			r.tree = newHistory(env, sglangMaxTreeSize, sglangEvictInterval)
		}
		return r, nil
	}
}

// ClusterEvents is an optional part of a Cluster: a simulator that knows
// its pending events implements it so that llmd can skip scrape instants at
// which nothing can have changed.
type ClusterEvents interface {
	// NextEvent returns the time of the earliest event still pending (false
	// if none). Called from Observe: until that time Waiting and Usage
	// return what they return now.
	NextEvent() (time.Duration, bool)
}

func (r *llmd) NextObserve() (time.Duration, bool) { return r.next, true }

func (r *llmd) Observe(at time.Duration) {
	r.at(at)
	r.sample(at)
	if r.events == nil {
		return
	}
	// The instants before the next event would sample what this one did.
	if t, ok := r.events.NextEvent(); ok && t > r.next {
		r.next = r.instantFrom(t)
	}
}

func (r *llmd) sample(at time.Duration) {
	for i := range r.q {
		r.q[i] = float64(r.cluster.Waiting(i))
		r.usage[i] = r.cluster.Usage(i)
	}
	r.next = r.instantFrom(at + 1)
}

// instantFrom returns the first scrape instant k·scrape_ms ≥ t, saturating
// at the largest Duration (a negative t is an overflowed one).
func (r *llmd) instantFrom(t time.Duration) time.Duration {
	if t < 0 {
		return math.MaxInt64
	}
	k := t / r.scrape
	if k*r.scrape < t {
		k++
	}
	if k > math.MaxInt64/r.scrape {
		return math.MaxInt64
	}
	return k * r.scrape
}

func (r *llmd) Route(now time.Duration, req *trace.Request) Decision {
	r.at(now)
	if r.next <= now {
		r.lateSamples++
		r.sample(now)
	}
	r.advanceTree(now)
	r.match(req)
	maxQ, minQ := r.q[0], r.q[0]
	for _, q := range r.q[1:] {
		maxQ, minQ = max(maxQ, q), min(minQ, q)
	}
	nb := float64(len(req.Blocks))
	best, tied := 0, 0
	for i := range r.scores {
		prefix, queue, kv := r.terms(i, nb, maxQ, minQ)
		r.scores[i] = r.wp*prefix + r.wq*queue + r.wk*kv
		switch {
		case i == 0 || r.scores[i] > r.scores[best]:
			best, tied = i, 1
		case r.scores[i] == r.scores[best]:
			tied++
		}
	}
	if tied > 1 {
		// The k-th tied worker in index order, k uniform (SPEC §7).
		k := r.rng.IntN(tied)
		for i := best; ; i++ {
			if r.scores[i] == r.scores[best] {
				if k == 0 {
					best = i
					break
				}
				k--
			}
		}
	}
	r.reqs[best]++
	r.routed(best, req)
	bp, bq, bk := r.terms(best, nb, maxQ, minQ)
	return Decision{Worker: best, Scores: r.scores, Why: Why{Rule: ruleLLMD, Alt: -1, A: bp, B: bq, C: bk, D: r.scores[best], E: float64(tied)}}
}

// terms returns worker i's prefix, queue and kv terms for a request of nb
// blocks, with the sample's queue range [minQ, maxQ].
func (r *llmd) terms(i int, nb, maxQ, minQ float64) (prefix, queue, kv float64) {
	if nb > 0 {
		prefix = float64(r.blk[i]) / nb
	}
	queue = 1
	if maxQ > minQ {
		queue = (maxQ - r.q[i]) / (maxQ - minQ)
	}
	return prefix, queue, 1 - r.usage[i]
}

func (r *llmd) Complete(c Completion) error {
	if err := r.complete(c); err != nil {
		return err
	}
	r.advanceTree(c.Done)
	return nil
}

// Loads is the waiting-queue length of the latest sample.
func (r *llmd) Loads(now time.Duration, dst []float64) []float64 {
	r.at(now)
	r.advanceTree(now)
	return append(dst, r.q...)
}

func (r *llmd) LoadUnit() string { return "requests waiting (scraped)" }

// llmdParamDocs documents parseLLMD's parameters.
var llmdParamDocs = map[string]string{
	"prefix_weight": "weight of the prefix scorer (matched / chain blocks)",
	"queue_weight":  "weight of the queue scorer (scraped waiting-queue lengths)",
	"kv_weight":     "weight of the KV-cache usage scorer (scraped usage)",
	"scrape_ms":     "milliseconds between scrapes of queue lengths and cache usage",
	"precise":       "prefix matches from the workers' true caches instead of a routing-history tree",
}
