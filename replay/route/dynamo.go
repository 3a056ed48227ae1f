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

// dynamo is NVIDIA Dynamo's KV router (SPEC §7), in blocks:
//
//	prefill_i = input blocks − overlap blocks on i
//	decode_i  = input blocks of requests routed to i and not completed
//	            + the new request's input blocks
//	cost_i    = overlap_weight·prefill_i + decode_i
//
// Input blocks are ⌈input tokens / block size⌉ (at least the chain length),
// so tail tokens without ids count as a block, as a paged engine holds them.
// Overlap is the worker's true cached prefix (precise=true, the default:
// Dynamo is fed KV events) or, with precise=false, the prefix on a
// routing-history tree trimmed like the sglang preset's.
//
// temperature = 0 picks the lowest cost (ties to the lowest index) and draws
// nothing. temperature > 0 normalises c'_i = (c_i − min)/(max − min) (all 0
// when equal) and draws one Float64 u from the router stream, taking the
// first worker in index order whose cumulative weight exp(−c'_i/T) exceeds
// u·Σ.
type dynamo struct {
	base
	ow, temp float64
	bs       int
	overlap
	rng      *rand.Rand
	inflight []float64 // input blocks in flight per worker
	pre      []float64
	wts      []float64
}

// dynamo's rules: the lowest cost (temperature 0) or a softmax draw.
var (
	// ruleLowestCost: Scores = cost; A = cost, B = overlap_weight,
	// C = prefill blocks, D = decode blocks of the winner.
	ruleLowestCost = &Rule{Name: "lowest_cost", Unit: "cost (blocks)", Prefer: PreferLow,
		Format: func(y Why, w int) string {
			return fmt.Sprintf("lowest cost %s = %s·%s prefill + %s decode blocks → worker %d", g(y.A), g(y.B), g(y.C), g(y.D), w)
		}}
	// ruleSampled: Scores = cost; A = the winner's probability,
	// B = temperature, C = the winner's cost, Alt = the lowest-cost worker,
	// D = its cost.
	ruleSampled = &Rule{Name: "sampled", Unit: "cost (blocks)", Prefer: PreferLow,
		Format: func(y Why, w int) string {
			return fmt.Sprintf("softmax at temperature %s: drew worker %d (p = %.3g, cost %s); lowest cost was worker %d (%s)",
				g(y.B), w, y.A, g(y.C), y.Alt, g(y.D))
		}}
	dynamoRules = []*Rule{ruleLowestCost, ruleSampled}
)

// dynamoTemperature reads dynamo's temperature, for parseDynamo and
// dynamoRandomized alike.
func dynamoTemperature(a *param.Args) float64 { return a.Float("temperature", 0, 0, 1e9) }

// dynamoRandomized: only temperature > 0 draws.
func dynamoRandomized(a *param.Args) bool { return dynamoTemperature(a) > 0 }

func parseDynamo(a *param.Args) Builder {
	ow := a.Float("overlap_weight", 1, 0, 1e9)
	temp := dynamoTemperature(a)
	precise := a.Bool("precise", true)
	return func(env Env) (Router, error) {
		ov, err := newOverlap(env, precise)
		if err != nil {
			return nil, err
		}
		if temp > 0 && env.Rand == nil {
			return nil, errors.New("temperature > 0 needs the router's random stream (Env.Rand)")
		}
		n := env.Workers
		r := &dynamo{
			base: newBase(n), ow: ow, temp: temp, bs: env.BlockSize, overlap: ov, rng: env.Rand,
			inflight: make([]float64, n), pre: make([]float64, n), wts: make([]float64, n),
		}
		if !precise {
			r.tree = newHistory(env, sglangMaxTreeSize, sglangEvictInterval)
		}
		return r, nil
	}
}

func (r *dynamo) Route(now time.Duration, req *trace.Request) Decision {
	r.at(now)
	in := float64(inputBlocks(req, r.bs))
	r.advanceTree(now)
	r.match(req)
	for i := range r.scores {
		r.pre[i] = in - float64(r.blk[i])
		r.scores[i] = r.ow*r.pre[i] + r.inflight[i] + in
	}
	low := argmin(r.scores)
	w := low
	var y Why
	if r.temp > 0 {
		lo, hi := r.scores[low], r.scores[argmax(r.scores)]
		sum := 0.0
		for i, c := range r.scores {
			x := 0.0
			if hi > lo {
				x = (c - lo) / (hi - lo)
			}
			r.wts[i] = math.Exp(-x / r.temp)
			sum += r.wts[i]
		}
		u := r.rng.Float64() * sum
		acc := 0.0
		w = r.n - 1
		for i, x := range r.wts {
			if acc += x; u < acc {
				w = i
				break
			}
		}
		y = Why{Rule: ruleSampled, Alt: low, A: r.wts[w] / sum, B: r.temp, C: r.scores[w], D: r.scores[low]}
	} else {
		y = Why{Rule: ruleLowestCost, Alt: -1, A: r.scores[w], B: r.ow, C: r.pre[w], D: r.inflight[w] + in}
	}
	r.reqs[w]++
	r.inflight[w] += in
	r.routed(w, req)
	return Decision{Worker: w, Scores: r.scores, Why: y}
}

func (r *dynamo) Complete(c Completion) error {
	if err := r.complete(c); err != nil {
		return err
	}
	r.inflight[c.Worker] -= float64(inputBlocks(c.Req, r.bs))
	if r.reqs[c.Worker] == 0 {
		r.inflight[c.Worker] = 0
	}
	r.advanceTree(c.Done)
	return nil
}

func (r *dynamo) Loads(now time.Duration, dst []float64) []float64 {
	r.at(now)
	r.advanceTree(now)
	return append(dst, r.inflight...)
}

func (r *dynamo) LoadUnit() string { return "input blocks in flight" }

// dynamoParamDocs documents parseDynamo's parameters.
var dynamoParamDocs = map[string]string{
	"overlap_weight": "weight of the prefill blocks (input blocks not cached on the worker) against decode blocks in the cost",
	"temperature":    "softmax temperature over the costs; 0 takes the lowest cost (deterministic)",
	"precise":        "overlap from the workers' true caches; false uses a routing-history tree",
}
