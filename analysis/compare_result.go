package analysis

import (
	"errors"
	"time"

	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// Comparison is the result of Compare: what every report renders.
type Comparison struct {
	Trace trace.Info `json:"trace"`
	// Seeds is N, the seeds of every randomized scenario (1..N).
	Seeds     int              `json:"seeds"`
	Scenarios []ScenarioResult `json:"scenarios"`
	// Paired compares every pair of scenarios (i < j) on the same seeds
	// for the headline metrics.
	Paired []PairedResult `json:"paired"`
	Sweep  *SweepResult   `json:"sweep,omitempty"`
	// Notes say how the comparison's figures were made where that is not
	// Compare's way (a streamed comparison's: CompareStream); every
	// report shows them under its command.
	Notes []string `json:"notes,omitempty"`
	// Timing of the replay stage (not rendered: reports are deterministic).
	Timing Timing `json:"-"`
}

// Timing is the wall time of the replay stage and how many runs it made.
type Timing struct {
	Wall time.Duration
	Runs int
}

// ScenarioResult is one scenario over its seeds.
type ScenarioResult struct {
	Label string `json:"label"`
	// Scenario is the canonical string of its first run.
	Scenario   string   `json:"scenario"`
	Randomized bool     `json:"randomized"`
	Seeds      []uint64 `json:"seeds"`
	// Error names why the scenario has no results ("" when it ran).
	Error string `json:"error,omitempty"`
	// Metrics follow MetricDefs' order.
	Metrics []MetricStat `json:"metrics"`
	// Workers aggregates each worker over seeds (WorkerDefs' order).
	Workers []WorkerStat `json:"workers"`
	// Runs holds every seed's figures.
	Runs []SeedRun `json:"runs"`
	// Charts are drawn from the first run.
	Charts *ChartData `json:"charts,omitempty"`
	// Records holds, per seed, every request's record (KeepRecords);
	// SpilledRecords holds them instead for a streamed comparison.
	Records        [][]RequestRow `json:"-"`
	SpilledRecords []*SpilledRows `json:"-"`
}

// Close releases a streamed comparison's spilled request rows (nothing
// for a held one). The comparison's CSV cannot be written after it.
func (c *Comparison) Close() error {
	var errs []error
	for i := range c.Scenarios {
		for _, r := range c.Scenarios[i].SpilledRecords {
			if r != nil {
				errs = append(errs, r.Close())
			}
		}
	}
	return errors.Join(errs...)
}

// OK reports whether the scenario ran.
func (s *ScenarioResult) OK() bool { return s.Error == "" }

// Metric returns the statistic of a metric key (nil if unknown or failed).
func (s *ScenarioResult) Metric(key string) *MetricStat { return metricByKey(s.Metrics, key) }

// metricByKey finds key's statistic in ms (nil when absent).
func metricByKey(ms []MetricStat, key string) *MetricStat {
	for i := range ms {
		if ms[i].Key == key {
			return &ms[i]
		}
	}
	return nil
}

// MetricStat is one metric of a scenario over its seeds.
type MetricStat struct {
	Key string `json:"key"`
	Stat
}

// SeedRun is one run of a scenario.
type SeedRun struct {
	Seed     uint64 `json:"seed"`
	Scenario string `json:"scenario"`

	Requests      int            `json:"requests"`
	Completed     int            `json:"completed"`
	Failed        int            `json:"failed"`
	FailedReasons map[string]int `json:"failed_reasons"`
	Bypassed      int            `json:"bypassed"`
	SkippedLines  int            `json:"skipped_lines"`
	Capacity      int64          `json:"capacity"`
	Unit          string         `json:"unit"`
	// Values maps every metric key of MetricDefs to this run's value.
	Values map[string]F `json:"values"`
	// Cluster counters behind the ratios.
	HitTokens   int64 `json:"hit_tokens"`
	InputTokens int64 `json:"input_tokens"`
	HitBlocks   int64 `json:"hit_blocks"`
	Blocks      int64 `json:"blocks"`
	// Workers is the per-worker table of this run.
	Workers []WorkerRow `json:"workers"`
}

// WorkerRow is one worker of one run, with its sequential competitive
// ratios and SPEC §6's bounds for its B and L.
type WorkerRow struct {
	Worker    int `json:"worker"`
	Requests  int `json:"requests"`
	Completed int `json:"completed"`
	// Values maps every key of WorkerDefs to this worker's value.
	Values map[string]F `json:"values"`
	// TTFT and E2E are the worker's whole latency summaries (ms).
	TTFT DistF `json:"ttft_ms"`
	E2E  DistF `json:"e2e_ms"`
	// HitTokens … Blocks are the worker's cumulative hit counters.
	HitTokens   int64 `json:"hit_tokens"`
	InputTokens int64 `json:"input_tokens"`
	HitBlocks   int64 `json:"hit_blocks"`
	Blocks      int64 `json:"blocks"`
	Phases      int64 `json:"phases"`
	// Competitive ratio details (absent without ratios).
	Sequence     int    `json:"sequence"`
	PolicyMissed int64  `json:"policy_missed"`
	OptMissed    int64  `json:"opt_missed"`
	BeladyMissed int64  `json:"belady_missed"`
	OptLabel     string `json:"opt_label,omitempty"`
	BeladyLabel  string `json:"belady_label,omitempty"`
	Longest      int64  `json:"longest"`
	BoundNote    string `json:"bound_note,omitempty"`
}

// DistF is a Dist whose NaNs (no completed request) write as JSON null.
type DistF struct {
	P50  F   `json:"p50"`
	P90  F   `json:"p90"`
	P99  F   `json:"p99"`
	Mean F   `json:"mean"`
	N    int `json:"n"`
}

func distF(d Dist) DistF { return DistF{F(d.P50), F(d.P90), F(d.P99), F(d.Mean), d.N} }

// WorkerStat aggregates one worker over seeds.
type WorkerStat struct {
	Worker  int          `json:"worker"`
	Metrics []MetricStat `json:"metrics"`
}

// Metric returns a worker statistic by key.
func (w *WorkerStat) Metric(key string) *MetricStat { return metricByKey(w.Metrics, key) }

// RequestRow is one request of one run (the CSV report's row).
type RequestRow struct {
	Index                            int32
	Worker                           int16
	Status                           sim.Status
	Arrival, Start, FirstToken, Done time.Duration
	HitTokens, HitBlocks             int32
	Input, Output, Blocks            int32
	Fail                             string
}

// ChartData are the series the report's charts draw, from one run.
type ChartData struct {
	Seed     uint64   `json:"seed"`
	HitRatio Series   `json:"hit_ratio"`
	Queue    []Series `json:"queue"`
	// TTFTCDF has TTFT (ms) in T and the cumulative fraction in V, at most
	// cdfPoints points.
	TTFTCDF Series `json:"ttft_cdf"`
}

// PairedResult compares scenario A with B on one metric: the mean of the
// per-seed differences A−B and its 95% t interval.
type PairedResult struct {
	A      int    `json:"a"`
	B      int    `json:"b"`
	Metric string `json:"metric"`
	Diff   Stat   `json:"diff"`
	// Significant is true when the interval excludes 0.
	Significant bool `json:"significant"`
}
