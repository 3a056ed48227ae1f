package curve

import (
	"fmt"
	"math"

	"github.com/kvscope/kvscope/replay/kvcache"
)

// Queries: the curve at one capacity, its steps, and its knee.

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
