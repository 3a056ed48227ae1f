package trace

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// MaxSeconds bounds every time a reader returns, in seconds: an arrival
// (Mooncake and Qwen-Bailian timestamp, native arrival_s, an Azure row's
// delta from the first, kv-cache-tester session start + t with sub-agent
// offsets) and a think time (native think_s, kv-cache-tester think_time).
// 1e9 s is about 31.7 years: far beyond any recorded trace, and small
// enough that a few such times add up without overflowing time.Duration
// (about 292 years). What a replay makes of them (time_scale, chains of
// think times, service times) is bounded by the simulator (sim.MaxTime).
const MaxSeconds = 1e9

// MaxTime is MaxSeconds as a Duration.
const MaxTime = MaxSeconds * time.Second

// maxTimeText is how errors state the limit.
const maxTimeText = "at most 1e9 s, about 31.7 years"

// Arrivals are written as exact decimals of their nanoseconds (seconds in
// native traces, milliseconds in Mooncake ones) and read back exactly, so a
// round trip never moves an arrival by a nanosecond, however long the trace.

// appendDecimal writes v/scale as a decimal with no trailing zeros; scale is
// a power of ten.
func appendDecimal(b []byte, v, scale int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/scale, 10)
	frac := v % scale
	if frac == 0 {
		return b
	}
	digits := len(strconv.FormatInt(scale, 10)) - 1
	s := strconv.FormatInt(frac, 10)
	for len(s) < digits {
		s = "0" + s
	}
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	b = append(b, '.')
	return append(b, s...)
}

// parseDuration reads a non-negative JSON number of units (unit = ns per
// unit, a power of ten) into a Duration: exactly when it is a plain decimal,
// by rounding otherwise (exponents, more digits than nanoseconds hold).
func parseDuration(raw []byte, unit time.Duration) (time.Duration, error) {
	if len(raw) > 0 && raw[0] == '-' {
		return 0, fmt.Errorf("negative (%s)", raw)
	}
	if d, ok := exactDecimal(raw, int64(unit)); ok {
		if d > MaxTime {
			return 0, fmt.Errorf("too large (%s; %s)", raw, maxTimeText)
		}
		return d, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s is not a number", raw)
	}
	if f < 0 {
		return 0, fmt.Errorf("negative (%s)", raw)
	}
	ns := f * float64(unit)
	if ns > float64(MaxTime) {
		return 0, fmt.Errorf("too large (%s; %s)", raw, maxTimeText)
	}
	return time.Duration(math.Round(ns)), nil
}

func exactDecimal(raw []byte, unit int64) (time.Duration, bool) {
	digits := 0 // unit is a power of ten: 10^digits (counted, not formatted: no allocation)
	for u := unit; u >= 10; u /= 10 {
		digits++
	}
	var ip, fp int64
	i := 0
	for ; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i++ {
		if i >= 15 {
			return 0, false
		}
		ip = ip*10 + int64(raw[i]-'0')
	}
	if i == 0 {
		return 0, false
	}
	nf := 0
	if i < len(raw) {
		if raw[i] != '.' {
			return 0, false
		}
		i++
		for ; i < len(raw); i++ {
			c := raw[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			if nf == digits {
				if c != '0' {
					return 0, false
				}
				continue
			}
			fp = fp*10 + int64(c-'0')
			nf++
		}
		if nf == 0 {
			return 0, false
		}
	}
	for ; nf < digits; nf++ {
		fp *= 10
	}
	if ip > int64(MaxTime)/unit {
		return time.Duration(math.MaxInt64), true // caller reports too large
	}
	return time.Duration(ip*unit + fp), true
}

// checkSeconds checks a time in seconds read from a trace field: finite,
// not negative, at most MaxSeconds.
func checkSeconds(field string, v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fieldErr(field, "not a number (%v)", v)
	case v < 0:
		return fieldErr(field, "negative (%v)", v)
	case v > MaxSeconds:
		return fieldErr(field, "too large (%v; %s)", v, maxTimeText)
	}
	return nil
}
