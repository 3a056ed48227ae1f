package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/scenario"
)

// SweepKeys are the scenario keys a sweep may vary.
var SweepKeys = []string{"cache_blocks", "cache_tokens", "rate", "workers"}

// Sweep varies one scenario key over values (`--sweep KEY=A,B,C`): every
// scenario of the comparison runs at every value, over its seeds, and the
// report draws each headline metric against the value.
type Sweep struct {
	Key    string
	Values []string
}

// ParseSweep parses KEY=A,B,C. Values are checked against the key's rules
// (scenario.Set), must be numeric (they are a curve's x axis) and distinct.
func ParseSweep(s string) (Sweep, error) {
	k, vs, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return Sweep{}, fmt.Errorf("sweep %q: want KEY=A,B,C with KEY one of %s", s, strings.Join(SweepKeys, ", "))
	}
	if !slices.Contains(SweepKeys, k) {
		return Sweep{}, fmt.Errorf("sweep %q: key %q cannot be swept (one of %s)", s, k, strings.Join(SweepKeys, ", "))
	}
	sw := Sweep{Key: k}
	seen := map[float64]string{}
	for v := range strings.SplitSeq(vs, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			return Sweep{}, fmt.Errorf("sweep %q: empty value", s)
		}
		var probe scenario.Scenario
		if err := probe.Set(k, v); err != nil {
			return Sweep{}, fmt.Errorf("sweep %q: %w", s, err)
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) {
			return Sweep{}, fmt.Errorf("sweep %q: value %q is not a number", s, v)
		}
		if prev, dup := seen[x]; dup {
			return Sweep{}, fmt.Errorf("sweep %q: values %q and %q are the same", s, prev, v)
		}
		seen[x] = v
		sw.Values = append(sw.Values, v)
	}
	if len(sw.Values) < 2 {
		return Sweep{}, fmt.Errorf("sweep %q: give at least two values for a curve", s)
	}
	return sw, nil
}

// String writes KEY=A,B,C.
func (s Sweep) String() string { return s.Key + "=" + strings.Join(s.Values, ",") }

// X returns the numeric values (the curves' x axis).
func (s Sweep) X() []float64 {
	out := make([]float64, len(s.Values))
	for i, v := range s.Values {
		out[i], _ = strconv.ParseFloat(v, 64)
	}
	return out
}

// apply sets the swept key on a scenario (overriding what it gave).
func (s Sweep) apply(sc *scenario.Scenario, v string) error {
	if err := sc.Set(s.Key, v); err != nil {
		return err
	}
	return sc.Validate()
}

// SweepResult holds one curve per scenario: at each value the scenario's
// statistics over its seeds.
type SweepResult struct {
	Key    string       `json:"key"`
	Values []string     `json:"values"`
	X      []F          `json:"x"`
	Curves []SweepCurve `json:"curves"`
}

// SweepCurve is one scenario across the swept values.
type SweepCurve struct {
	Scenario int          `json:"scenario"`
	Label    string       `json:"label"`
	Points   []SweepPoint `json:"points"`
}

// SweepPoint is a scenario at one swept value.
type SweepPoint struct {
	Value    string `json:"value"`
	Scenario string `json:"scenario,omitempty"`
	Error    string `json:"error,omitempty"`
	// Metrics follow MetricDefs' order.
	Metrics []MetricStat `json:"metrics,omitempty"`
}

// Metric returns a point's statistic by key (nil when it failed).
func (p *SweepPoint) Metric(key string) *MetricStat { return metricByKey(p.Metrics, key) }

func buildSweep(sw Sweep, ss []ScenarioResult, pl [][]planned, results []jobResult, jobs []job) *SweepResult {
	out := &SweepResult{Key: sw.Key, Values: sw.Values}
	for _, x := range sw.X() {
		out.X = append(out.X, F(x))
	}
	for i := range ss {
		c := SweepCurve{Scenario: i, Label: ss[i].Label}
		for v, val := range sw.Values {
			r := aggregate(pl[i][v], results, jobs)
			c.Points = append(c.Points, SweepPoint{Value: val, Scenario: r.Scenario, Error: r.Error, Metrics: r.Metrics})
		}
		out.Curves = append(out.Curves, c)
	}
	return out
}
