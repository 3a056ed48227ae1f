package analysis

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Percentile returns the q-quantile of xs by nearest rank (SPEC §9): the
// ⌈q·n⌉-th smallest value, the smallest for q·n ≤ 1. xs must be sorted
// ascending; NaN for an empty slice.
func Percentile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	r := int(math.Ceil(q * float64(n)))
	if r < 1 {
		r = 1
	}
	if r > n {
		r = n
	}
	return sorted[r-1]
}

// Dist is the summary of a latency distribution, in milliseconds.
type Dist struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Mean float64 `json:"mean"`
	N    int     `json:"n"`
}

// Summarize computes p50, p90, p99 (nearest rank) and the mean. It sorts xs
// in place.
func Summarize(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{P50: math.NaN(), P90: math.NaN(), P99: math.NaN(), Mean: math.NaN()}
	}
	slices.Sort(xs)
	return Dist{
		P50: Percentile(xs, 0.50), P90: Percentile(xs, 0.90), P99: Percentile(xs, 0.99),
		Mean: Mean(xs), N: len(xs),
	}
}

// SummarizeSorted is Summarize of the values of parts taken together,
// each part sorted ascending, without concatenating them: it walks their
// merged order, which is the sorted order of all the values, so the
// figures are Summarize's to the bit (the mean sums in the same ascending
// order) at no extra memory (a streamed run's per-worker values make up
// its totals: 160 MB at 10 M requests was the copy).
func SummarizeSorted(parts [][]float64) Dist {
	n := 0
	cs := make([]valueCursor, 0, len(parts))
	for _, p := range parts {
		n += len(p)
		cs = append(cs, valueCursor{buf: p})
	}
	d, _ := summarizeMerged(n, cs) // cursors over slices never fail
	return d
}

// valueCursor walks one ascending sequence of values: buf[i:] are the
// next ones; refill, if set, returns the ones after buf (none at the end),
// for sequences read from a file (valueSpill).
type valueCursor struct {
	buf    []float64
	i      int
	refill func() ([]float64, error)
}

// next moves past the current value, refilling buf when it is used up;
// false at the end of the sequence.
func (c *valueCursor) next() (bool, error) {
	if c.i++; c.i < len(c.buf) {
		return true, nil
	}
	if c.refill == nil {
		return false, nil
	}
	b, err := c.refill()
	c.buf, c.i = b, 0
	return len(b) > 0 && err == nil, err
}

// summarizeMerged is Summarize of the n values of the ascending sequences
// cs taken together, walking their merged order (walkMerged).
func summarizeMerged(n int, cs []valueCursor) (Dist, error) {
	if n == 0 {
		return Summarize(nil), nil
	}
	rank := func(q float64) int { return min(max(int(math.Ceil(q*float64(n))), 1), n) }
	r50, r90, r99 := rank(0.50), rank(0.90), rank(0.99)
	var d Dist
	sum := 0.0
	err := walkMerged(n, cs, func(k int, x float64) {
		sum += x
		if k == r50 {
			d.P50 = x
		}
		if k == r90 {
			d.P90 = x
		}
		if k == r99 {
			d.P99 = x
		}
	})
	if err != nil {
		return Dist{}, err
	}
	d.Mean, d.N = sum/float64(n), n
	return d, nil
}

// walkMerged calls fn with the k-th smallest (k from 1 to n) of the n
// values of the ascending sequences cs taken together, in order: a binary
// heap of the cursors, ordered by their current value. It fails when a
// refill does or the sequences hold fewer than n values.
func walkMerged(n int, cs []valueCursor, fn func(k int, x float64)) error {
	h := make([]int, 0, len(cs))
	less := func(a, b int) bool { return cs[a].buf[cs[a].i] < cs[b].buf[cs[b].i] }
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && less(h[c+1], h[c]) {
				c++
			}
			if !less(h[c], h[i]) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := range cs {
		if cs[i].i < len(cs[i].buf) {
			h = append(h, i)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for k := 1; k <= n; k++ {
		if len(h) == 0 {
			return fmt.Errorf("merged values: %d of %d", k-1, n)
		}
		c := &cs[h[0]]
		fn(k, c.buf[c.i])
		more, err := c.next()
		if err != nil {
			return err
		}
		if !more {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	return nil
}

// Mean is the arithmetic mean; NaN for no values.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Imbalance describes how evenly load spreads over workers (SPEC §9).
type Imbalance struct {
	// MaxOverMean is max_i x_i / mean x; 1 is perfect balance.
	MaxOverMean float64 `json:"max_over_mean"`
	// CV is the population coefficient of variation σ/μ.
	CV float64 `json:"cv"`
	// Jain is Jain's fairness index (Σx)²/(n·Σx²), 1/n … 1.
	Jain float64 `json:"jain"`
}

// ImbalanceOf computes the imbalance of per-worker loads. All-zero loads are
// perfectly balanced (1, 0, 1).
func ImbalanceOf(loads []float64) Imbalance {
	n := float64(len(loads))
	if n == 0 {
		return Imbalance{MaxOverMean: math.NaN(), CV: math.NaN(), Jain: math.NaN()}
	}
	var sum, sq, mx float64
	for _, x := range loads {
		sum += x
		sq += x * x
		mx = math.Max(mx, x)
	}
	if sum == 0 {
		return Imbalance{MaxOverMean: 1, CV: 0, Jain: 1}
	}
	mean := sum / n
	variance := sq/n - mean*mean
	if variance < 0 { // rounding
		variance = 0
	}
	return Imbalance{
		MaxOverMean: mx / mean,
		CV:          math.Sqrt(variance) / mean,
		Jain:        sum * sum / (n * sq),
	}
}

// Stat is a mean over seeds with its 95% Student-t interval and the
// per-seed values. Deterministic scenarios have one value and no interval.
type Stat struct {
	Mean      F    `json:"mean"`
	Lo        F    `json:"lo"`
	Hi        F    `json:"hi"`
	HalfWidth F    `json:"half_width"`
	N         int  `json:"n"`
	DF        int  `json:"df"`
	Det       bool `json:"deterministic"`
	Values    []F  `json:"values"`
}

// HasInterval reports whether the statistic carries an interval.
func (s Stat) HasInterval() bool { return !s.Det && s.N >= 2 }

// StatOf computes a Stat from per-seed values; NaN values (a metric a run
// does not have, such as TTFT with no completed request) are left out of
// the mean and the interval but kept in Values.
func StatOf(xs []float64, deterministic bool) Stat {
	st := Stat{Det: deterministic, Values: make([]F, len(xs))}
	var ok []float64
	for i, x := range xs {
		st.Values[i] = F(x)
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			ok = append(ok, x)
		}
	}
	st.N = len(ok)
	m := Mean(ok)
	st.Mean, st.Lo, st.Hi = F(m), F(m), F(m)
	if st.HasInterval() {
		hw := tHalfWidth(ok, m)
		st.HalfWidth, st.DF = F(hw), st.N-1
		st.Lo, st.Hi = F(m-hw), F(m+hw)
	}
	return st
}

// tHalfWidth is the half-width of the two-sided 95% Student-t interval of
// the mean m of xs (len(xs) ≥ 2), with n−1 degrees of freedom (SPEC §9):
// t_{0.975, n−1} · s / √n.
func tHalfWidth(xs []float64, m float64) float64 {
	n := len(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	s := math.Sqrt(ss / float64(n-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
	return t * s / math.Sqrt(float64(n))
}

// ExcludesZero reports whether the statistic's interval lies wholly on one
// side of 0: for a paired difference, that the two scenarios differ
// significantly (SPEC §9).
func (s Stat) ExcludesZero() bool { return s.HasInterval() && (s.Lo > 0 || s.Hi < 0) }

// valuesFor returns a scenario's per-seed values of a metric over seeds,
// broadcasting a deterministic scenario's one value to n seeds.
func valuesFor(s *ScenarioResult, key string, n int) []float64 {
	ms := s.Metric(key)
	if ms == nil {
		return nil
	}
	out := make([]float64, 0, n)
	if ms.Det {
		for range n {
			out = append(out, float64(ms.Values[0]))
		}
		return out
	}
	for _, v := range ms.Values {
		out = append(out, float64(v))
	}
	return out
}

// Pair compares a with b on one metric over the same seeds (SPEC §9: t
// over per-seed differences). Two deterministic scenarios differ exactly:
// no interval. A deterministic side counts as a constant.
func Pair(a, b *ScenarioResult, key string) (Stat, bool) {
	ma, mb := a.Metric(key), b.Metric(key)
	if ma == nil || mb == nil {
		return Stat{}, false
	}
	if ma.Det && mb.Det {
		d := float64(ma.Values[0] - mb.Values[0])
		return StatOf([]float64{d}, true), true
	}
	n := max(len(ma.Values), len(mb.Values))
	if !ma.Det && !mb.Det && len(ma.Values) != len(mb.Values) {
		return Stat{}, false
	}
	xa, xb := valuesFor(a, key, n), valuesFor(b, key, n)
	d := make([]float64, n)
	for i := range d {
		d[i] = xa[i] - xb[i]
	}
	return StatOf(d, false), true
}
