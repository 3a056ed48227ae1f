package gen

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// Purposes of the random streams. Each purpose draws from its own PCG stream
// derived from the seed, so changing how many numbers one purpose draws (say,
// the order) never shifts another's (the arrivals).
const (
	streamArrivals = "arrivals"
	streamOrder    = "order"
)

// stream is a PCG-DXSM source for one purpose of one seed. Only the source's
// Uint64 is used: the bounded and exponential draws below are written out
// here so that the bytes a seed gives cannot change with a Go release.
type stream struct{ src *rand.PCG }

func newStream(seed uint64, purpose string) *stream {
	h := fnv64a(purpose)
	s1 := splitmix64(seed ^ h)
	s2 := splitmix64(s1 ^ 0x9e3779b97f4a7c15)
	return &stream{src: rand.NewPCG(s1, s2)}
}

// uintn is uniform in [0, n) (Lemire's multiply-and-reject), n > 0.
func (s *stream) uintn(n uint64) uint64 {
	hi, lo := bits.Mul64(s.src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(s.src.Uint64(), n)
		}
	}
	return hi
}

// exp is an exponential gap in seconds with the given rate per second, by
// inversion: -ln(1-u)/rate with u uniform in [0, 1) on 53 bits. An
// infinite rate gives 0.
func (s *stream) exp(rate float64) float64 {
	u := float64(s.src.Uint64()>>11) * 0x1p-53
	if math.IsInf(rate, 1) {
		return 0
	}
	return -math.Log1p(-u) / rate
}

// shuffle permutes p uniformly (Fisher-Yates, from the end).
func (s *stream) shuffle(p []uint32) {
	for i := len(p) - 1; i > 0; i-- {
		j := s.uintn(uint64(i) + 1)
		p[i], p[j] = p[j], p[i]
	}
}

// poisson yields the arrival times of a Poisson process, in nanoseconds:
// the first at 0 (as sglang's bench_serving sends its first request at
// once), then exponential gaps. Times accumulate in float64 seconds and
// are rounded to the nanosecond, so rounding never drifts.
type poisson struct {
	s    *stream
	rate float64
	t    float64
	n    int
}

func newPoisson(seed uint64, rate float64) *poisson {
	return &poisson{s: newStream(seed, streamArrivals), rate: rate}
}

func (p *poisson) next() int64 {
	if p.n > 0 {
		p.t = float64(p.t + p.s.exp(p.rate))
	}
	p.n++
	return secondsToNs(p.t)
}

func secondsToNs(s float64) int64 { return int64(math.Round(s * 1e9)) }

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
