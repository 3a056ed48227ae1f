package trace

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// maxArrival bounds arrivals (about 31 years) so that every reader accepts
// the same range and durations never overflow.
const maxArrival = 1e9 * time.Second

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
		if d > maxArrival {
			return 0, fmt.Errorf("too large (%s)", raw)
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
	if ns > float64(maxArrival) {
		return 0, fmt.Errorf("too large (%s)", raw)
	}
	return time.Duration(math.Round(ns)), nil
}

func exactDecimal(raw []byte, unit int64) (time.Duration, bool) {
	digits := len(strconv.FormatInt(unit, 10)) - 1
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
	if ip > int64(maxArrival)/unit {
		return time.Duration(math.MaxInt64), true // caller reports too large
	}
	return time.Duration(ip*unit + fp), true
}
