package route

import (
	"fmt"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// cacheAwarePreset is one sglang router version's defaults.
type cacheAwarePreset struct {
	cacheThreshold, balanceAbs, balanceRel float64
	maxTreeSize                            int
	evictionIntervalS                      float64
}

var cacheAwarePresets = map[string]cacheAwarePreset{
	// sglang 0.4.6, the version the paper used.
	"sglang-0.4.6": {0.5, 32, 1.0001, 1 << 24, 60},
	// current sglang, the default.
	"sglang": {0.3, 64, 1.5, 1 << 26, 120},
}

// cacheAware is sglang's cache-aware router (SPEC §7).
//
// Reading of SPEC where it is open:
//   - load is the router's own count of requests routed and not completed
//     (SPEC: "load as above"); balance mode fires when max−min >
//     balance_abs_threshold and max > balance_rel_threshold·min, both
//     strict, and picks the fewest requests in flight.
//   - the hit ratio is max_i m_i / input tokens, with the request's whole
//     input (tail tokens without ids included) as the denominator; a
//     request with no input has ratio 0.
//   - after the decision the chain is inserted into the chosen worker's tree
//     in both branches; trims run at k·eviction_interval_s (k ≥ 1), before a
//     routing at the same instant.
//   - precise=true takes m_i from the workers' true caches (Cluster.Match)
//     instead of the trees; the trees are still kept for the
//     smallest-tree fallback.
type cacheAware struct {
	base
	p cacheAwarePreset
	overlap
}

// cache_aware's rules, one per branch.
var (
	// ruleBalance: Scores = requests in flight; A = max load, B = min load,
	// C = balance_abs_threshold, D = balance_rel_threshold.
	ruleBalance = &Rule{Name: "balance", Unit: "requests in flight", Prefer: PreferLow,
		Format: func(y Why, w int) string {
			return fmt.Sprintf("balance: max−min load %s−%s > %s and max > %s·min → least loaded, worker %d (%s requests)",
				g(y.A), g(y.B), g(y.C), g(y.D), w, g(y.B))
		}}
	// ruleCacheHit: Scores = matched tokens; A = hit ratio max m / input,
	// B = cache_threshold, C = matched tokens of the winner.
	ruleCacheHit = &Rule{Name: "cache_hit", Unit: "matched tokens", Prefer: PreferHigh,
		Format: func(y Why, w int) string {
			return fmt.Sprintf("cache hit %.3g > %s → worker %d (%s matched tokens)", y.A, g(y.B), w, g(y.C))
		}}
	// ruleSmallestTree: Scores = tokens in each routing-history tree;
	// A = hit ratio, B = cache_threshold, C = the winner's tree size.
	ruleSmallestTree = &Rule{Name: "smallest_tree", Unit: "tree tokens", Prefer: PreferLow,
		Format: func(y Why, w int) string {
			return fmt.Sprintf("cache hit %.3g ≤ %s and loads balanced → smallest routing tree, worker %d (%s tokens)", y.A, g(y.B), w, g(y.C))
		}}
	cacheAwareRules = []*Rule{ruleBalance, ruleCacheHit, ruleSmallestTree}
)

func parseCacheAware(a *param.Args) Builder {
	name := a.Enum("preset", "sglang", "sglang", "sglang-0.4.6")
	d := cacheAwarePresets[name]
	p := cacheAwarePreset{
		cacheThreshold:    a.Float("cache_threshold", d.cacheThreshold, 0, 1),
		balanceAbs:        a.Float("balance_abs_threshold", d.balanceAbs, 0, 1e12),
		balanceRel:        a.Float("balance_rel_threshold", d.balanceRel, 0, 1e12),
		maxTreeSize:       a.Int("max_tree_size", d.maxTreeSize, 1, 1<<50),
		evictionIntervalS: a.Float("eviction_interval_s", d.evictionIntervalS, 0.001, 1e9),
	}
	precise := a.Bool("precise", false)
	return func(env Env) (Router, error) {
		ov, err := newOverlap(env, precise)
		if err != nil {
			return nil, err
		}
		// The trees are kept with precise=true too: the smallest-tree
		// fallback reads their sizes.
		ov.tree = newHistory(env, int64(p.maxTreeSize), time.Duration(p.evictionIntervalS*float64(time.Second)))
		return &cacheAware{base: newBase(env.Workers), p: p, overlap: ov}, nil
	}
}

func (r *cacheAware) Route(now time.Duration, req *trace.Request) Decision {
	r.at(now)
	r.tree.advance(now)
	w, y := r.decide(req)
	r.reqs[w]++
	r.tree.insert(w, req)
	return Decision{Worker: w, Scores: r.scores, Why: y}
}

func (r *cacheAware) decide(req *trace.Request) (int, Why) {
	maxL, minL := r.reqs[0], r.reqs[0]
	for _, l := range r.reqs[1:] {
		maxL, minL = max(maxL, l), min(minL, l)
	}
	if float64(maxL-minL) > r.p.balanceAbs && float64(maxL) > r.p.balanceRel*float64(minL) {
		for i, l := range r.reqs {
			r.scores[i] = float64(l)
		}
		return argmin(r.scores), Why{Rule: ruleBalance, Alt: -1, A: float64(maxL), B: float64(minL), C: r.p.balanceAbs, D: r.p.balanceRel}
	}
	r.match(req)
	copy(r.scores, r.tok)
	best := argmax(r.scores)
	ratio := 0.0
	if req.Input > 0 {
		ratio = r.scores[best] / float64(req.Input)
	}
	if ratio > r.p.cacheThreshold {
		return best, Why{Rule: ruleCacheHit, Alt: -1, A: ratio, B: r.p.cacheThreshold, C: r.scores[best]}
	}
	for i, s := range r.tree.size {
		r.scores[i] = float64(s)
	}
	w := argmin(r.scores)
	return w, Why{Rule: ruleSmallestTree, Alt: -1, A: ratio, B: r.p.cacheThreshold, C: r.scores[w]}
}

func (r *cacheAware) Complete(c Completion) error {
	if err := r.complete(c); err != nil {
		return err
	}
	r.tree.advance(c.Done)
	return nil
}

func (r *cacheAware) Loads(now time.Duration, dst []float64) []float64 {
	r.tree.advance(now)
	return r.requestLoads(now, dst)
}

func (r *cacheAware) LoadUnit() string { return "requests" }

// cacheAwareParamDocs documents parseCacheAware's parameters.
var cacheAwareParamDocs = map[string]string{
	"preset":                "sglang's defaults: sglang (current) or sglang-0.4.6 (the paper's); the other keys override them",
	"cache_threshold":       "route to the longest match when max matched / input tokens exceeds this, else to the smallest tree",
	"balance_abs_threshold": "balance mode when max − min requests in flight exceeds this …",
	"balance_rel_threshold": "… and max exceeds this × min",
	"max_tree_size":         "tokens each worker's routing-history tree keeps when trimmed",
	"eviction_interval_s":   "seconds between trims of the routing-history trees",
	"precise":               "match against the workers' true caches instead of the routing history",
}
