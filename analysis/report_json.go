package analysis

import (
	"encoding/json"
	"io"

	"github.com/kvscope/kvscope/replay/trace"
)

// JSONVersion is the version of the JSON report's schema; it changes when
// a field changes meaning or goes away.
const JSONVersion = 1

// jsonReport is the JSON report: everything the other formats show, with
// every per-seed value and per-worker table (request rows are the CSV's).
type jsonReport struct {
	Version        int             `json:"version"`
	KVScopeVersion string          `json:"kvscope_version"`
	Command        string          `json:"command"`
	Trace          trace.Info      `json:"trace"`
	TraceStats     *trace.Stats    `json:"trace_stats,omitempty"`
	Seeds          int             `json:"seeds"`
	Metrics        []jsonMetricDef `json:"metric_defs"`
	WorkerMetrics  []jsonMetricDef `json:"worker_metric_defs"`
	Scenarios      []jsonScenario  `json:"scenarios"`
	Paired         []PairedResult  `json:"paired"`
	Sweep          *SweepResult    `json:"sweep,omitempty"`
	Notes          []string        `json:"notes,omitempty"`
}

type jsonMetricDef struct {
	Key    string `json:"key"`
	Label  string `json:"label"`
	Better string `json:"better"`
}

type jsonScenario struct {
	ScenarioResult
	Interval string `json:"interval"`
	// Best lists the metric keys where this scenario holds the best mean.
	Best []string `json:"best"`
}

func betterName(b Better) string {
	switch b {
	case Lower:
		return "lower"
	case Higher:
		return "higher"
	}
	return "none"
}

// WriteJSON writes the versioned JSON report.
func (r *Report) WriteJSON(w io.Writer) error {
	doc := jsonReport{
		Version: JSONVersion, KVScopeVersion: r.Version, Command: r.Command,
		Trace: r.Trace, TraceStats: r.Stats, Seeds: r.Seeds,
		Paired: r.Paired, Sweep: r.Sweep, Notes: r.Notes,
	}
	if doc.Paired == nil {
		doc.Paired = []PairedResult{}
	}
	for _, d := range MetricDefs {
		doc.Metrics = append(doc.Metrics, jsonMetricDef{d.Key, d.Label, betterName(d.Better)})
	}
	for _, d := range WorkerDefs {
		doc.WorkerMetrics = append(doc.WorkerMetrics, jsonMetricDef{d.Key, d.Label, betterName(d.Better)})
	}
	best := make([][]bool, len(MetricDefs))
	for k, d := range MetricDefs {
		best[k] = Best(r.Scenarios, d.Key)
	}
	for i := range r.Scenarios {
		js := jsonScenario{ScenarioResult: r.Scenarios[i], Interval: intervalNote(&r.Scenarios[i]), Best: []string{}}
		for k, d := range MetricDefs {
			if best[k][i] {
				js.Best = append(js.Best, d.Key)
			}
		}
		doc.Scenarios = append(doc.Scenarios, js)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// MarshalJSON writes the chart series with lower-case keys and NaN as null.
func (c ChartData) MarshalJSON() ([]byte, error) {
	type series struct {
		T []F `json:"t"`
		V []F `json:"v"`
	}
	conv := func(s Series) series {
		out := series{T: make([]F, len(s.T)), V: make([]F, len(s.V))}
		for i, x := range s.T {
			out.T[i] = F(x)
		}
		for i, x := range s.V {
			out.V[i] = F(x)
		}
		return out
	}
	doc := struct {
		Seed     uint64   `json:"seed"`
		HitRatio series   `json:"hit_ratio"`
		Queue    []series `json:"queue_per_worker"`
		TTFTCDF  series   `json:"ttft_cdf_ms"`
	}{Seed: c.Seed, HitRatio: conv(c.HitRatio), TTFTCDF: conv(c.TTFTCDF)}
	for _, q := range c.Queue {
		doc.Queue = append(doc.Queue, conv(q))
	}
	return json.Marshal(doc)
}
