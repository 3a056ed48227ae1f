package infperf

import (
	"fmt"
	"math"

	"github.com/kvscope/kvscope/replay/trace/gen"
)

// stageLead is the second inference-perf's worker-process path waits
// before a stage's timer starts ("start_time = time.perf_counter() + 1",
// so that workers do not miss the first scheduled times).
const stageLead = 1.0

// arrivals yields one stage's scheduled send times, in seconds from the
// stage's timer start, in order (load_timer.py):
//
//   - constant: the stage's N = int(rate × duration) requests; N
//     exponential gaps are drawn and scaled to sum to the duration, so the
//     last request is sent at the stage's end and the others fall as N-1
//     sorted uniform times over the stage: random, not evenly spaced.
//   - poisson: second by second, a Poisson(rate) count of requests spread
//     over that second by the constant rule (a second drawing 0 is
//     skipped); the worker-process path takes the first N times, so the
//     stage may end before or after its duration; without worker
//     processes (num_workers: 0) the times run until the duration instead.
//
// Without worker processes a constant stage also drops a time at or past
// the duration, which its last request reaches up to float rounding.
type arrivals struct {
	typ      LoadType
	n        int64   // requests to yield, -1: no count (poisson without worker processes)
	cut      bool    // stop at the first time at or past the duration (no worker processes)
	duration float64 // seconds
	rate     float64
	gaps     gen.Stream // gap draws
	counts   gen.Stream // poisson: per-second counts
	// state
	sent   int64
	window float64   // poisson: start of the current second
	buf    []float64 // poisson: the current second's times, reversed
	t      float64   // constant: time so far
	scale  float64   // constant: gap scale
}

// newArrivals starts stage k's timer. Its streams depend on (seed, k)
// only, so one stage's draws never move another's.
func newArrivals(l *Load, k int, seed uint64) *arrivals {
	s := l.Stages[k]
	a := &arrivals{typ: l.Type, n: s.Requests(), duration: float64(s.Duration), rate: s.Rate,
		gaps:   gen.NewStream(seed, fmt.Sprintf("arrivals.stage%d", k)),
		counts: gen.NewStream(seed, fmt.Sprintf("counts.stage%d", k))}
	if !l.MultiProcess() {
		a.cut = true
		if l.Type == LoadPoisson {
			a.n = -1
		}
	}
	if a.typ == LoadConstant && a.n > 0 {
		a.scale = a.duration / sumExp(a.gaps.Clone(), a.rate, a.n)
	}
	return a
}

// sumExp is the sum of n exponential draws (the first pass of the
// normalisation; the second pass replays the same draws).
func sumExp(s gen.Stream, rate float64, n int64) float64 {
	var sum float64
	for range n {
		sum += s.Exp(rate)
	}
	return sum
}

// next returns the next send time, or false when the stage has sent all.
func (a *arrivals) next() (float64, bool) {
	if a.n >= 0 && a.sent >= a.n {
		return 0, false
	}
	var t float64
	if a.typ == LoadConstant {
		a.t += a.gaps.Exp(a.rate) * a.scale
		t = a.t
	} else {
		for len(a.buf) == 0 {
			if a.cut && a.window >= a.duration {
				return 0, false
			}
			c := poisson(a.counts, a.rate)
			start := a.window
			a.window++
			if c == 0 {
				continue
			}
			// c gaps scaled to sum to one second, times kept reversed so
			// that the next one pops from the end.
			scale := 1 / sumExp(a.gaps.Clone(), float64(c), c)
			a.buf = a.buf[:0]
			u := start
			for range c {
				u += a.gaps.Exp(float64(c)) * scale
				a.buf = append(a.buf, u)
			}
			for i, j := 0, len(a.buf)-1; i < j; i, j = i+1, j-1 {
				a.buf[i], a.buf[j] = a.buf[j], a.buf[i]
			}
		}
		t = a.buf[len(a.buf)-1]
		a.buf = a.buf[:len(a.buf)-1]
	}
	if a.cut && t >= a.duration {
		return 0, false
	}
	a.sent++
	return t, true
}

// secondsToNs rounds seconds to nanoseconds.
func secondsToNs(s float64) int64 { return int64(math.Round(s * 1e9)) }
