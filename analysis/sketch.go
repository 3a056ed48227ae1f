package analysis

import (
	"math"
	"math/big"
	"math/bits"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// SketchRelativeAccuracy is the relative accuracy α of every Sketch: each
// percentile it reports is within α of the exact nearest-rank value (see
// Sketch). 1% is DataDog's own default (the sketches-py README: "The
// default here is set to 0.01") and costs about 116 buckets per decade of
// latency (ln 10 / ln((1+α)/(1−α))): 1 ms to 100 s is 576 buckets, 6.3 kB
// of heap measured, and any positive int64 nanoseconds (1 ns to 292 years)
// at most 2,184 buckets, about 18 kB (as much again if negative values
// occur), so a run's per-worker TTFT and E2E sketches stay a few MB at 512
// workers. A tighter α costs buckets in proportion (0.1% is 10×), and 1%
// is already below the simulator's own modelling error (the vllm latency
// model's median |error| against measured runs, BENCHMARKS.md's
// validation section: E2E 2.3%, TTFT 3.4% on the means).
const SketchRelativeAccuracy = 0.01

// sketchMapping is the logarithmic index mapping every Sketch shares (an
// immutable value): bucket i holds [γ^i, γ^(i+1)) with γ = (1+α)/(1−α) and
// reports γ^i·(1+α), within α of anything in the bucket.
var sketchMapping = func() mapping.IndexMapping {
	m, err := mapping.NewLogarithmicMapping(SketchRelativeAccuracy)
	if err != nil {
		panic(err) // a constant α in (0, 1): cannot happen
	}
	return m
}()

// Sketch summarises a latency distribution in constant memory for a run too
// long to hold every value (issue 18 point 2: a streamed run asked for
// constant memory): the DDSketch of github.com/DataDog/sketches-go (a
// logarithmic mapping into dense stores of bucket counts) for the
// percentiles, and the exact count, sum, minimum and maximum of the values
// in integer nanoseconds. The zero value is an empty Sketch, ready to use;
// Sketches merge (Merge) into the Sketch of all their values.
//
// The error, precisely. Dist and Quantile use analysis.Percentile's rank
// (SPEC §9 nearest rank, no interpolation): the q-quantile of n values is
// x_(r), the r-th smallest, r = ⌈q·n⌉ clamped to [1, n]. The Sketch finds
// the bucket holding the r-th smallest value from its bucket counts (a
// bucket's count is exact, and buckets are ordered like their values, so
// that is x_(r)'s own bucket) and reports the bucket's representative,
// clamped to the exact [min, max]. So for every q, with exact = Percentile
// of the same values converted to ms as float64(ns)/1e6 (as Summary does):
//
//	|Quantile(q) − exact| ≤ α·|exact|,  α = SketchRelativeAccuracy,
//
// up to the floating-point rounding of the bucket index and its
// representative (math.Log, math.Exp; the tests allow a relative 1e-12
// beyond α for it, and need none on the data they use). Zero is exact
// (DDSketch's zero bucket: 1 ns is 1e-6 ms, far above its smallest
// indexable value, so only 0 lands there), as is a quantile that falls on
// the minimum or maximum whenever the bucket's representative lies beyond
// them (a single value is then exact). The guarantee is on the value at
// one rank, x_(r): Percentile does not interpolate, so that is the exact
// figure a report would print. Against an interpolating definition (numpy's
// default, between x_(r−1) and x_(r), say) the sketch may be off by more
// than α when neighbouring values are far apart, as the exact nearest-rank
// figure is. DDSketch's own GetValueAtQuantile uses another rank,
// ⌊q·(n−1)⌋+1 (on 1 … 10 ms its p99 is 9 ms, nearest rank's 10 ms), so
// Sketch queries the stores at Percentile's rank itself.
//
// The mean is exact: the integer sum of nanoseconds (128 bits: no
// overflow for any count of int64 values below 2^63) divided by n·10^6,
// correctly rounded to float64. It may differ from Summarize's Mean (a
// float64 sum of the ms values in ascending order) in the last bits; it is
// never farther from the true mean of the nanosecond values.
//
// Determinism: Dist depends only on the multiset of values added (and
// merged), not on their order: bucket counts are float64 sums of 1s, exact
// below 2^53 values; the integer sum, minimum, maximum and count are
// exact; the query walks buckets in index order. Across architectures a
// value within one rounding of a bucket boundary may fall into the
// neighbouring bucket (math.Log is assembly on amd64 and Go code
// elsewhere, and may differ in the last bit); the bound still holds.
//
// Cost (BENCHMARKS.md): about 30 ns and no allocation per value on the
// development machine, and 16.6 kB of heap for 10 million values spread
// over 15 decades. DDSketch's cubically interpolated mapping measured about
// 1.7× faster there; the logarithmic one is kept because it is the
// memory-optimal mapping and its buckets are the plain γ^i above.
//
// Negative values (a latency never is one; a clock bug could make one) are
// kept, not dropped and never a panic: DDSketch mirrors them into a store
// of their own with the same relative accuracy on their magnitude, and they
// count in the mean, minimum and percentiles like any other value. NaN
// cannot arise: values are integer nanoseconds.
type Sketch struct {
	dd       *ddsketch.DDSketch
	n        int64
	sumHi    int64  // the sum of the values in ns, two's complement over
	sumLo    uint64 // 128 bits: sumHi·2^64 + sumLo
	min, max int64
}

// newDD is an empty DDSketch on the shared mapping with unbounded dense
// stores (constant-time insertion; the latency range, not the count, sets
// their size: at most 2,184 buckets each for int64 ns, see
// SketchRelativeAccuracy).
func newDD() *ddsketch.DDSketch {
	return ddsketch.NewDDSketch(sketchMapping, store.NewDenseStore(), store.NewDenseStore())
}

// Add adds one latency.
func (s *Sketch) Add(d time.Duration) { s.AddNs(int64(d)) }

// AddNs adds one latency of ns nanoseconds.
func (s *Sketch) AddNs(ns int64) {
	if s.dd == nil {
		s.dd = newDD()
	}
	// ns/1e6 is at most 9.3e12 ms in magnitude, far inside the mapping's
	// indexable range (about 1e-308 to 1e308): Add cannot fail.
	_ = s.dd.Add(float64(ns) / 1e6)
	if s.n == 0 || ns < s.min {
		s.min = ns
	}
	if s.n == 0 || ns > s.max {
		s.max = ns
	}
	s.n++
	s.addSum(ns>>63, uint64(ns))
}

// addSum adds the 128-bit two's complement value hi·2^64 + lo to the sum.
func (s *Sketch) addSum(hi int64, lo uint64) {
	var carry uint64
	s.sumLo, carry = bits.Add64(s.sumLo, lo, 0)
	s.sumHi += hi + int64(carry)
}

// Merge adds o's values to s: s becomes the Sketch of both multisets, with
// the same Dist as one Sketch fed all of them. o is unchanged; a nil or
// empty o changes nothing, and s.Merge(s) doubles every count.
func (s *Sketch) Merge(o *Sketch) {
	if o == nil || o.n == 0 {
		return
	}
	if s.dd == nil {
		s.dd = newDD()
	}
	other := o.dd
	if o == s {
		other = o.dd.Copy()
	}
	// The same mapping on both sides: MergeWith cannot fail.
	_ = s.dd.MergeWith(other)
	if s.n == 0 || o.min < s.min {
		s.min = o.min
	}
	if s.n == 0 || o.max > s.max {
		s.max = o.max
	}
	hi, lo := o.sumHi, o.sumLo
	s.n += o.n
	s.addSum(hi, lo)
}

// N is the number of values added.
func (s *Sketch) N() int64 { return s.n }

// Quantile is the q-quantile (q in [0, 1]) by Percentile's nearest rank,
// in ms, within SketchRelativeAccuracy of the exact value (see Sketch);
// NaN when s is empty or q is not in [0, 1].
func (s *Sketch) Quantile(q float64) float64 {
	if s.n == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	r := int64(math.Ceil(q * float64(s.n))) // as Percentile
	return s.atRank(min(max(r, 1), s.n))
}

// atRank is the r-th smallest value (r from 1 to N), in ms, within
// SketchRelativeAccuracy of the exact value.
func (s *Sketch) atRank(r int64) float64 {
	rank := float64(r - 1) // 0-based; exact below 2^53 values
	neg, pos := s.dd.GetNegativeValueStore(), s.dd.GetPositiveValueStore()
	negN, zeroN := neg.TotalCount(), s.dd.GetZeroCount()
	var v float64
	switch {
	case rank < negN: // the most negative value has the highest key
		v = -s.dd.Value(neg.KeyAtRank(negN - 1 - rank))
	case rank < negN+zeroN:
		v = 0
	default:
		v = s.dd.Value(pos.KeyAtRank(rank - negN - zeroN))
	}
	lo, hi := float64(s.min)/1e6, float64(s.max)/1e6
	return min(max(v, lo), hi)
}

// Mean is the exact mean in ms, correctly rounded; NaN when empty.
func (s *Sketch) Mean() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	sum := new(big.Int).Lsh(big.NewInt(s.sumHi), 64)
	sum.Add(sum, new(big.Int).SetUint64(s.sumLo))
	den := new(big.Int).Mul(big.NewInt(s.n), big.NewInt(1e6))
	m, _ := new(big.Rat).SetFrac(sum, den).Float64()
	return m
}

// Dist summarises s like Summarize: p50, p90 and p99 within
// SketchRelativeAccuracy of the exact nearest-rank values, the exact mean
// and the count; NaNs and 0 when empty.
func (s *Sketch) Dist() Dist {
	if s.n == 0 {
		return Summarize(nil)
	}
	return Dist{
		P50: s.Quantile(0.50), P90: s.Quantile(0.90), P99: s.Quantile(0.99),
		Mean: s.Mean(), N: int(s.n),
	}
}
