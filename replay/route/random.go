package route

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// random sends each request to a worker drawn uniformly from the router
// stream: exactly one IntN(workers) draw per request.
type random struct {
	base
	rng *rand.Rand
}

// ruleRandom: Scores = each worker's probability (1/workers).
var ruleRandom = &Rule{Name: "random", Unit: "probability", Prefer: PreferHigh,
	Format: func(_ Why, w int) string { return fmt.Sprintf("uniform random draw → worker %d", w) }}

func parseRandom(*param.Args) Builder {
	return func(env Env) (Router, error) {
		if env.Rand == nil {
			return nil, errors.New("needs the router's random stream (Env.Rand)")
		}
		r := &random{base: newBase(env.Workers), rng: env.Rand}
		r.timeless = true
		for i := range r.scores {
			r.scores[i] = 1 / float64(env.Workers)
		}
		return r, nil
	}
}

func (r *random) Route(now time.Duration, _ *trace.Request) Decision {
	r.at(now)
	w := r.rng.IntN(r.n)
	r.reqs[w]++
	return Decision{Worker: w, Scores: r.scores, Why: Why{Rule: ruleRandom, Alt: -1}}
}

func (r *random) Complete(c Completion) error { return r.complete(c) }

func (r *random) Loads(now time.Duration, dst []float64) []float64 {
	return r.requestLoads(now, dst)
}

func (r *random) LoadUnit() string { return "requests" }
