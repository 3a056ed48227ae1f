package sim

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/rng"
)

// MaxTime is the latest simulated instant a run may reach: 4e9 s, about
// 126.8 years. It is under half of time.Duration's range (about 292
// years), so an instant within it plus a duration within it never
// overflows, and it leaves room for a whole trace as the readers bound it
// (every time at most trace.MaxSeconds = 1e9 s) plus think times and
// service times. A run that could pass it is refused before any work
// (checkHorizon); what cannot be bounded up front (the engine model's
// iteration times) is checked as each event is scheduled (at).
const MaxTime = 4e9 * time.Second

// maxTimeText is how errors state the limit.
const maxTimeText = "the simulator's limit of 4e9 s (about 126.8 years)"

// durationOf converts nanoseconds to a Duration, rounding to the ns and
// saturating: NaN and values past the int64 range give math.MaxInt64 (a
// float-to-int conversion out of range is not defined in Go), so the
// scheduling guard refuses them instead of meeting a wrapped-around value.
func durationOf(ns float64) time.Duration {
	switch {
	case ns != ns || ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(math.Round(ns))
}

// secondsToDuration converts seconds to a Duration (durationOf's rules).
func secondsToDuration(s float64) time.Duration { return durationOf(s * 1e9) }

// secs formats a time in seconds for errors.
func secs(s float64) string { return fmt.Sprintf("%.6g s", s) }

// at returns t+d, the instant of an event that ends work of duration d
// started at t (what, for request x on worker w; w < 0 for none), or fails
// the run when that instant would pass MaxTime (or d is negative: a latency
// model overflowed). t is at most MaxTime, so the test cannot overflow.
func (c *cluster) at(t, d time.Duration, w int, x int32, what string) (time.Duration, bool) {
	if d >= 0 && d <= MaxTime-t {
		return t + d, true
	}
	dur := "an overflowing duration"
	if d >= 0 && d < math.MaxInt64 {
		dur = secs(d.Seconds())
	}
	where := ""
	if w >= 0 {
		where = fmt.Sprintf("worker %d: ", w)
	}
	if x >= 0 {
		where += fmt.Sprintf("request %d (%s): ", x, c.req(x).Source)
	}
	c.fail(fmt.Errorf("%s%s from %s takes %s, past %s", where, what, secs(t.Seconds()), dur, maxTimeText))
	return 0, false
}

// arrivalTimes sets c.arrivals: the trace's timestamps times time_scale,
// or a Poisson re-timing at rate. A time past MaxTime is an error naming the
// key that produced it.
func (c *cluster) arrivalTimes() error {
	tr, sc := c.tr, &c.cfg.sc
	n := len(tr.Requests)
	c.arrivals = make([]time.Duration, n)
	if sc.Rate > 0 {
		wl := rng.Stream(sc.Seed, rng.Workload, 0)
		var clock float64 // seconds
		for i := range tr.Requests {
			if i > 0 {
				clock += wl.ExpFloat64() / sc.Rate
			}
			ns := clock * 1e9
			if ns > float64(MaxTime) {
				return fmt.Errorf("rate=%s: the re-timed arrivals reach %s by request %d of %d, past %s",
					param.FormatFloat(sc.Rate), secs(clock), i, n, maxTimeText)
			}
			c.arrivals[i] = durationOf(ns)
		}
		return nil
	}
	var last time.Duration
	lastAt := 0
	for i := range tr.Requests {
		if a := tr.Requests[i].Arrival; a >= last {
			last, lastAt = a, i
		}
	}
	if float64(last)*sc.TimeScale > float64(MaxTime) {
		return timeScaleError(sc.TimeScale, last, tr.Requests[lastAt].Source)
	}
	for i := range tr.Requests {
		c.arrivals[i] = durationOf(float64(tr.Requests[i].Arrival) * sc.TimeScale)
	}
	return nil
}

// timeScaleError refuses a time_scale that carries the trace's latest
// arrival, last (at src), past MaxTime.
func timeScaleError(scale float64, last time.Duration, src string) error {
	ns := float64(last) * scale
	return fmt.Errorf("time_scale=%s: the trace's arrivals span %s (the last at %s), which become %s of simulated time, past %s; this trace's arrivals fit with time_scale up to %s",
		param.FormatFloat(scale), secs(last.Seconds()), src, secs(ns/1e9), maxTimeText, param.FormatFloat(floor3(float64(MaxTime)/float64(last))))
}

// horizonError refuses a linear-model run whose service bound (sumMs) after
// the latest release (maxR seconds) could pass MaxTime; nil when it cannot.
func horizonError(lat param.Spec, sumMs, maxR float64) error {
	if end := maxR + sumMs/1e3; end*1e9 > float64(MaxTime) {
		return fmt.Errorf("latency %s: the requests' service times add up to as much as %s; with the last release at %s the run could reach %s, past %s",
			lat.String(), secs(sumMs/1e3), secs(maxR), secs(end), maxTimeText)
	}
	return nil
}

// floor3 rounds x > 0 down to three significant digits.
func floor3(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x))-2)
	return math.Floor(x/p) * p
}

// checkHorizon refuses, before any work, a run that could pass MaxTime. An
// upper bound of the last instant is
//
//	max over requests of R(x)  +  S
//
// where R(x) is when x is released if every service took no time (its
// arrival; with session_timing=closed, its session root's arrival plus the
// think times along its chain of parents) and S bounds the sum of every
// request's service time (linear model: max(cached_ms, miss_ms) per input
// token plus out_ms per output token). Why it holds: between x's release
// and its completion x's worker is never idle (FCFS, work-conserving), so
// that stretch is covered by the worker's service; the stretches along one
// chain are disjoint, so together they take at most S. The engine model's
// iterations have no cheap bound: its S is not counted here and each
// iteration is checked when scheduled.
//
// With session_timing=closed it also builds the release order and refuses
// a request whose chain of parents never reaches a request the clock
// releases (a cycle of parent ids), which would otherwise never arrive.
func (c *cluster) checkHorizon() error {
	tr, sc := c.tr, &c.cfg.sc
	n := len(tr.Requests)
	rel := make([]float64, n) // R(x), seconds
	maxR, arg := 0.0, -1
	for i := range n {
		if c.dependent != nil && c.dependent[i] {
			continue
		}
		rel[i] = c.arrivals[i].Seconds()
		if rel[i] >= maxR {
			maxR, arg = rel[i], i
		}
	}
	if c.dependent != nil {
		// Walk each clock-released request's descendants.
		reached := make([]bool, n)
		stack := make([]int32, 0, 16)
		for i := range n {
			if c.dependent[i] {
				continue
			}
			reached[i] = true
			stack = append(stack[:0], int32(i))
			for len(stack) > 0 {
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for _, ch := range c.children[p] {
					rel[ch] = rel[p] + tr.Requests[ch].ThinkS
					reached[ch] = true
					if rel[ch] > maxR {
						maxR, arg = rel[ch], int(ch)
					}
					stack = append(stack, ch)
				}
			}
		}
		// Every request has one parent, so one never reached has a chain
		// of parents that loops.
		if i := slices.Index(reached, false); i >= 0 {
			r := &tr.Requests[i]
			return fmt.Errorf("%s: parent: request id %d's chain of parents (id %d, …) loops back on itself and never reaches a turn the trace's clock releases; session_timing=closed cannot release it",
				r.Source, r.ID, r.Parent)
		}
		if maxR*1e9 > float64(MaxTime) {
			r := &tr.Requests[arg]
			root, turns := c.chainRoot(arg)
			return fmt.Errorf("%s: think_s: with session_timing=closed this turn is released no earlier than %s into the run (its session's first arrival at %s plus %d think times summing to %s), past %s",
				r.Source, secs(maxR), secs(rel[root]), turns, secs(maxR-rel[root]), maxTimeText)
		}
	}
	if c.cfg.isEngine || c.cfg.isVLLM {
		return nil
	}
	m := c.cfg.linear
	perIn := max(m.CachedMs, m.MissMs)
	var s float64 // ms
	for i := range tr.Requests {
		r := &tr.Requests[i]
		s += perIn*float64(r.Input) + m.OutMs*float64(r.Output)
	}
	return horizonError(sc.Latency, s, maxR)
}

// chainRoot returns the clock-released request at the top of request i's
// chain and the number of think times along the way.
func (c *cluster) chainRoot(i int) (root, turns int) {
	for c.dependent != nil && c.dependent[i] {
		i = int(c.parentOf[i])
		turns++
	}
	return i, turns
}
