package curve

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
)

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
		cfg.Evict = param.Spec{Name: "lru"}
	}
	ev, err := evict.Resolve(cfg.Evict)
	if err != nil {
		return nil, err
	}
	if cfg.Evict.Name != "lru" {
		return nil, fmt.Errorf("evict %s: %w: only lru keeps every smaller cache inside every larger one (inclusion); "+
			"replay other policies at fixed capacities (kvscope replay, or the rlt and opt points of kvscope curve)", ev, ErrNotExact)
	}
	if route.NeedsTiming(cfg.Router.Name) {
		return nil, fmt.Errorf("router %s: %w: it needs simulated time and completion feedback, and its choices depend on the caches, "+
			"hence on the capacity; the curve takes the routers hit-only replay takes (%s)", cfg.Router.Name, ErrNotExact, timingFree())
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

func timingFree() []string {
	var out []string
	for _, n := range route.Names() {
		if !route.NeedsTiming(n) {
			out = append(out, n)
		}
	}
	return out
}

// pass is the state of one Compute.
type pass struct {
	tr     *trace.Trace
	c      *Curve
	res    []int64
	tokens bool
	// sampling: weights are scaled by wScale, reservations by rScale; a
	// critical capacity is M / den.
	sampled        bool
	thresh, salt   uint64
	wScale, rScale int64
	den            float64
	// last[b] is the trace index of b's latest access (any worker), -1
	// none; worker[i] and local[i] are request i's worker and position.
	last          []int32
	worker, local []int32
	// weight[b] is b's token weight (token unit only, 0 = unseen).
	weight []uint32
	// dense histogram (block unit): second differences, then hits.
	dB, dT []int64
}

func newPass(tr *trace.Trace, c *Curve, cfg Config, res []int64, maxRes int64) *pass {
	p := &pass{tr: tr, c: c, res: res, tokens: c.Unit == kvcache.Tokens, wScale: 1, rScale: 1, den: 1}
	if c.Sample < 1 {
		p.sampled = true
		p.thresh = uint64(c.Sample * (1 << 63) * 2)
		if c.Sample*(1<<63)*2 >= math.MaxUint64 {
			p.thresh = math.MaxUint64
		}
		p.salt = mix(cfg.Seed ^ 0x5ca1ab1e)
		p.wScale = sampleScale
		p.rScale = int64(math.Round(c.Sample * sampleScale))
		p.den = c.Sample * sampleScale
	}
	ids := tr.Blocks.Len()
	p.last = make([]int32, ids)
	for i := range p.last {
		p.last[i] = -1
	}
	p.worker = make([]int32, len(tr.Requests))
	p.local = make([]int32, len(tr.Requests))
	if p.tokens {
		p.weight = make([]uint32, ids)
	} else {
		n := ids + int(maxRes) + 2
		p.dB = make([]int64, n)
		p.dT = make([]int64, n)
	}
	return p
}

// mix is splitmix64's finalizer: the sample's hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// emit records n critical capacities start, start+step, … worth blk and
// tok hits each (step 0: one).
func (p *pass) emit(start, step, n, blk, tok int64) {
	if n <= 0 {
		return
	}
	if step == 0 {
		n = 1
	}
	if p.tokens {
		p.c.progs = append(p.c.progs, prog{start: start, step: step, n: n, blk: blk, tok: tok})
		return
	}
	// Block unit: step is 0 or 1; first differences of the per-capacity
	// counts (a run of n consecutive capacities is two entries).
	end := start + n
	if need := int(end) + 2; need > len(p.dB) {
		p.dB = append(p.dB, make([]int64, need-len(p.dB))...)
		p.dT = append(p.dT, make([]int64, need-len(p.dT))...)
	}
	p.dB[start] += blk
	p.dB[end] -= blk
	p.dT[start] += tok
	p.dT[end] -= tok
}

// at converts a scaled critical value to a capacity: the smallest integer
// capacity at which the access hits (0 when it hits at every capacity).
func (p *pass) at(m int64) int64 {
	if m <= 0 {
		return 0
	}
	if !p.sampled {
		return m
	}
	return int64(math.Ceil(float64(m) / p.den))
}

// runWorker runs the pass over one worker's sequence idx (trace indices).
func (p *pass) runWorker(w int, idx []int32) error {
	tr, bs := p.tr, int64(p.tr.Info.BlockSize)
	step := int64(1) // a full block's weight in the cache's unit
	if p.tokens {
		step = bs
	}
	for k, i := range idx {
		p.worker[i], p.local[i] = int32(w), int32(k)
	}
	t := newHistTree(len(idx))
	for k, i := range idx {
		r := &tr.Requests[i]
		n := len(r.Blocks)
		var prefix, fresh int64 // scaled weight so far; weight of first accesses
		var ru run
		ru.src = -1
		for pos, b := range r.Blocks {
			var wt int64 = 1
			if p.tokens {
				wt = int64(r.BlockTokens(pos, int(bs)))
				if err := p.checkWeight(b, wt, i); err != nil {
					return err
				}
			}
			if p.sampled {
				if mix(uint64(b)^p.salt) >= p.thresh {
					continue
				}
				p.c.SampledBlocks++
				p.c.SampledTokens += int64(r.BlockTokens(pos, int(bs)))
			}
			ws := wt * p.wScale
			prefix += ws
			prev := p.last[b]
			p.last[b] = int32(i)
			if prev < 0 || p.worker[prev] != int32(w) {
				fresh += ws
				continue
			}
			if src := p.local[prev]; src != ru.src {
				p.flush(t, &ru, step, bs)
				ru = run{src: src, base: max(t.hist(int(src)), 0)}
			}
			ru.moved += ws
			// D + r at its worst since the block's last access, or no
			// request in between (base 0, m ≤ the chain's weight ≤ L).
			m := ru.base + prefix
			switch {
			case p.sampled:
				p.emit(p.at(m), 0, 1, 1, int64(r.BlockTokens(pos, int(bs))))
			case pos == n-1:
				// The chain's last block: its own token count, and in
				// token mode its own (maybe partial) weight.
				p.emit(m, 0, 1, 1, int64(r.LastBlockTokens))
			default:
				if ru.n == 0 {
					ru.start = m
				}
				ru.n++
			}
		}
		p.flush(t, &ru, step, bs)
		if fresh > 0 {
			t.addAll(fresh)
		}
		t.maxAll(p.res[i] * p.rScale)
		t.activate(k)
	}
	if !p.sampled {
		p.c.SampledBlocks, p.c.SampledTokens = p.c.InputBlocks, p.c.ChainTokens
	}
	return nil
}

// run is the part of a chain last accessed by one earlier request src
// (local index): it moved weight moved to the top of the stack; base is
// src's historic maximum (0 when none); its full blocks' critical values
// are start, start+step, … (n of them).
type run struct {
	src         int32
	base, moved int64
	start, n    int64
}

// flush ends a run: the blocks it moved become more recent than every
// request after src, and its ramp of critical capacities is recorded.
func (p *pass) flush(t *histTree, ru *run, step, bs int64) {
	if ru.src < 0 {
		return
	}
	t.addFrom(int(ru.src)+1, ru.moved)
	p.emit(ru.start, step, ru.n, 1, bs)
}

// checkWeight refuses a block id seen with two token weights (token unit).
func (p *pass) checkWeight(b trace.BlockID, wt int64, i int32) error {
	old := p.weight[b]
	if old == 0 {
		p.weight[b] = uint32(wt)
		return nil
	}
	if int64(old) == wt {
		return nil
	}
	first := "an earlier request"
	for j := range p.tr.Requests[:i] {
		if slices.Contains(p.tr.Requests[j].Blocks, b) {
			first = source(&p.tr.Requests[j])
			break
		}
	}
	return fmt.Errorf("%s: block id %d weighs %d tokens here and %d in %s: %w in token mode: a cached block keeps the weight of the request "+
		"that inserted it, and which request that is depends on the capacity (use block mode)",
		source(&p.tr.Requests[i]), p.tr.Blocks.Orig(b), wt, old, first, ErrNotExact)
}

func source(r *trace.Request) string {
	if r.Source != "" {
		return r.Source
	}
	return fmt.Sprintf("request %d", r.Index)
}

// finish turns the histogram into queryable form.
func (p *pass) finish() {
	c := p.c
	if p.tokens {
		slices.SortFunc(c.progs, func(a, b prog) int {
			if a.start != b.start {
				return cmpI64(a.start, b.start)
			}
			return cmpI64(a.step, b.step)
		})
		var hi int64
		for _, g := range c.progs {
			hi = max(hi, g.start+(g.n-1)*g.step)
		}
		c.MaxCapacity = max(c.MinCapacity, hi)
		return
	}
	// Two prefix sums: differences → per-capacity counts → hits at ≤ C.
	top := 0
	for _, d := range [][]int64{p.dB, p.dT} {
		var s int64
		for j := range d {
			s += d[j]
			d[j] = s
		}
	}
	for j := len(p.dB) - 1; j >= 0; j-- {
		if p.dB[j] != 0 {
			top = j
			break
		}
	}
	for _, d := range [][]int64{p.dB, p.dT} {
		var s int64
		for j := range d {
			s += d[j]
			d[j] = s
		}
	}
	c.hitB, c.hitT = p.dB[:top+1], p.dT[:top+1]
	c.MaxCapacity = max(c.MinCapacity, int64(top))
}

func cmpI64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hits returns the (block, token) hits at capacity C (any C ≥ 0).
func (c *Curve) hits(C int64) (int64, int64) {
	if c.Unit == kvcache.Blocks {
		if len(c.hitB) == 0 {
			return 0, 0
		}
		j := min(C, int64(len(c.hitB)-1))
		return c.hitB[j], c.hitT[j]
	}
	var hb, ht int64
	for _, g := range c.progs {
		if g.start > C {
			break // sorted by start
		}
		k := g.n
		if g.step > 0 {
			k = min(g.n, (C-g.start)/g.step+1)
		}
		hb += k * g.blk
		ht += k * g.tok
	}
	return hb, ht
}

func (c *Curve) point(C, hb, ht int64) Point {
	pt := Point{Capacity: C, HitBlocks: hb, HitTokens: ht}
	if c.SampledBlocks > 0 {
		pt.BlockHitRatio = float64(hb) / float64(c.SampledBlocks)
	}
	if c.SampledTokens > 0 && c.InputTokens > 0 {
		// Hit tokens over the sampled chain tokens, times the share of
		// input tokens with ids (tail tokens never hit); exactly
		// hit tokens / input tokens when not sampled.
		pt.TokenHitRatio = float64(ht) / float64(c.SampledTokens) * (float64(c.ChainTokens) / float64(c.InputTokens))
		if c.Sample == 1 {
			pt.TokenHitRatio = float64(ht) / float64(c.InputTokens)
		}
	}
	return pt
}

// At returns the curve at capacity C ≥ MinCapacity (a *BelowMinError
// otherwise).
func (c *Curve) At(C int64) (Point, error) {
	if C < c.MinCapacity {
		return Point{}, &BelowMinError{Capacity: C, Min: c.MinCapacity, Unit: c.Unit}
	}
	if c.Limit > 0 && C > c.Limit {
		return Point{}, fmt.Errorf("capacity %d: above %d, the largest this curve (oversize=%s, %d requests left out) holds for", C, c.Limit, c.Oversize, c.Skipped)
	}
	hb, ht := c.hits(C)
	return c.point(C, hb, ht), nil
}

// Unbounded is the curve at MaxCapacity: every capacity above gives the
// same.
func (c *Curve) Unbounded() Point {
	pt, _ := c.At(c.MaxCapacity)
	return pt
}

// Steps calls yield with the point at MinCapacity, then with the point at
// every larger capacity where the hits change, in increasing capacity,
// until yield returns false.
func (c *Curve) Steps(yield func(Point) bool) {
	hb, ht := c.hits(c.MinCapacity)
	if !yield(c.point(c.MinCapacity, hb, ht)) {
		return
	}
	if c.Unit == kvcache.Blocks {
		for C := c.MinCapacity + 1; C < int64(len(c.hitB)); C++ {
			if c.hitB[C] != c.hitB[C-1] || c.hitT[C] != c.hitT[C-1] {
				if !yield(c.point(C, c.hitB[C], c.hitT[C])) {
					return
				}
			}
		}
		return
	}
	c.mergeSteps(yield)
}

// mergeSteps walks the token unit's progressions in capacity order (a heap
// of their next values) and yields each capacity above MinCapacity at
// which hits change.
func (c *Curve) mergeSteps(yield func(Point) bool) {
	type cur struct {
		next int64
		g    int // index in progs
		left int64
	}
	var h []cur
	less := func(i, j int) bool { return h[i].next < h[j].next }
	up := func(i int) {
		for i > 0 {
			q := (i - 1) / 2
			if !less(i, q) {
				return
			}
			h[i], h[q] = h[q], h[i]
			i = q
		}
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && less(r, l) {
				m = r
			}
			if !less(m, i) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	L := c.MinCapacity
	var hb, ht int64
	gi := 0
	// Progressions that end at or below L count whole; the others enter
	// the heap at their first value above L.
	for ; gi < len(c.progs) && c.progs[gi].start <= L; gi++ {
		g := c.progs[gi]
		k := g.n
		if g.step > 0 {
			k = min(g.n, (L-g.start)/g.step+1)
		}
		hb += k * g.blk
		ht += k * g.tok
		if k < g.n {
			h = append(h, cur{next: g.start + k*g.step, g: gi, left: g.n - k})
			up(len(h) - 1)
		}
	}
	for {
		// Next capacity: the heap's minimum or the next progression's start.
		next := int64(math.MaxInt64)
		if len(h) > 0 {
			next = h[0].next
		}
		if gi < len(c.progs) && c.progs[gi].start < next {
			next = c.progs[gi].start
		}
		if next == math.MaxInt64 {
			return
		}
		for gi < len(c.progs) && c.progs[gi].start == next {
			h = append(h, cur{next: next, g: gi, left: c.progs[gi].n})
			up(len(h) - 1)
			gi++
		}
		for len(h) > 0 && h[0].next == next {
			g := &c.progs[h[0].g]
			hb += g.blk
			ht += g.tok
			h[0].left--
			if h[0].left == 0 || g.step == 0 {
				h[0] = h[len(h)-1]
				h = h[:len(h)-1]
			} else {
				h[0].next += g.step
			}
			if len(h) > 0 {
				down(0)
			}
		}
		if !yield(c.point(next, hb, ht)) {
			return
		}
	}
}

// Knee returns the smallest capacity ≥ MinCapacity whose block (token when
// tokens) hit ratio reaches frac of the unbounded one; atMin reports that
// MinCapacity already reaches it, so the knee may lie below what the curve
// covers.
func (c *Curve) Knee(frac float64, tokens bool) (C int64, atMin bool) {
	ratio := func(pt Point) float64 {
		if tokens {
			return pt.TokenHitRatio
		}
		return pt.BlockHitRatio
	}
	target := frac * ratio(c.Unbounded())
	lo, hi := c.MinCapacity, c.MaxCapacity
	if pt, _ := c.At(lo); ratio(pt) >= target {
		return lo, true
	}
	// The ratio is nondecreasing in capacity: binary search.
	for lo < hi {
		mid := lo + (hi-lo)/2
		if pt, _ := c.At(mid); ratio(pt) >= target {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, false
}
