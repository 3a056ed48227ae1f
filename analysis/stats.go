package analysis

import (
	"encoding/json"
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

// Interval is a mean with a two-sided 95% Student-t confidence interval over
// seeds (SPEC §9). Deterministic scenarios and single seeds carry no
// interval: Deterministic or N == 1, Lo == Hi == Mean.
type Interval struct {
	Mean float64 `json:"mean"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
	// HalfWidth is t_{0.975, n-1} · s / √n.
	HalfWidth float64 `json:"half_width"`
	N         int     `json:"n"`
	// Deterministic marks a scenario with no random draws: one run, no
	// interval (SPEC: "no interval (deterministic)").
	Deterministic bool `json:"deterministic,omitempty"`
}

// HasInterval reports whether an interval was computed (≥ 2 seeds).
func (iv Interval) HasInterval() bool { return !iv.Deterministic && iv.N >= 2 }

// MeanCI computes the mean and 95% Student-t interval with n−1 degrees of
// freedom of per-seed values.
func MeanCI(xs []float64) Interval {
	n := len(xs)
	m := Mean(xs)
	iv := Interval{Mean: m, Lo: m, Hi: m, N: n}
	if n < 2 {
		return iv
	}
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	s := math.Sqrt(ss / float64(n-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
	iv.HalfWidth = t * s / math.Sqrt(float64(n))
	iv.Lo, iv.Hi = m-iv.HalfWidth, m+iv.HalfWidth
	return iv
}

// Paired is a paired comparison of two scenarios on the same seeds: the
// mean per-seed difference a−b with its 95% t interval, and whether the
// interval excludes zero.
type Paired struct {
	Diff        Interval `json:"diff"`
	Significant bool     `json:"significant"`
}

// PairedCI compares per-seed values a[i] and b[i] (same seeds, same order).
func PairedCI(a, b []float64) Paired {
	n := min(len(a), len(b))
	d := make([]float64, n)
	for i := range d {
		d[i] = a[i] - b[i]
	}
	iv := MeanCI(d)
	return Paired{Diff: iv, Significant: iv.HasInterval() && (iv.Lo > 0 || iv.Hi < 0)}
}

// jsonFloat writes a float for JSON: NaN and ±Inf (no value: an empty
// distribution, a ratio over nothing) as null, which encoding/json would
// otherwise refuse.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(x)
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*f = jsonFloat(x)
	return nil
}

// MarshalJSON writes an empty distribution's figures as null.
func (d Dist) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		P50  jsonFloat `json:"p50"`
		P90  jsonFloat `json:"p90"`
		P99  jsonFloat `json:"p99"`
		Mean jsonFloat `json:"mean"`
		N    int       `json:"n"`
	}{jsonFloat(d.P50), jsonFloat(d.P90), jsonFloat(d.P99), jsonFloat(d.Mean), d.N})
}

// UnmarshalJSON reads null figures back as NaN.
func (d *Dist) UnmarshalJSON(b []byte) error {
	var v struct {
		P50, P90, P99, Mean jsonFloat
		N                   int
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = Dist{P50: float64(v.P50), P90: float64(v.P90), P99: float64(v.P99), Mean: float64(v.Mean), N: v.N}
	return nil
}
