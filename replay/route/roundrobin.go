package route

import (
	"fmt"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// roundRobin sends the k-th routed request (from 0) to worker k mod
// workers, whatever the request.
type roundRobin struct {
	base
	next int64
}

// ruleRoundRobin: Scores = turns until each worker's turn (0 = this
// request's); A = the rotation counter before this request.
var ruleRoundRobin = &Rule{Name: "round_robin", Unit: "turns until its turn", Prefer: PreferLow,
	Format: func(y Why, w int) string {
		return fmt.Sprintf("round robin: request %d of the rotation → worker %d", int64(y.A), w)
	}}

func parseRoundRobin(*param.Args) Builder {
	return func(env Env) (Router, error) {
		r := &roundRobin{base: newBase(env.Workers)}
		r.timeless = true
		return r, nil
	}
}

func (r *roundRobin) Route(now time.Duration, _ *trace.Request) Decision {
	r.at(now)
	w := int(r.next % int64(r.n))
	for i := range r.scores {
		r.scores[i] = float64((i - w + r.n) % r.n)
	}
	y := Why{Rule: ruleRoundRobin, Alt: -1, A: float64(r.next)}
	r.next++
	r.reqs[w]++
	return Decision{Worker: w, Scores: r.scores, Why: y}
}

func (r *roundRobin) Complete(c Completion) error { return r.complete(c) }

func (r *roundRobin) Loads(now time.Duration, dst []float64) []float64 {
	return r.requestLoads(now, dst)
}

func (r *roundRobin) LoadUnit() string { return "requests" }
