package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
)

// CurveOptions says what a capacity-planning report holds beside the
// tree-LRU curve itself.
type CurveOptions struct {
	// At lists capacities (the curve's unit, per worker) whose points the
	// report lists instead of every step; each must be ≥ L.
	At []int64
	// Model names a gpuprofile catalogue model: the GiB axis and the
	// GPU × TP capacities marked ("" for neither).
	Model string
	// OptAt and RLTAt list capacities at which opt (with the Belady bound)
	// and rlt are replayed: a bounded number of replays each.
	OptAt, RLTAt []int64
	// Seeds is the number of rlt seeds (1..Seeds; default 5).
	Seeds int
	// Mark is a capacity to point out (the explorer's scenario); 0 none.
	Mark int64
}

// CurveReport is the hit-ratio curve of one trace with what capacity
// planning reads off it: knees, GPU × model × TP capacities, and opt and
// rlt at chosen capacities. Renderers write Markdown, HTML, JSON and CSV
// (report_curve_md.go, report_curve_html.go, report_curve_data.go; their
// shared rows and chart in report_curve_render.go); the same inputs give
// the same bytes.
type CurveReport struct {
	Command string
	Version string
	Curve   *curve.Curve
	Options CurveOptions
	// Scenario is the replay scenario of the curve's first point (every
	// other point differs only in its cache size).
	Scenario  string
	Unbounded curve.Point
	// Model is the catalogue model (nil without one); KVBytesPerToken its
	// bf16 KV bytes per token in one replica (all ranks).
	Model           *gpuprofile.Model
	KVBytesPerToken int64
	Knees           []CurveKnee
	Markers         []CurveMarker
	// AtPoints are the points of Options.At (nil without it).
	AtPoints []curve.Point
	Opt      []CurveOpt
	RLT      []CurveRLT

	// Below L under oversize fail or bypass, points come from one more
	// pass per set of requests left out (curve.Below), kept here.
	tr     *trace.Trace
	cfg    curve.Config
	levels []*curve.Curve
}

// CurveKnee is the smallest capacity whose hit ratio reaches Fraction of
// the unbounded ratio. AtMin: the curve's first capacity L already does,
// so the knee may lie below what the curve covers.
type CurveKnee struct {
	Fraction float64     `json:"fraction"`
	Ratio    string      `json:"ratio"` // "block" or "token"
	Capacity int64       `json:"capacity"`
	AtMin    bool        `json:"at_min"`
	Point    curve.Point `json:"-"`
}

// CurveMarker is one GPU × model × TP replica's KV capacity on the curve.
type CurveMarker struct {
	GPU         string `json:"gpu"`
	GPUDisplay  string `json:"gpu_display"`
	Model       string `json:"model"`
	TP          int    `json:"tp"`
	Profile     string `json:"profile"`
	CacheTokens int64  `json:"cache_tokens"`
	// Capacity is in the curve's unit: whole pages of block_size tokens
	// (block mode) or tokens.
	Capacity int64 `json:"capacity"`
	// Listed: the catalogue's pick for this GPU and model (the smallest TP
	// holding a 64k-token context; gpuprofile.Names).
	Listed bool `json:"listed"`
	// BelowMin: the capacity is below L. Its point is there (HasPoint)
	// under oversize fail or bypass, from a pass of its own; under error
	// replay stops there.
	BelowMin bool        `json:"below_min"`
	HasPoint bool        `json:"-"`
	Skipped  int         `json:"requests_left_out,omitempty"`
	Point    curve.Point `json:"-"`
	// Unverified names catalogue figures no found source confirms;
	// AffectsCapacity says whether one of them enters the capacity.
	Unverified      []string `json:"unverified,omitempty"`
	AffectsCapacity bool     `json:"unverified_affects_capacity,omitempty"`
}

// CurveOpt is opt and the Belady bound replayed at one capacity, beside
// lru's point (the replay's, which must equal the curve's).
type CurveOpt struct {
	Capacity int64 `json:"capacity"`
	// LRU, Opt and Bound are hit ratios in the cache's unit (block hit
	// ratio in block mode, token hit ratio in token mode): opt's, and the
	// Belady bound's (compulsory misses only in token mode).
	LRU         float64 `json:"lru"`
	Opt         float64 `json:"opt"`
	Bound       float64 `json:"bound"`
	OptLabel    string  `json:"opt_label"`
	BoundLabel  string  `json:"bound_label"`
	OptMissed   int64   `json:"opt_missed"`
	BoundMissed int64   `json:"belady_missed"`
}

// CurveRLT is rlt at one capacity over seeds 1..N.
type CurveRLT struct {
	Capacity int64 `json:"capacity"`
	Block    Stat  `json:"block_hit_ratio"`
	Token    Stat  `json:"token_hit_ratio"`
	Seeds    int   `json:"seeds"`
}

// curveTPs are the tensor-parallel sizes marked.
var curveTPs = []int{1, 2, 4, 8}

// capacityFields are the catalogue fields that enter a replica's KV
// capacity (memory, and the model's shape through its weights and KV
// size); the others (FLOPS, bandwidth) do not.
var capacityFields = map[string]bool{"memory_gib": true, "layers": true, "hidden": true, "heads": true, "kv_heads": true,
	"head_dim": true, "intermediate": true, "vocab": true, "experts": true}

// NewCurveReport computes the curve of tr under cfg and everything opt asks
// for. Replays (opt, rlt) check ctx between runs.
func NewCurveReport(ctx context.Context, tr *trace.Trace, cfg curve.Config, opt CurveOptions) (*CurveReport, error) {
	cv, err := curve.Compute(tr, cfg)
	if err != nil {
		return nil, err
	}
	return newCurveReport(ctx, tr, cv, cfg, opt)
}

func newCurveReport(ctx context.Context, tr *trace.Trace, cv *curve.Curve, cfg curve.Config, opt CurveOptions) (*CurveReport, error) {
	if opt.Seeds == 0 {
		opt.Seeds = 5
	}
	if opt.Seeds < 1 {
		return nil, fmt.Errorf("seeds %d: need at least 1", opt.Seeds)
	}
	r := &CurveReport{Curve: cv, Options: opt, Unbounded: cv.Unbounded(), tr: tr, cfg: cfg}
	sc, err := seq.Scenario(replayConfig(cv, cfg, curve.Policy, cv.MinCapacity, cv.Seed))
	if err != nil {
		return nil, err
	}
	r.Scenario = sc
	for _, tokens := range []bool{false, true} {
		for _, f := range []float64{0.5, 0.8, 0.9} {
			c, atMin := cv.Knee(f, tokens)
			k := CurveKnee{Fraction: f, Ratio: "block", Capacity: c, AtMin: atMin}
			if tokens {
				k.Ratio = "token"
			}
			k.Point, _ = cv.At(c)
			r.Knees = append(r.Knees, k)
		}
	}
	if opt.At != nil {
		for _, c := range opt.At {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			pt, _, err := r.at(c)
			if err != nil {
				return nil, err
			}
			r.AtPoints = append(r.AtPoints, pt)
		}
	}
	if opt.Model != "" {
		if err := r.markers(ctx, opt.Model); err != nil {
			return nil, err
		}
	}
	for _, c := range opt.OptAt {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o, err := r.optAt(c)
		if err != nil {
			return nil, err
		}
		r.Opt = append(r.Opt, o)
	}
	for _, c := range opt.RLTAt {
		x, err := r.rltAt(ctx, c, opt.Seeds)
		if err != nil {
			return nil, err
		}
		r.RLT = append(r.RLT, x)
	}
	return r, nil
}

// at is the exact point at capacity c: the curve's from L, below it (under
// oversize fail or bypass) the point of the pass that leaves out the
// requests larger than c; skipped counts those.
func (r *CurveReport) at(c int64) (pt curve.Point, skipped int, err error) {
	if c >= r.Curve.MinCapacity {
		pt, err = r.Curve.At(c)
		return pt, 0, err
	}
	if r.cfg.Oversize != scenario.OversizeFail && r.cfg.Oversize != scenario.OversizeBypass {
		return curve.Point{}, 0, &curve.BelowMinError{Capacity: c, Min: r.Curve.MinCapacity, Unit: r.Curve.Unit}
	}
	for _, lv := range r.levels {
		if c >= lv.MinCapacity && c <= lv.Limit {
			pt, err = lv.At(c)
			return pt, lv.Skipped, err
		}
	}
	lv, err := curve.Below(r.tr, r.cfg, c)
	if err != nil {
		return curve.Point{}, 0, err
	}
	r.levels = append(r.levels, lv)
	pt, err = lv.At(c)
	return pt, lv.Skipped, err
}

// replayConfig is the hit-only replay of the curve's scenario at capacity
// c with policy evict and seed.
func replayConfig(cv *curve.Curve, cfg curve.Config, evict string, c int64, seed uint64) seq.Config {
	return seq.Config{Workers: cv.Workers, Router: cfg.Router, Evict: param.Spec{Name: evict}, Unit: cv.Unit,
		Capacity: c, Seed: seed, Oversize: cv.Oversize}
}

func (r *CurveReport) markers(ctx context.Context, model string) error {
	m, err := gpuprofile.LookupModel(model)
	if err != nil {
		return err
	}
	r.Model = &m
	r.KVBytesPerToken = m.KVBytesPerTokenTP(1, 2)
	listed := gpuprofile.Names()
	cv := r.Curve
	for _, g := range gpuprofile.GPUs() {
		for _, tp := range curveTPs {
			name := g.Name + "-" + m.Name
			if tp > 1 {
				name = fmt.Sprintf("%s-tp%d", name, tp)
			}
			p, err := gpuprofile.New(name, g.Name, m.Name, tp)
			if err != nil {
				continue // does not fit, or tp does not divide the heads
			}
			mk := CurveMarker{GPU: g.Name, GPUDisplay: g.Display, Model: m.Name, TP: tp, Profile: name,
				CacheTokens: int64(p.CacheTokens()), Listed: slices.Contains(listed, name)}
			mk.Capacity = mk.CacheTokens
			if cv.Unit == kvcache.Blocks {
				mk.Capacity = mk.CacheTokens / int64(cv.BlockSize)
			}
			for _, f := range g.Unverified {
				mk.Unverified = append(mk.Unverified, "gpu "+f)
				mk.AffectsCapacity = mk.AffectsCapacity || capacityFields[f]
			}
			for _, f := range m.Unverified {
				mk.Unverified = append(mk.Unverified, "model "+f)
				mk.AffectsCapacity = mk.AffectsCapacity || capacityFields[f]
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			mk.BelowMin = mk.Capacity < cv.MinCapacity
			var below *curve.BelowMinError
			switch pt, skipped, err := r.at(mk.Capacity); {
			case err == nil:
				mk.Point, mk.HasPoint, mk.Skipped = pt, true, skipped
			case !errors.As(err, &below):
				return err
			}
			r.Markers = append(r.Markers, mk)
		}
	}
	return nil
}

// optAt replays lru with --vs-opt at capacity c: opt's and the Belady
// bound's misses, and lru's hits, which must be the curve's.
func (r *CurveReport) optAt(c int64) (CurveOpt, error) {
	cv := r.Curve
	pt, _, err := r.at(c)
	if err != nil {
		return CurveOpt{}, err
	}
	rc := replayConfig(cv, r.cfg, curve.Policy, c, cv.Seed)
	rc.VsOpt = true
	res, err := seq.Run(r.tr, rc)
	if err != nil {
		return CurveOpt{}, err
	}
	if res.HitBlocks != pt.HitBlocks || res.HitTokens != pt.HitTokens {
		// With sampling the curve is an estimate; exact, it must agree.
		if cv.Sample == 1 {
			return CurveOpt{}, fmt.Errorf("capacity %d: the curve gives %d hit blocks and %d hit tokens, replay %d and %d: "+
				"the curve is wrong here, please report it", c, pt.HitBlocks, pt.HitTokens, res.HitBlocks, res.HitTokens)
		}
	}
	den := float64(res.InputBlocks)
	lru := res.BlockHitRatio
	if cv.Unit == kvcache.Tokens {
		den, lru = float64(res.InputTokens), res.TokenHitRatio
	}
	o := CurveOpt{Capacity: c, LRU: lru, OptLabel: res.OptLabel, BoundLabel: res.BeladyLabel,
		OptMissed: res.OptMissed, BoundMissed: res.BeladyMissed, Opt: math.NaN(), Bound: math.NaN()}
	if den > 0 {
		o.Opt = 1 - float64(res.OptMissed)/den
		o.Bound = 1 - float64(res.BeladyMissed)/den
	}
	return o, nil
}

// rltAt replays rlt at capacity c with seeds 1..n.
func (r *CurveReport) rltAt(ctx context.Context, c int64, n int) (CurveRLT, error) {
	cv, tr, cfg := r.Curve, r.tr, r.cfg
	if _, _, err := r.at(c); err != nil {
		return CurveRLT{}, err
	}
	var blk, tok []float64
	for s := 1; s <= n; s++ {
		if err := ctx.Err(); err != nil {
			return CurveRLT{}, err
		}
		res, err := seq.Run(tr, replayConfig(cv, cfg, "rlt", c, uint64(s)))
		if err != nil {
			return CurveRLT{}, err
		}
		blk = append(blk, res.BlockHitRatio)
		tok = append(tok, res.TokenHitRatio)
	}
	return CurveRLT{Capacity: c, Block: StatOf(blk, false), Token: StatOf(tok, false), Seeds: n}, nil
}

// Tokens converts a capacity in the curve's unit to tokens: pages of
// block_size tokens in block mode.
func (r *CurveReport) Tokens(c int64) int64 {
	if r.Curve.Unit == kvcache.Blocks {
		return c * int64(r.Curve.BlockSize)
	}
	return c
}

// GiB is the KV memory of capacity c for the report's model (NaN without
// one).
func (r *CurveReport) GiB(c int64) float64 {
	if r.Model == nil {
		return math.NaN()
	}
	return float64(r.Tokens(c)) * float64(r.KVBytesPerToken) / (1 << 30)
}
