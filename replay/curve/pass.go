package curve

import (
	"fmt"
	"math"
	"slices"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// The pass: one walk over every worker's requests in trace order, turning
// runs of re-accessed blocks into histogram entries (doc.go, One pass).

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
