package infperf

import (
	"math"
	"testing"

	"github.com/kvscope/kvscope/replay/trace/gen"
)

// The samplers draw inference-perf's distributions: sample moments lie
// within 6 standard errors of the distribution's (fixed seeds: these
// checks cannot flicker).
func TestDistributions(t *testing.T) {
	const n = 200_000
	delta := 3 / math.Sqrt(10)
	for _, tc := range []struct {
		name       string
		d          Distribution
		io         bool
		mean, sd   float64 // of the distribution after clipping (clipping is negligible here)
		lo, hi     int64
		minFreq    float64 // expected frequency of lo (uniform only)
		maxFreq    float64 // of hi
		checkFreqs bool
	}{
		{name: "normal", d: Distribution{Type: DistNormal, Mean: 500, StdDev: 50, Min: 0, Max: 10000}, mean: 500, sd: 50, lo: 0, hi: 10000},
		{name: "normal io", d: Distribution{Type: DistNormal, Mean: 500, StdDev: 50, Min: 0, Max: 10000}, io: true, mean: 500, sd: 50, lo: 0, hi: 10000},
		{name: "skew normal", d: Distribution{Type: DistSkewNormal, Mean: 100, StdDev: 20, Skew: 3, Min: 0, Max: 10000},
			mean: 100 + 20*delta*math.Sqrt(2/math.Pi), sd: 20 * math.Sqrt(1-2*delta*delta/math.Pi), lo: 0, hi: 10000},
		{name: "lognormal", d: Distribution{Type: DistLognormal, Mean: 300, StdDev: 100, Min: 0, Max: 100000}, mean: 300, sd: 100, lo: 0, hi: 100000},
		{name: "lognormal io (shifted by min)", d: Distribution{Type: DistLognormal, Mean: 300, StdDev: 100, Min: 100, Max: 100000}, io: true, mean: 300, sd: 100, lo: 100, hi: 100000},
		{name: "poisson small", d: Distribution{Type: DistPoisson, Mean: 4, Min: 0, Max: 1000}, mean: 4, sd: 2, lo: 0, hi: 1000},
		{name: "poisson large", d: Distribution{Type: DistPoisson, Mean: 250, Min: 0, Max: 100000}, mean: 250, sd: math.Sqrt(250), lo: 0, hi: 100000},
		// uniform over [10, 21) clipped to 20, then rounded: 10 takes
		// [10, 10.5), 20 takes [19.5, 21).
		{name: "uniform", d: Distribution{Type: DistUniform, Min: 10, Max: 20}, lo: 10, hi: 20, checkFreqs: true, minFreq: 0.5 / 11, maxFreq: 1.5 / 11,
			mean: 170.0 / 11, sd: math.Sqrt(2735.0/11 - (170.0/11)*(170.0/11))},
		// io: uniform over [10, 20): the ends take half an integer each.
		{name: "uniform io", d: Distribution{Type: DistUniform, Min: 10, Max: 20}, io: true, lo: 10, hi: 20, checkFreqs: true, minFreq: 0.05, maxFreq: 0.05, mean: 15, sd: math.Sqrt(8.5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := gen.NewStream(1, tc.name)
			var sum, sum2 float64
			var nlo, nhi int
			for range n {
				v := tc.d.sample(s, tc.io)
				if v < tc.lo || v > tc.hi {
					t.Fatalf("sample %d outside [%d, %d]", v, tc.lo, tc.hi)
				}
				if v == tc.lo {
					nlo++
				}
				if v == tc.hi {
					nhi++
				}
				sum += float64(v)
				sum2 += float64(v) * float64(v)
			}
			mean := sum / n
			sd := math.Sqrt(sum2/n - mean*mean)
			// Rounding to integers adds variance 1/12: allow it.
			if se := tc.sd / math.Sqrt(n); math.Abs(mean-tc.mean) > 6*se+0.01 {
				t.Fatalf("mean %g, want %g ± %g", mean, tc.mean, 6*se)
			}
			if math.Abs(sd-tc.sd) > 0.02*tc.sd+0.05 {
				t.Fatalf("sd %g, want about %g", sd, tc.sd)
			}
			if tc.checkFreqs {
				for _, f := range []struct {
					got  int
					want float64
				}{{nlo, tc.minFreq}, {nhi, tc.maxFreq}} {
					se := math.Sqrt(f.want * (1 - f.want) / n)
					if got := float64(f.got) / n; math.Abs(got-f.want) > 6*se {
						t.Fatalf("end frequency %g, want %g", got, f.want)
					}
				}
			}
		})
	}
}

func TestFixedAndConstant(t *testing.T) {
	s := gen.NewStream(1, "x")
	// fixed is int(mean): truncated, not clipped (inference-perf).
	d := Distribution{Type: DistFixed, Mean: 12.9, Min: 20, Max: 30}
	if v := d.sample(s, false); v != 12 {
		t.Fatalf("fixed 12.9 gave %d", v)
	}
	if v := (Length{Const: 77}).draw(s); v != 77 {
		t.Fatalf("constant gave %d", v)
	}
	// A zero deviation lognormal is its mean.
	if v := (&Distribution{Type: DistLognormal, Mean: 40, Min: 0, Max: 100}).sample(s, false); v != 40 {
		t.Fatalf("lognormal sd 0 gave %d", v)
	}
	// Clipping: a normal far outside [min, max] lands on the bound.
	if v := (&Distribution{Type: DistNormal, Mean: 5000, StdDev: 1, Min: 0, Max: 100}).sample(s, false); v != 100 {
		t.Fatalf("clipped normal gave %d", v)
	}
}

func TestPoissonDraws(t *testing.T) {
	for _, lam := range []float64{0.01, 9.99, 10, 1e6} {
		s := gen.NewStream(2, "poisson")
		const n = 50_000
		var sum float64
		for range n {
			k := poisson(s, lam)
			if k < 0 {
				t.Fatalf("negative draw %d", k)
			}
			sum += float64(k)
		}
		if m, se := sum/n, math.Sqrt(lam/n); math.Abs(m-lam) > 6*se {
			t.Fatalf("lam %g: mean %g", lam, m)
		}
	}
}
