package tui

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvscope/kvscope/replay/sim"
)

// span is the simulated time range the cursor moves over.
type span struct{ Start, End time.Duration }

func (s span) len() time.Duration { return max(s.End-s.Start, 0) }

// clamp keeps t inside the span.
func (s span) clamp(t time.Duration) time.Duration {
	return min(max(t, s.Start), max(s.End, s.Start))
}

// frac is the cursor's position in [0, 1].
func (s span) frac(t time.Duration) float64 {
	if s.len() <= 0 {
		return 0
	}
	return float64(s.clamp(t)-s.Start) / float64(s.len())
}

// jump moves t by f of the span (f may be negative), clamped.
func (s span) jump(t time.Duration, f float64) time.Duration {
	return s.clamp(t + time.Duration(math.Round(f*float64(s.len()))))
}

// stepEvent returns the time of the first event after t (dir > 0) or the
// last event before t (dir < 0); t itself when there is none.
func stepEvent(evs []sim.Event, t time.Duration, dir int) time.Duration {
	if dir > 0 {
		i, _ := slices.BinarySearchFunc(evs, t, func(e sim.Event, t time.Duration) int {
			if e.T <= t {
				return -1
			}
			return 1
		})
		if i < len(evs) {
			return evs[i].T
		}
		return t
	}
	i, _ := slices.BinarySearchFunc(evs, t, func(e sim.Event, t time.Duration) int {
		if e.T < t {
			return -1
		}
		return 1
	})
	if i > 0 {
		return evs[i-1].T
	}
	return t
}

// stepTime is stepEvent over sorted instants (arrivals).
func stepTime(ts []time.Duration, t time.Duration, dir int) time.Duration {
	if dir > 0 {
		i, found := slices.BinarySearch(ts, t)
		for found && i < len(ts) && ts[i] == t {
			i++
		}
		if i < len(ts) {
			return ts[i]
		}
		return t
	}
	i, _ := slices.BinarySearch(ts, t)
	if i > 0 {
		return ts[i-1]
	}
	return t
}

// lastAtOrBefore returns the index in sorted ts of the last instant ≤ t,
// or -1.
func lastAtOrBefore(ts []time.Duration, t time.Duration) int {
	i, found := slices.BinarySearch(ts, t)
	for found && i < len(ts) && ts[i] == t {
		i++
	}
	return i - 1
}

// parseGoto reads a "go to" target: a percentage of the span ("25%"), a Go
// duration since the span's start ("90s", "1m30s", "250ms") or plain
// seconds ("12.5").
func parseGoto(s string, sp span) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty time: give 90s, 1m30s, 12.5 (seconds) or 25%%")
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return 0, fmt.Errorf("%q: want a percentage in [0, 100]", s)
		}
		return sp.jump(sp.Start, f/100), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return 0, fmt.Errorf("%q: want a non-negative number of seconds", s)
		}
		return sp.clamp(sp.Start + time.Duration(math.Round(f*1e9))), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: give 90s, 1m30s, 12.5 (seconds) or 25%%", s)
	}
	return sp.clamp(sp.Start + d), nil
}

// speeds are the play speeds: simulated seconds per wall second.
var speeds = []float64{0.1, 1, 10, 60, 300, 1000, 5000}

// playStep advances t by one tick of dt wall time at speed, clamped; done
// reports that the end was reached.
func playStep(sp span, t time.Duration, speed float64, dt time.Duration) (time.Duration, bool) {
	n := sp.clamp(t + time.Duration(float64(dt)*speed))
	return n, n >= sp.End
}

// fmtSim formats a simulated instant relative to the span start.
func fmtSim(d time.Duration) string { return fmtDur(d, true) }

// fmtSpeed formats a play speed.
func fmtSpeed(x float64) string {
	return strconv.FormatFloat(x, 'g', -1, 64) + "×"
}
