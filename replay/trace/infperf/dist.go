package infperf

import (
	"math"

	"github.com/kvscope/kvscope/replay/trace/gen"
)

// Sampling. inference-perf draws lengths with numpy; kvscope draws the
// same distributions from its own seeded streams (gen.Stream), so a run
// reproduces the distributions, not numpy's draws. The algorithms are
// written out here (not math/rand/v2's) so that a seed keeps its bytes
// across Go releases.

// sample draws one length. io selects inference-perf's generate_distribution
// (random, synthetic) over sample_from_distribution (shared_prefix): they
// differ for uniform (max exclusive, then rounded, versus max+1 exclusive
// then clipped) and lognormal (shifted by min, versus not). Both clip to
// [min, max], round, and clip again; a fixed distribution is int(mean),
// truncated and not clipped. kvscope rounds half away from zero (SPEC §3)
// where numpy rounds half to even: they differ only on samples exactly
// halfway between integers.
func (d *Distribution) sample(s gen.Stream, io bool) int64 {
	var x float64
	switch d.Type {
	case DistFixed:
		return int64(d.Mean)
	case DistNormal:
		x = d.Mean + d.StdDev*normal(s)
	case DistSkewNormal:
		// Azzalini's two-normal construction, as inference-perf samples it:
		// Mean and StdDev are the location and scale.
		delta := d.Skew / math.Sqrt(1+d.Skew*d.Skew)
		u0, v := normal(s), normal(s)
		u1 := delta*u0 + math.Sqrt(1-delta*delta)*v
		if u0 < 0 {
			u1 = -u1
		}
		x = d.Mean + d.StdDev*u1
	case DistLognormal:
		m, shift := d.Mean, 0.0
		if io {
			m, shift = d.Mean-float64(d.Min), float64(d.Min)
			if m <= 0 {
				m = 1
			}
		}
		if !io && d.StdDev <= 0 {
			x = m
			break
		}
		// Moments matched: the lognormal has mean m and deviation StdDev.
		sigma2 := math.Log1p((d.StdDev / m) * (d.StdDev / m))
		x = math.Exp(math.Log(m)-sigma2/2+math.Sqrt(sigma2)*normal(s)) + shift
	case DistUniform:
		hi := float64(d.Max)
		if !io {
			hi++
		}
		x = float64(d.Min) + (hi-float64(d.Min))*s.Float64()
	case DistPoisson:
		lam := d.Mean
		if lam <= 0 {
			lam = 1
		}
		x = float64(poisson(s, lam))
	}
	lo, hi := float64(d.Min), float64(d.Max)
	x = math.Round(min(max(x, lo), hi))
	return int64(min(max(x, lo), hi))
}

// draw is one length of l: its constant, or a draw from its distribution.
func (l Length) draw(s gen.Stream) int64 {
	if l.Dist == nil {
		return l.Const
	}
	return l.Dist.sample(s, false)
}

// normal is a standard normal draw (Marsaglia's polar method; the second
// value of each pair is dropped so that a draw depends on nothing else).
func normal(s gen.Stream) float64 {
	for {
		u, v := 2*s.Float64()-1, 2*s.Float64()-1
		q := u*u + v*v
		if q > 0 && q < 1 {
			return u * math.Sqrt(-2*math.Log(q)/q)
		}
	}
}

// poisson is a Poisson draw with mean lam > 0: the multiplication method
// below 10 (Knuth), Hörmann's transformed rejection (PTRS, 1993) above, as
// numpy does; time per draw is bounded for any lam.
func poisson(s gen.Stream, lam float64) int64 {
	if lam < 10 {
		limit := math.Exp(-lam)
		var k int64
		for p := s.Float64(); p > limit; p *= s.Float64() {
			k++
		}
		return k
	}
	slam, loglam := math.Sqrt(lam), math.Log(lam)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invAlpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := s.Float64() - 0.5
		v := s.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lam + 0.43)
		if us >= 0.07 && v <= vr {
			return int64(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invAlpha)-math.Log(a/(us*us)+b) <= -lam+k*loglam-lg {
			return int64(k)
		}
	}
}
