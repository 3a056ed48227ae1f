package curve

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
)

// Policy is the eviction policy the curve models: the derivation (doc.go)
// walks lru's recency stack, so another policy, even one with the
// inclusion property, would need a derivation of its own. Readers that
// compare a scenario's policy with the curve's ask this, not a literal.
const Policy = "lru"

// Router is the router a curve takes when none is given, and the one the
// explorer's overlay takes for a scenario whose router needs timing.
const Router = "round_robin"

// Config is one curve: the hit-only replay of `kvscope replay --evict lru`
// with every setting but the capacity.
type Config struct {
	// Workers ≥ 1; the capacity of every point is per worker.
	Workers int
	// Router must need no timing (round_robin, random, consistent_hash).
	Router param.Spec
	// Evict must be lru (the zero Spec means lru): the only registered
	// policy with the inclusion property.
	Evict param.Spec
	Unit  kvcache.Unit
	// Seed drives the router's stream (and the sample's hash).
	Seed uint64
	// Sample is the SHARDS sampling rate in (0, 1]; 0 means 1 (exact).
	Sample float64
	// Oversize is replay's setting for a request larger than the cache
	// (scenario.OversizeError when ""). It only matters below L, where
	// Below computes exact curves for fail and bypass.
	Oversize string
}

// Curve is the hit ratio of tree-LRU at every capacity from MinCapacity
// up, for one trace and one Config.
type Curve struct {
	Unit      kvcache.Unit
	BlockSize int
	Workers   int
	// Router and Evict are canonical specs; Seed the scenario seed.
	Router string
	Evict  string
	Seed   uint64
	Trace  trace.Info
	// Sample is the sampling rate (1: exact).
	Sample   float64
	Requests int
	// InputBlocks and InputTokens are the hit-ratio denominators of every
	// capacity (no request is oversize at or above MinCapacity).
	InputBlocks int64
	InputTokens int64
	// ChainTokens are the input tokens covered by block ids (InputTokens
	// less kv-cache-tester's id-less tail tokens).
	ChainTokens int64
	// SampledBlocks and SampledTokens are the block accesses and their
	// tokens in the sample (InputBlocks and ChainTokens when exact).
	SampledBlocks int64
	SampledTokens int64
	// MinCapacity is L, the largest footprint (input blocks or tokens +
	// tail + output allowance) of any request: below it replay stops or
	// skips requests, which the curve does not model.
	MinCapacity int64
	// MaxCapacity is the smallest capacity from which the ratio no longer
	// grows (MinCapacity when it never does).
	MaxCapacity int64
	// Limit, on a curve from Below, is the largest capacity it holds for
	// (the smallest skipped footprint less one); 0 on a whole curve.
	Limit int64
	// Oversize is the setting of Config.Oversize; Skipped counts the
	// requests a curve from Below leaves out (failed or bypassed).
	Oversize string
	Skipped  int

	// dense: hits[C] = (block, token) hits at capacity C (block unit).
	hitB, hitT []int64
	// sparse: progressions of critical capacities (token unit).
	progs []prog
}

// Point is the curve at one capacity (in the curve's unit, per worker).
// Hits are over the sample when the curve is sampled.
type Point struct {
	Capacity      int64
	HitBlocks     int64
	HitTokens     int64
	BlockHitRatio float64
	TokenHitRatio float64
}

// prog is n critical capacities start, start+step, … (step 0: n = 1),
// each worth blk hit blocks and tok hit tokens.
type prog struct {
	start, step int64
	n           int64
	blk, tok    int64
}

// BelowMinError is returned for a capacity below MinCapacity.
type BelowMinError struct {
	Capacity, Min int64
	Unit          kvcache.Unit
}

func (e *BelowMinError) Error() string {
	return fmt.Sprintf("capacity %d %s is below L = %d %s, the largest request (input + tail + output allowance): "+
		"replay stops there under oversize=error; under fail or bypass it leaves the larger requests out, which changes "+
		"the recency order, so each such capacity takes a pass of its own (kvscope curve --oversize fail|bypass)",
		e.Capacity, e.Unit, e.Min, e.Unit)
}

// ErrNotExact is wrapped by the errors of settings the curve refuses.
var ErrNotExact = errors.New("the one-pass curve cannot model this exactly")

// sampleScale is the fixed-point scale of a sampled curve's weights.
const sampleScale = 1 << 16

// Compute derives the curve of tr under cfg in one pass (doc.go): exact
// at every capacity from L.
func Compute(tr *trace.Trace, cfg Config) (*Curve, error) {
	return compute(tr, cfg, 0)
}

// Below computes the curve that holds around capacity c < L under
// cfg.Oversize fail or bypass: replay leaves out every request whose
// footprint exceeds c (failed, or served uncached), and with that set
// fixed the recency order is too, so one pass gives the exact curve on
// [MinCapacity, Limit]: from the largest footprint kept to just below the
// smallest one left out. One pass per call; sampling is not offered here.
func Below(tr *trace.Trace, cfg Config, c int64) (*Curve, error) {
	switch cfg.Oversize {
	case scenario.OversizeFail, scenario.OversizeBypass:
	default:
		return nil, fmt.Errorf("capacity %d below L: %w under oversize=%s (replay stops there); fail and bypass are exact",
			c, ErrNotExact, cmp.Or(cfg.Oversize, scenario.OversizeError))
	}
	if cfg.Sample != 0 && cfg.Sample != 1 {
		return nil, fmt.Errorf("capacity %d below L: %w with a sample: sampling is only offered from L", c, ErrNotExact)
	}
	if c < 1 {
		return nil, fmt.Errorf("capacity %d: need at least 1", c)
	}
	return compute(tr, cfg, c)
}

// compute is Compute (below = 0) or Below (below = c: requests whose
// footprint exceeds c are left out).
func compute(tr *trace.Trace, cfg Config, below int64) (*Curve, error) {
	if cfg.Workers < 1 {
		return nil, fmt.Errorf("workers = %d: need at least 1", cfg.Workers)
	}
	if cfg.Evict.Name == "" {
		cfg.Evict = param.Spec{Name: Policy}
	}
	ev, err := evict.Resolve(cfg.Evict)
	if err != nil {
		return nil, err
	}
	if cfg.Evict.Name != Policy {
		return nil, fmt.Errorf("evict %s: %w: only lru keeps every smaller cache inside every larger one (inclusion); "+
			"replay other policies at fixed capacities (kvscope replay, or the rlt and opt points of kvscope curve)", ev, ErrNotExact)
	}
	if route.NeedsTiming(cfg.Router.Name) {
		return nil, fmt.Errorf("router %s: %w: it needs simulated time and completion feedback, and its choices depend on the caches, "+
			"hence on the capacity; the curve takes the routers hit-only replay takes (%s)", cfg.Router.Name, ErrNotExact, route.TimingFree())
	}
	rt, err := route.Resolve(cfg.Router)
	if err != nil {
		return nil, err
	}
	if cfg.Unit != kvcache.Blocks && cfg.Unit != kvcache.Tokens {
		return nil, fmt.Errorf("unit %d: want blocks or tokens", cfg.Unit)
	}
	switch cfg.Oversize {
	case "":
		cfg.Oversize = scenario.OversizeError
	case scenario.OversizeError, scenario.OversizeFail, scenario.OversizeBypass:
	default:
		return nil, fmt.Errorf("oversize %q: want error, fail or bypass", cfg.Oversize)
	}
	rate := cfg.Sample
	if rate == 0 {
		rate = 1
	}
	if !(rate > 0 && rate <= 1) {
		return nil, fmt.Errorf("sample rate %g: want a rate in (0, 1]", cfg.Sample)
	}
	bs := tr.Info.BlockSize
	if bs < 1 {
		return nil, fmt.Errorf("trace block size %d: need at least 1", bs)
	}
	// A probe cache does replay's arithmetic (footprints, allowances); its
	// policy is never asked anything.
	pol, _, err := evict.New(cfg.Evict, evict.Env{Unit: cfg.Unit, Capacity: 1})
	if err != nil {
		return nil, err
	}
	probe, err := kvcache.New(kvcache.Config{Unit: cfg.Unit, Capacity: 1, BlockSize: bs}, pol)
	if err != nil {
		return nil, err
	}
	c := &Curve{Unit: cfg.Unit, BlockSize: bs, Workers: cfg.Workers, Router: rt, Evict: ev, Seed: cfg.Seed,
		Trace: tr.Info, Sample: rate, Requests: len(tr.Requests), Oversize: cfg.Oversize}
	// Reservations (output allowance + tail, the cache's own arithmetic),
	// the largest footprint kept (L) and, below L, the requests left out.
	res := make([]int64, len(tr.Requests))
	var skip []bool
	if below > 0 {
		skip = make([]bool, len(tr.Requests))
	}
	var maxRes int64
	for i := range tr.Requests {
		r := &tr.Requests[i]
		fp := probe.Footprint(r)
		if below > 0 && fp > below {
			skip[i] = true
			c.Skipped++
			if c.Limit == 0 || fp-1 < c.Limit {
				c.Limit = fp - 1
			}
			if cfg.Oversize == scenario.OversizeFail {
				continue // failed: outside the denominators
			}
		} else {
			res[i] = probe.Allowance(r.TailTokens(bs)) + probe.Allowance(r.Output)
			maxRes = max(maxRes, res[i])
			c.MinCapacity = max(c.MinCapacity, fp)
		}
		c.InputBlocks += int64(len(r.Blocks))
		c.InputTokens += int64(r.Input)
		c.ChainTokens += int64(r.ChainTokens(bs))
	}
	c.MinCapacity = max(c.MinCapacity, 1)
	perWorker, err := seq.Assign(tr, seq.Config{Workers: cfg.Workers, Router: cfg.Router, Seed: cfg.Seed}, skip)
	if err != nil {
		return nil, err
	}
	p := newPass(tr, c, cfg, res, maxRes)
	for w, idx := range perWorker {
		if skip != nil {
			idx = slices.DeleteFunc(slices.Clone(idx), func(i int32) bool { return skip[i] })
		}
		if err := p.runWorker(w, idx); err != nil {
			return nil, err
		}
	}
	p.finish()
	return c, nil
}
