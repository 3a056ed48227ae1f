package route

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// tokenLoad counts, per worker, the input+output tokens of requests routed
// and not completed (least_load's and p2c's load).
type tokenLoad struct {
	base
	tokens []float64
}

func newTokenLoad(n int) tokenLoad {
	return tokenLoad{base: newBase(n), tokens: make([]float64, n)}
}

func reqTokens(r *trace.Request) float64 { return float64(r.Input + r.Output) }

func (t *tokenLoad) Complete(c Completion) error {
	if err := t.complete(c); err != nil {
		return err
	}
	t.tokens[c.Worker] -= reqTokens(c.Req)
	if t.reqs[c.Worker] == 0 {
		t.tokens[c.Worker] = 0 // exact: integers below 2^53 anyway
	}
	return nil
}

func (t *tokenLoad) Loads(now time.Duration, dst []float64) []float64 {
	t.at(now)
	return append(dst, t.tokens...)
}

func (t *tokenLoad) LoadUnit() string { return "tokens in flight" }

// leastLoad sends a request to the worker with the fewest input+output
// tokens in flight (ties to the lowest index).
type leastLoad struct{ tokenLoad }

// ruleLeastLoad: Scores = tokens (input+output) in flight; A = the largest
// load, C = the winner's.
var ruleLeastLoad = &Rule{Name: "least_load", Unit: "tokens in flight", Prefer: PreferLow,
	Format: func(y Why, w int) string {
		return fmt.Sprintf("least load: worker %d has %s tokens in flight, the fewest (most: %s)", w, g(y.C), g(y.A))
	}}

// ruleP2C: Scores = tokens in flight; Alt = the other drawn worker, A = its
// load, C = the winner's.
var ruleP2C = &Rule{Name: "p2c", Unit: "tokens in flight", Prefer: PreferLow,
	Format: func(y Why, w int) string {
		if y.Alt < 0 {
			return fmt.Sprintf("power of two choices: single worker %d", w)
		}
		return fmt.Sprintf("power of two choices: drew workers %d and %d; worker %d has %s tokens in flight ≤ %s (ties to the lower index)",
			min(w, y.Alt), max(w, y.Alt), w, g(y.C), g(y.A))
	}}

func parseLeastLoad(*param.Args) Builder {
	return func(env Env) (Router, error) {
		return &leastLoad{newTokenLoad(env.Workers)}, nil
	}
}

func (r *leastLoad) Route(now time.Duration, req *trace.Request) Decision {
	r.at(now)
	copy(r.scores, r.tokens)
	w := argmin(r.scores)
	y := Why{Rule: ruleLeastLoad, Alt: -1, A: r.scores[argmax(r.scores)], C: r.scores[w]}
	r.reqs[w]++
	r.tokens[w] += reqTokens(req)
	return Decision{Worker: w, Scores: r.scores, Why: y}
}

// p2c draws two distinct workers from the router stream (a = IntN(n),
// then b = IntN(n−1), shifted past a) and sends the request to the one
// with fewer tokens in flight, ties to the lower index. With one worker it
// draws nothing.
type p2c struct {
	tokenLoad
	rng *rand.Rand
}

func parseP2C(*param.Args) Builder {
	return func(env Env) (Router, error) {
		if env.Rand == nil {
			return nil, errors.New("needs the router's random stream (Env.Rand)")
		}
		return &p2c{tokenLoad: newTokenLoad(env.Workers), rng: env.Rand}, nil
	}
}

// draw returns two distinct workers, the lower index first.
func (r *p2c) draw() (int, int) {
	a := r.rng.IntN(r.n)
	b := r.rng.IntN(r.n - 1)
	if b >= a {
		b++
	}
	return min(a, b), max(a, b)
}

func (r *p2c) Route(now time.Duration, req *trace.Request) Decision {
	r.at(now)
	copy(r.scores, r.tokens)
	w, alt := 0, -1
	if r.n > 1 {
		a, b := r.draw()
		w, alt = a, b
		if r.tokens[b] < r.tokens[a] {
			w, alt = b, a
		}
	}
	y := Why{Rule: ruleP2C, Alt: alt, C: r.tokens[w]}
	if alt >= 0 {
		y.A = r.tokens[alt]
	}
	r.reqs[w]++
	r.tokens[w] += reqTokens(req)
	return Decision{Worker: w, Scores: r.scores, Why: y}
}
