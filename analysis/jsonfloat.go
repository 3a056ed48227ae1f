package analysis

import (
	"encoding/json"
	"math"
	"strconv"
)

// F is a float64 that writes NaN and infinities as JSON null.
type F float64

// MarshalJSON writes the shortest exact decimal, or null.
func (f F) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number or null (NaN).
func (f *F) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = F(math.NaN())
		return nil
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*f = F(x)
	return nil
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
