package route

import (
	"fmt"
	"strconv"
)

// Rule names the rule that decided a Decision; it also fixes the units of
// the Decision's Scores.
type Rule uint8

// The rules, one per router branch. Each says what Why's numbers hold.
const (
	_ Rule = iota
	// RuleRoundRobin: Scores = turns until each worker's turn (0 = this
	// request's); A = the rotation counter before this request.
	RuleRoundRobin
	// RuleRandom: Scores = each worker's probability (1/workers).
	RuleRandom
	// RuleHash: Scores = clockwise ring distance from the key to each
	// worker's nearest virtual node; A = the key, B = n ids hashed (as
	// float64: display only; Key holds the exact key).
	RuleHash
	// RuleLeastLoad: Scores = tokens (input+output) in flight; A = the
	// largest load, C = the winner's.
	RuleLeastLoad
	// RuleP2C: Scores = tokens in flight; Alt = the other drawn worker,
	// A = its load, C = the winner's.
	RuleP2C
	// RuleBalance (cache_aware): Scores = requests in flight; A = max load,
	// B = min load, C = balance_abs_threshold, D = balance_rel_threshold.
	RuleBalance
	// RuleCacheHit (cache_aware): Scores = matched tokens; A = hit ratio
	// max m / input, B = cache_threshold, C = matched tokens of the winner.
	RuleCacheHit
	// RuleSmallestTree (cache_aware): Scores = tokens in each routing-history
	// tree; A = hit ratio, B = cache_threshold, C = the winner's tree size.
	RuleSmallestTree
	// RuleLowestCost (dynamo, temperature 0): Scores = cost; A = cost,
	// B = overlap_weight, C = prefill blocks, D = decode blocks of the winner.
	RuleLowestCost
	// RuleSampled (dynamo, temperature > 0): Scores = cost; A = the winner's
	// probability, B = temperature, C = the winner's cost, Alt = the
	// lowest-cost worker, D = its cost.
	RuleSampled
	// RuleLBGR: Scores = E_i (ms); Alt = the runner-up (lowest E among the
	// others, -1 with one worker). The parts of E = max(1, prefill + W +
	// learned), in ms: A, B, C = the winner's a_c·cached + a_m·uncached,
	// a_q·W and θ·φ; D, E, F = the runner-up's. Key = the cached tokens the
	// router saw on the winner (low 32 bits) and on the runner-up (high 32
	// bits), saturated at 2^32−1. LBGRTerms reads them.
	RuleLBGR
	// RuleLLMD: Scores = 3·prefix + 2·queue + 2·kv (weights as configured);
	// A = prefix, B = queue, C = kv of the winner, D = its score.
	RuleLLMD
)

var ruleNames = [...]string{
	RuleRoundRobin:   "round_robin",
	RuleRandom:       "random",
	RuleHash:         "consistent_hash",
	RuleLeastLoad:    "least_load",
	RuleP2C:          "p2c",
	RuleBalance:      "balance",
	RuleCacheHit:     "cache_hit",
	RuleSmallestTree: "smallest_tree",
	RuleLowestCost:   "lowest_cost",
	RuleSampled:      "sampled",
	RuleLBGR:         "lbgr",
	RuleLLMD:         "llmd",
}

var ruleUnits = [...]string{
	RuleRoundRobin:   "turns until its turn",
	RuleRandom:       "probability",
	RuleHash:         "ring distance",
	RuleLeastLoad:    "tokens in flight",
	RuleP2C:          "tokens in flight",
	RuleBalance:      "requests in flight",
	RuleCacheHit:     "matched tokens",
	RuleSmallestTree: "tree tokens",
	RuleLowestCost:   "cost (blocks)",
	RuleSampled:      "cost (blocks)",
	RuleLBGR:         "E (ms)",
	RuleLLMD:         "score",
}

// String is the rule's snake_case name.
func (r Rule) String() string {
	if int(r) < len(ruleNames) && ruleNames[r] != "" {
		return ruleNames[r]
	}
	return "rule(" + strconv.Itoa(int(r)) + ")"
}

// Unit names the units of the Scores of a decision made by this rule.
func (r Rule) Unit() string {
	if int(r) < len(ruleUnits) {
		return ruleUnits[r]
	}
	return ""
}

// Why is the compact, allocation-free explanation of a decision.
type Why struct {
	Rule             Rule
	Alt              int
	A, B, C, D, E, F float64
	// Key is consistent_hash's exact 64-bit key (lbgr: two cached-token
	// counts).
	Key uint64
}

// LBGRTerms are one worker's parts of lbgr's E (SPEC §7), in ms, and the
// cached tokens they were computed from.
type LBGRTerms struct {
	// Prefill is a_c·cached + a_m·uncached, Queue a_q·W, Learned θ·φ.
	Prefill, Queue, Learned float64
	// Cached is the cached prefix in tokens as the router saw it (its
	// routing-history tree, or the worker's cache with precise=true).
	Cached uint32
}

// E is max(1, Prefill + Queue + Learned), the score lbgr compared (the
// same bits: the parts are summed in the router's order).
func (t LBGRTerms) E() float64 { return max(1, t.Prefill+t.Queue+t.Learned) }

// String is "E = prefill P + W Q + learned L".
func (t LBGRTerms) String() string {
	e := g(t.E()) + " ms"
	if t.Prefill+t.Queue+t.Learned < 1 {
		e = "1 ms (the floor)"
	}
	return fmt.Sprintf("%s = prefill %s + W %s + learned %s", e, g(t.Prefill), g(t.Queue), g(t.Learned))
}

// LBGRTerms returns the parts of E of an lbgr decision's winner and
// runner-up (zero when Alt < 0); ok is false for other rules.
func (y Why) LBGRTerms() (win, alt LBGRTerms, ok bool) {
	if y.Rule != RuleLBGR {
		return win, alt, false
	}
	win = LBGRTerms{Prefill: y.A, Queue: y.B, Learned: y.C, Cached: uint32(y.Key)}
	if y.Alt >= 0 {
		alt = LBGRTerms{Prefill: y.D, Queue: y.E, Learned: y.F, Cached: uint32(y.Key >> 32)}
	}
	return win, alt, true
}

// LBGREdge names the part of E (prefill, W or learned θ·φ) in which an
// lbgr decision's winner is furthest below the runner-up, and by how many
// ms; "" when it is below in none (or for other rules).
func (y Why) LBGREdge() (part string, ms float64) {
	win, alt, ok := y.LBGRTerms()
	if !ok || y.Alt < 0 {
		return "", 0
	}
	for _, c := range []struct {
		name string
		d    float64
	}{{"prefill", alt.Prefill - win.Prefill}, {"W", alt.Queue - win.Queue}, {"learned θ·φ", alt.Learned - win.Learned}} {
		if c.d > ms {
			part, ms = c.name, c.d
		}
	}
	return part, ms
}

// Reason formats the explanation of a decision that chose worker (what a
// run keeps per request is the Why and the worker; this is
// Decision.Reason).
func (y Why) Reason(worker int) string { return y.format(worker) }

// Unit names the units of the decision's Scores.
func (y Why) Unit() string { return y.Rule.Unit() }

func g(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

func (y Why) format(w int) string {
	switch y.Rule {
	case RuleRoundRobin:
		return fmt.Sprintf("round robin: request %d of the rotation → worker %d", int64(y.A), w)
	case RuleRandom:
		return fmt.Sprintf("uniform random draw → worker %d", w)
	case RuleHash:
		return fmt.Sprintf("consistent hash: key %#016x (FNV-1a-64 of %d leading block ids) → its clockwise successor is a virtual node of worker %d", y.Key, int(y.B), w)
	case RuleLeastLoad:
		return fmt.Sprintf("least load: worker %d has %s tokens in flight, the fewest (most: %s)", w, g(y.C), g(y.A))
	case RuleP2C:
		if y.Alt < 0 {
			return fmt.Sprintf("power of two choices: single worker %d", w)
		}
		return fmt.Sprintf("power of two choices: drew workers %d and %d; worker %d has %s tokens in flight ≤ %s (ties to the lower index)",
			min(w, y.Alt), max(w, y.Alt), w, g(y.C), g(y.A))
	case RuleBalance:
		return fmt.Sprintf("balance: max−min load %s−%s > %s and max > %s·min → least loaded, worker %d (%s requests)",
			g(y.A), g(y.B), g(y.C), g(y.D), w, g(y.B))
	case RuleCacheHit:
		return fmt.Sprintf("cache hit %.3g > %s → worker %d (%s matched tokens)", y.A, g(y.B), w, g(y.C))
	case RuleSmallestTree:
		return fmt.Sprintf("cache hit %.3g ≤ %s and loads balanced → smallest routing tree, worker %d (%s tokens)", y.A, g(y.B), w, g(y.C))
	case RuleLowestCost:
		return fmt.Sprintf("lowest cost %s = %s·%s prefill + %s decode blocks → worker %d", g(y.A), g(y.B), g(y.C), g(y.D), w)
	case RuleSampled:
		return fmt.Sprintf("softmax at temperature %s: drew worker %d (p = %.3g, cost %s); lowest cost was worker %d (%s)",
			g(y.B), w, y.A, g(y.C), y.Alt, g(y.D))
	case RuleLBGR:
		win, alt, _ := y.LBGRTerms()
		if y.Alt < 0 {
			return fmt.Sprintf("lbgr: single worker %d, E %s, %d tokens cached in the router's view", w, win, win.Cached)
		}
		if alt.E() < win.E() {
			return fmt.Sprintf("lbgr: worker %d kept, E %s, %d tokens cached in the router's view; worker %d's E %s (%d cached) is lower, but a later worker must be lower by more than 1 ms",
				w, win, win.Cached, y.Alt, alt, alt.Cached)
		}
		s := fmt.Sprintf("lbgr: lowest E → worker %d: %s, %d tokens cached in the router's view; next best worker %d: %s, %d cached",
			w, win, win.Cached, y.Alt, alt, alt.Cached)
		if name, edge := y.LBGREdge(); name != "" {
			s += fmt.Sprintf("; largest difference: %s, %s ms lower on worker %d", name, g(edge), w)
		}
		return s
	case RuleLLMD:
		return fmt.Sprintf("llmd: highest score %s (prefix %.3g, queue %.3g, kv %.3g) → worker %d", g(y.D), y.A, y.B, y.C, w)
	}
	return fmt.Sprintf("%s → worker %d", y.Rule, w)
}
