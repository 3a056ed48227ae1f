package route

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// lbgr constants (SPEC §7).
const (
	lbgrDecayEvery = 20 * time.Millisecond
	lbgrDecay      = 31.0 / 32.0 // exact in binary
	lbgrLambda     = 0.992
	lbgrP0         = 1e6
	// lbgrFlush is this project's choice beside SPEC §7: a W below it (ms)
	// is exactly 0, after a decay instant and after a completion's
	// subtraction. Without it W decays into the subnormals and sticks at
	// about 8e-323 (x·31/32 rounds back to x there) instead of reaching 0.
	lbgrFlush = 1e-9
	// lbgrSteps bounds the step-by-step arithmetic: a gap of up to this many
	// instants decays W one rounded multiplication per instant (as SPEC's
	// W ← W·31/32 reads), a longer one in closed form, W·(31/32)^n. Any W
	// below 1e19 ms crosses lbgrFlush within lbgrSteps instants, so for such
	// W both give the same bits (0); the closed form only saves time.
	lbgrSteps = 2048
)

// lbgrPow[d] = (31/32)^d as the product of d factors, d ≤ lbgrSteps: the
// completion's factor, rounded exactly as the step-by-step decay of W.
var lbgrPow = func() []float64 {
	p := make([]float64, lbgrSteps+1)
	p[0] = 1
	for d := 1; d <= lbgrSteps; d++ {
		p[d] = p[d-1] * lbgrDecay
	}
	return p
}()

// lbgrDecayFactor is (31/32)^d: the product of d factors up to lbgrSteps,
// math.Pow beyond (within 1e-12 relative of the product; a test checks).
func lbgrDecayFactor(d int64) float64 {
	if d <= lbgrSteps {
		return lbgrPow[d]
	}
	return math.Pow(lbgrDecay, float64(d))
}

// lbgrDecayW returns w after n decay instants, flushed to 0 below
// lbgrFlush. It costs O(min(n, lbgrSteps)) and, for W < 1e19 ms, at most
// the instants it takes W to cross lbgrFlush (about 1,300 from 1e9 ms).
func lbgrDecayW(w float64, n int64) float64 {
	if n > lbgrSteps {
		return lbgrDecayClosed(w, n)
	}
	for ; n > 0 && w != 0; n-- {
		w = lbgrFlushed(w * lbgrDecay)
	}
	return w
}

// lbgrDecayClosed is lbgrDecayW's closed form, w·(31/32)^n flushed.
func lbgrDecayClosed(w float64, n int64) float64 {
	return lbgrFlushed(w * math.Pow(lbgrDecay, float64(n)))
}

// lbgrFlushed is w, or 0 below lbgrFlush (negative w included).
func lbgrFlushed(w float64) float64 {
	if w < lbgrFlush {
		return 0
	}
	return w
}

// lbgr is the paper's Learning-Based Greedy Routing (SPEC §7), in tokens
// and ms. For worker i
//
//	E_i = max(1, a_c·cached_i + a_m·uncached_i + a_q·W_i + θ_i·φ_i)
//
// scanned in index order from worker 0; a later worker replaces the best
// only if E_i < E_best − 1.
//
// W_i is an exponentially decayed sum of routed prefill work: routing adds
// inc = a_c·cached + a_m·uncached; at every instant t = 20·m ms every W_i is
// multiplied by 31/32; completion subtracts inc·(31/32)^d, d = instants in
// (t_route, t_done], and clamps at 0. Instants are processed lazily up to
// the time of each call, decay instants first at equal times. A gap of n
// instants costs O(1) per worker (lbgrDecayW): up to lbgrSteps instants it
// is one rounded multiplication per instant (so the bits are the same
// however the instants are batched), beyond that W·(31/32)^n; (31/32)^d of
// a completion is rounded the same way (lbgrDecayFactor). W below
// lbgrFlush (1e-9 ms) is 0, after a decay instant and after a completion.
//
// θ_i is learned by recursive least squares per worker (θ₀ = 0, P₀ = 1e6·I,
// λ = 0.992) from each completion: y = max(1, e2e_ms − (a_c·cached +
// a_m·uncached + a_q·W_i)) with the values recorded at routing (W_i before
// inc was added), then g = Pφ/(λ + φᵀPφ), θ += g·(y − θᵀφ), P = (P −
// g·φᵀP)/λ, computed in exactly that order with φᵀP formed as a row (not
// assumed equal to (Pφ)ᵀ). A failed request subtracts its W share but
// teaches nothing.
//
// Presets: code (default) a_c = 0, a_m = 1, a_q = 1, φ = [1]; paper φ =
// [1, hit tokens, miss tokens, W_i], a_q = 1, a_c/a_m = Env.CachedMs/MissMs.
// cached_i comes from a routing-history tree trimmed like the sglang
// preset's, or precise=true from the workers' caches. uncached_i is the
// request's input tokens minus cached_i (tail tokens without ids included).
type lbgr struct {
	base
	ac, am, aq float64
	paper      bool
	dim        int
	overlap

	w       []float64 // W_i, ms
	decays  int64     // decay instants applied: ⌊last/20 ms⌋
	theta   []float64 // n × dim
	p       []float64 // n × dim × dim
	pending map[int]lbgrPending

	phi   []float64 // n × dim, this routing's features
	pre   []float64 // a_c·cached + a_m·uncached per worker
	basev []float64 // a_c·cached + a_m·uncached + a_q·W per worker
	corr  []float64 // θ·φ per worker
	tmp   [2][4]float64
}

type lbgrPending struct {
	worker int
	inc    float64
	base   float64 // a_c·cached + a_m·uncached + a_q·W at routing, before inc
	decays int64   // ⌊t_route/20 ms⌋
	phi    [4]float64
}

func parseLBGR(a *param.Args) Builder {
	preset := a.Enum("preset", "code", "code", "paper")
	precise := a.Bool("precise", false)
	return func(env Env) (Router, error) {
		ov, err := newOverlap(env, precise)
		if err != nil {
			return nil, err
		}
		n := env.Workers
		r := &lbgr{
			base: newBase(n), ac: 0, am: 1, aq: 1, dim: 1, overlap: ov,
			w:       make([]float64, n),
			pending: make(map[int]lbgrPending),
			pre:     make([]float64, n), basev: make([]float64, n), corr: make([]float64, n),
		}
		if preset == "paper" {
			if env.CachedMs < 0 || env.MissMs <= 0 {
				return nil, fmt.Errorf("preset=paper needs the latency model's ms per token (cached %g, miss %g): a_m must be > 0", env.CachedMs, env.MissMs)
			}
			r.paper, r.dim, r.ac, r.am = true, 4, env.CachedMs, env.MissMs
		}
		r.theta = make([]float64, n*r.dim)
		r.p = make([]float64, n*r.dim*r.dim)
		for i := range n {
			for j := range r.dim {
				r.p[i*r.dim*r.dim+j*r.dim+j] = lbgrP0
			}
		}
		r.phi = make([]float64, n*r.dim)
		if !precise {
			r.tree = newHistory(env, sglangMaxTreeSize, sglangEvictInterval)
		}
		return r, nil
	}
}

// advance applies every decay instant ≤ now not yet applied, and the trims.
func (r *lbgr) advance(now time.Duration) {
	r.at(now)
	if k := int64(now / lbgrDecayEvery); k > r.decays {
		steps := k - r.decays
		r.decays = k
		if steps > lbgrSteps {
			for i, x := range r.w {
				r.w[i] = lbgrDecayClosed(x, steps)
			}
		} else {
			// lbgrDecayW's step-by-step loop, inlined: this runs for every
			// worker at every routing (a fifth of lbgr's time through the
			// call).
			for i, x := range r.w {
				for s := steps; s > 0 && x != 0; s-- {
					x *= lbgrDecay
					if x < lbgrFlush {
						x = 0
					}
				}
				r.w[i] = x
			}
		}
	}
	r.advanceTree(now)
}

func (r *lbgr) Route(now time.Duration, req *trace.Request) Decision {
	r.advance(now)
	r.match(req)
	in := float64(req.Input)
	for i := range r.scores {
		cached := r.tok[i]
		uncached := max(0, in-cached)
		r.pre[i] = r.ac*cached + r.am*uncached
		r.basev[i] = r.pre[i] + r.aq*r.w[i]
		phi := r.phi[i*r.dim : (i+1)*r.dim]
		phi[0] = 1
		if r.paper {
			phi[1], phi[2], phi[3] = cached, uncached, r.w[i]
		}
		th := r.theta[i*r.dim : (i+1)*r.dim]
		c := 0.0
		for j := range phi {
			c += th[j] * phi[j]
		}
		r.corr[i] = c
		r.scores[i] = max(1, r.basev[i]+c)
	}
	best := 0
	for i := 1; i < r.n; i++ {
		if r.scores[i] < r.scores[best]-1 {
			best = i
		}
	}
	alt := -1
	for i := range r.scores {
		if i != best && (alt < 0 || r.scores[i] < r.scores[alt]) {
			alt = i
		}
	}
	y := Why{Rule: ruleLBGR, Alt: alt, A: r.pre[best], B: r.aq * r.w[best], C: r.corr[best], Key: lbgrTok(r.tok[best])}
	if alt >= 0 {
		y.D, y.E, y.F = r.pre[alt], r.aq*r.w[alt], r.corr[alt]
		y.Key |= lbgrTok(r.tok[alt]) << 32
	}
	cached := r.tok[best]
	inc := r.ac*cached + r.am*max(0, in-cached)
	pd := lbgrPending{worker: best, inc: inc, base: r.basev[best], decays: r.decays}
	copy(pd.phi[:], r.phi[best*r.dim:(best+1)*r.dim])
	if _, dup := r.pending[req.Index]; dup {
		panic(fmt.Sprintf("route: lbgr: request %d routed again while in flight", req.Index))
	}
	r.pending[req.Index] = pd
	r.w[best] += inc
	r.reqs[best]++
	r.routed(best, req)
	return Decision{Worker: best, Scores: r.scores, Why: y}
}

// lbgrTok is a token count for Why.Key, saturated at 2^32−1.
func lbgrTok(t float64) uint64 { return uint64(min(t, math.MaxUint32)) }

// ruleLBGR: Scores = E_i (ms); Alt = the runner-up (lowest E among the
// others, -1 with one worker). The parts of E = max(1, prefill + W +
// learned), in ms: A, B, C = the winner's a_c·cached + a_m·uncached, a_q·W
// and θ·φ; D, E, F = the runner-up's. Key = the cached tokens the router
// saw on the winner (low 32 bits) and on the runner-up (high 32 bits),
// saturated at 2^32−1. LBGRTerms reads them.
var ruleLBGR = &Rule{Name: "lbgr", Unit: "E (ms)", Prefer: PreferLow, Format: formatLBGR}

func formatLBGR(y Why, w int) string {
	win, alt := lbgrTerms(y)
	if y.Alt < 0 {
		return fmt.Sprintf("lbgr: single worker %d, E %s, %d tokens cached in the router's view", w, win, win.Cached)
	}
	if alt.E() < win.E() {
		return fmt.Sprintf("lbgr: worker %d kept, E %s, %d tokens cached in the router's view; worker %d's E %s (%d cached) is lower, but a later worker must be lower by more than 1 ms",
			w, win, win.Cached, y.Alt, alt, alt.Cached)
	}
	s := fmt.Sprintf("lbgr: lowest E → worker %d: %s, %d tokens cached in the router's view; next best worker %d: %s, %d cached",
		w, win, win.Cached, y.Alt, alt, alt.Cached)
	if name, edge := lbgrEdge(y); name != "" {
		s += fmt.Sprintf("; largest difference: %s, %s ms lower on worker %d", name, g(edge), w)
	}
	return s
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
	if y.Rule != ruleLBGR {
		return win, alt, false
	}
	win, alt = lbgrTerms(y)
	return win, alt, true
}

// lbgrTerms reads the parts of E out of an lbgr Why (formatLBGR calls it:
// ruleLBGR's Format cannot refer to ruleLBGR).
func lbgrTerms(y Why) (win, alt LBGRTerms) {
	win = LBGRTerms{Prefill: y.A, Queue: y.B, Learned: y.C, Cached: uint32(y.Key)}
	if y.Alt >= 0 {
		alt = LBGRTerms{Prefill: y.D, Queue: y.E, Learned: y.F, Cached: uint32(y.Key >> 32)}
	}
	return win, alt
}

// LBGREdge names the part of E (prefill, W or learned θ·φ) in which an
// lbgr decision's winner is furthest below the runner-up, and by how many
// ms; "" when it is below in none (or for other rules).
func (y Why) LBGREdge() (part string, ms float64) {
	if y.Rule != ruleLBGR {
		return "", 0
	}
	return lbgrEdge(y)
}

func lbgrEdge(y Why) (part string, ms float64) {
	if y.Alt < 0 {
		return "", 0
	}
	win, alt := lbgrTerms(y)
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

func (r *lbgr) Complete(c Completion) error {
	if c.Req == nil {
		return errors.New("route: completion without a request")
	}
	pd, ok := r.pending[c.Req.Index]
	if !ok {
		return fmt.Errorf("route: lbgr: request %d completed but not in flight", c.Req.Index)
	}
	if pd.worker != c.Worker {
		return fmt.Errorf("route: lbgr: request %d completed on worker %d, routed to %d", c.Req.Index, c.Worker, pd.worker)
	}
	if err := r.complete(c); err != nil {
		return err
	}
	delete(r.pending, c.Req.Index)
	r.advance(c.Done)
	w := c.Worker
	r.w[w] = lbgrFlushed(r.w[w] - pd.inc*lbgrDecayFactor(r.decays-pd.decays))
	if c.Failed {
		return nil
	}
	y := max(1, float64(c.E2E)/float64(time.Millisecond)-pd.base)
	r.rls(w, pd.phi[:r.dim], y)
	return nil
}

// rls is one recursive-least-squares step for worker w.
func (r *lbgr) rls(w int, phi []float64, y float64) {
	d := r.dim
	th := r.theta[w*d : (w+1)*d]
	P := r.p[w*d*d : (w+1)*d*d]
	pphi, phiP := r.tmp[0][:d], r.tmp[1][:d]
	den := lbgrLambda
	for i := range d {
		s, t := 0.0, 0.0
		for j := range d {
			s += P[i*d+j] * phi[j]
			t += phi[j] * P[j*d+i]
		}
		pphi[i], phiP[i] = s, t
	}
	for i := range d {
		den += phi[i] * pphi[i]
	}
	pred := 0.0
	for i := range d {
		pred += th[i] * phi[i]
	}
	e := y - pred
	for i := range d {
		g := pphi[i] / den
		th[i] += g * e
		for j := range d {
			P[i*d+j] = (P[i*d+j] - g*phiP[j]) / lbgrLambda
		}
	}
}

func (r *lbgr) Loads(now time.Duration, dst []float64) []float64 {
	r.advance(now)
	return append(dst, r.w...)
}

func (r *lbgr) LoadUnit() string { return "W (ms)" }

// lbgrParamDocs documents parseLBGR's parameters.
var lbgrParamDocs = map[string]string{
	"preset":  "code: predict with miss tokens and W only (φ = [1]); paper: φ = [1, hit, miss, W], a_c/a_m from the latency model",
	"precise": "cached tokens from the workers' true caches instead of the routing history",
}
