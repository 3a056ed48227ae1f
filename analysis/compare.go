package analysis

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// A comparison replays one trace under several scenarios (SPEC §1). Every
// randomized scenario runs with seeds 1..N; a deterministic one runs once,
// with its own seed, and carries "no interval (deterministic)". Per metric
// the comparison holds the per-seed values, their mean and a 95% Student-t
// interval with N−1 degrees of freedom (SPEC §9); pairs of scenarios are
// compared on the same seeds by t over the per-seed differences. Every run
// is followed by the sequential competitive-ratio step (Ratios), so every
// worker's ratio_vs_opt and ratio_vs_belady sit beside SPEC §6's bounds for
// its B and L.
//
// Choices where SPEC is silent:
//
//   - A deterministic scenario paired with a randomized one is compared as
//     a constant: its one value stands for every seed (it would give the
//     same value on each), so the interval is the randomized side's.
//   - A seed that fails fails its scenario: the comparison names the
//     scenario, the seed and the error, and reports no partial statistics
//     for it; the other scenarios still report.
//   - Charts (hit ratio and queues over time, the TTFT CDF) draw each
//     scenario's first run (seed 1 for a randomized one).
//   - The cluster's competitive ratio sums the workers' sequential misses:
//     Σ policy misses / Σ opt misses (and likewise for Belady).

// Entry is one scenario of a comparison with the label it was given
// (usually the -s string as typed).
type Entry struct {
	Label    string
	Scenario scenario.Scenario
}

// CompareOptions tune a comparison.
type CompareOptions struct {
	// Seeds is N: randomized scenarios run seeds 1..N (default 5).
	Seeds int
	// Parallel is the number of runs at once (default GOMAXPROCS).
	Parallel int
	// Sweep, if set, also runs every scenario at each of its values.
	Sweep *Sweep
	// KeepRecords keeps every request's record of the main scenarios' runs
	// (the CSV report needs them).
	KeepRecords bool
	// Points is the number of samples of each time series (default 120).
	Points int
	// Progress, if set, is called after every finished run (serialised).
	Progress func(done, total int)
}

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
	// Records holds, per seed, every request's record (KeepRecords).
	Records [][]RequestRow `json:"-"`
}

// OK reports whether the scenario ran.
func (s *ScenarioResult) OK() bool { return s.Error == "" }

// Metric returns the statistic of a metric key (nil if unknown or failed).
func (s *ScenarioResult) Metric(key string) *MetricStat {
	for i := range s.Metrics {
		if s.Metrics[i].Key == key {
			return &s.Metrics[i]
		}
	}
	return nil
}

// MetricStat is one metric of a scenario over its seeds.
type MetricStat struct {
	Key string `json:"key"`
	Stat
}

// Stat is a mean over seeds with its 95% Student-t interval and the
// per-seed values. Deterministic scenarios have one value and no interval.
type Stat struct {
	Mean      F    `json:"mean"`
	Lo        F    `json:"lo"`
	Hi        F    `json:"hi"`
	HalfWidth F    `json:"half_width"`
	N         int  `json:"n"`
	DF        int  `json:"df"`
	Det       bool `json:"deterministic"`
	Values    []F  `json:"values"`
}

// HasInterval reports whether the statistic carries an interval.
func (s Stat) HasInterval() bool { return !s.Det && s.N >= 2 }

// StatOf computes a Stat from per-seed values; NaN values (a metric a run
// does not have, such as TTFT with no completed request) are left out of
// the mean and the interval but kept in Values.
func StatOf(xs []float64, deterministic bool) Stat {
	st := Stat{Det: deterministic, Values: make([]F, len(xs))}
	var ok []float64
	for i, x := range xs {
		st.Values[i] = F(x)
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			ok = append(ok, x)
		}
	}
	iv := MeanCI(ok)
	st.N = len(ok)
	st.Mean, st.Lo, st.Hi = F(iv.Mean), F(iv.Lo), F(iv.Hi)
	if st.HasInterval() {
		st.HalfWidth, st.DF = F(iv.HalfWidth), st.N-1
	} else {
		st.Lo, st.Hi = st.Mean, st.Mean
	}
	return st
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
func (w *WorkerStat) Metric(key string) *MetricStat {
	for i := range w.Metrics {
		if w.Metrics[i].Key == key {
			return &w.Metrics[i]
		}
	}
	return nil
}

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

// Better says which direction of a metric is better.
type Better int8

const (
	NoBetter Better = 0
	Lower    Better = -1
	Higher   Better = 1
)

// MetricDef defines one row of the side-by-side table.
type MetricDef struct {
	Key, Label string
	Better     Better
	// Digits is the number of decimals shown.
	Digits int
	// Headline metrics are compared in pairs and drawn in sweeps.
	Headline bool
	Get      func(*RunMetrics) float64
}

// WorkerDef defines one column of the per-worker tables.
type WorkerDef struct {
	Key, Label string
	Better     Better
	Digits     int
	Get        func(*WorkerMetrics) float64
}

func optF(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MetricDefs are the rows of the side-by-side table, in order.
var MetricDefs = []MetricDef{
	{"token_hit_ratio", "token hit ratio", Higher, 4, true, func(m *RunMetrics) float64 { return m.TokenHitRatio }},
	{"block_hit_ratio", "block hit ratio", Higher, 4, false, func(m *RunMetrics) float64 { return m.BlockHitRatio }},
	{"ttft_p50_ms", "TTFT p50 ms", Lower, 1, true, func(m *RunMetrics) float64 { return m.TTFT.P50 }},
	{"ttft_p90_ms", "TTFT p90 ms", Lower, 1, false, func(m *RunMetrics) float64 { return m.TTFT.P90 }},
	{"ttft_p99_ms", "TTFT p99 ms", Lower, 1, true, func(m *RunMetrics) float64 { return m.TTFT.P99 }},
	{"ttft_mean_ms", "TTFT mean ms", Lower, 1, false, func(m *RunMetrics) float64 { return m.TTFT.Mean }},
	{"e2e_p50_ms", "E2E p50 ms", Lower, 1, true, func(m *RunMetrics) float64 { return m.E2E.P50 }},
	{"e2e_p90_ms", "E2E p90 ms", Lower, 1, false, func(m *RunMetrics) float64 { return m.E2E.P90 }},
	{"e2e_p99_ms", "E2E p99 ms", Lower, 1, false, func(m *RunMetrics) float64 { return m.E2E.P99 }},
	{"e2e_mean_ms", "E2E mean ms", Lower, 1, false, func(m *RunMetrics) float64 { return m.E2E.Mean }},
	{"queue_p50_ms", "queueing p50 ms", Lower, 1, false, func(m *RunMetrics) float64 { return m.Queue.P50 }},
	{"queue_p90_ms", "queueing p90 ms", Lower, 1, false, func(m *RunMetrics) float64 { return m.Queue.P90 }},
	{"queue_p99_ms", "queueing p99 ms", Lower, 1, false, func(m *RunMetrics) float64 { return m.Queue.P99 }},
	{"queue_mean_ms", "queueing mean ms", Lower, 1, false, func(m *RunMetrics) float64 { return m.Queue.Mean }},
	{"throughput_rps", "throughput req/s", Higher, 3, true, func(m *RunMetrics) float64 { return m.ThroughputRPS }},
	{"max_load_s", "max_load_s", Lower, 3, true, func(m *RunMetrics) float64 { return m.MaxLoadS }},
	{"max_load_lower_bound_s", "max_load_s lower bound", NoBetter, 3, false, func(m *RunMetrics) float64 { return optF(m.MaxLoadLowerBoundS) }},
	{"max_load_ratio", "max_load_s / bound", Lower, 3, false, func(m *RunMetrics) float64 { return optF(m.MaxLoadRatio) }},
	{"makespan_s", "makespan_s", Lower, 3, false, func(m *RunMetrics) float64 { return m.MakespanS }},
	{"imbalance_max_over_mean", "imbalance max/mean", Lower, 3, false, func(m *RunMetrics) float64 { return m.Imbalance.MaxOverMean }},
	{"imbalance_cv", "imbalance CV", Lower, 3, false, func(m *RunMetrics) float64 { return m.Imbalance.CV }},
	{"imbalance_jain", "Jain's index", Higher, 3, false, func(m *RunMetrics) float64 { return m.Imbalance.Jain }},
	{"evicted", "evicted", Lower, 0, false, func(m *RunMetrics) float64 { return float64(m.Evicted) }},
	{"phases", "rlt phases", NoBetter, 0, false, func(m *RunMetrics) float64 { return float64(m.Phases) }},
	{"completed", "completed", Higher, 0, false, func(m *RunMetrics) float64 { return float64(m.Completed) }},
	{"failed", "failed", Lower, 0, false, func(m *RunMetrics) float64 { return float64(m.Failed) }},
	{"bypassed", "bypassed", NoBetter, 0, false, func(m *RunMetrics) float64 { return float64(m.Bypassed) }},
	{"ratio_vs_opt", "ratio vs opt", Lower, 3, true, func(m *RunMetrics) float64 { return clusterRatio(m, false) }},
	{"ratio_vs_belady", "ratio vs Belady", Lower, 3, false, func(m *RunMetrics) float64 { return clusterRatio(m, true) }},
}

// WorkerDefs are the columns of the per-worker tables, in order.
var WorkerDefs = []WorkerDef{
	{"requests", "requests", NoBetter, 0, func(w *WorkerMetrics) float64 { return float64(w.Requests) }},
	{"token_hit_ratio", "token hit", Higher, 4, func(w *WorkerMetrics) float64 { return w.TokenHitRatio }},
	{"block_hit_ratio", "block hit", Higher, 4, func(w *WorkerMetrics) float64 { return w.BlockHitRatio }},
	{"ttft_p50_ms", "TTFT p50 ms", Lower, 1, func(w *WorkerMetrics) float64 { return w.TTFT.P50 }},
	{"ttft_p99_ms", "TTFT p99 ms", Lower, 1, func(w *WorkerMetrics) float64 { return w.TTFT.P99 }},
	{"e2e_p50_ms", "E2E p50 ms", Lower, 1, func(w *WorkerMetrics) float64 { return w.E2E.P50 }},
	{"load_s", "load s", NoBetter, 3, func(w *WorkerMetrics) float64 { return w.LoadS }},
	{"evicted", "evicted", Lower, 0, func(w *WorkerMetrics) float64 { return float64(w.Evicted) }},
	{"ratio_vs_opt", "vs opt", Lower, 3, func(w *WorkerMetrics) float64 {
		if w.Ratios == nil {
			return math.NaN()
		}
		return optF(w.Ratios.RatioVsOpt)
	}},
	{"ratio_vs_belady", "vs Belady", Lower, 3, func(w *WorkerMetrics) float64 {
		if w.Ratios == nil {
			return math.NaN()
		}
		return optF(w.Ratios.RatioVsBelady)
	}},
	{"k", "k", NoBetter, 0, func(w *WorkerMetrics) float64 {
		if w.Ratios == nil || w.Ratios.Bounds.K == nil {
			return math.NaN()
		}
		return float64(*w.Ratios.Bounds.K)
	}},
	{"harmonic_k", "H_k", NoBetter, 2, func(w *WorkerMetrics) float64 {
		if w.Ratios == nil {
			return math.NaN()
		}
		return optF(w.Ratios.Bounds.HarmonicK)
	}},
	{"rlt_bound", "rlt bound 2H_k", NoBetter, 2, func(w *WorkerMetrics) float64 {
		if w.Ratios == nil {
			return math.NaN()
		}
		return optF(w.Ratios.Bounds.RLTBound)
	}},
	{"lru_bound", "lru bound k", NoBetter, 0, func(w *WorkerMetrics) float64 {
		if w.Ratios == nil {
			return math.NaN()
		}
		return optF(w.Ratios.Bounds.LRUBound)
	}},
}

// MetricDefOf returns the definition of a metric key.
func MetricDefOf(key string) (MetricDef, bool) {
	for _, d := range MetricDefs {
		if d.Key == key {
			return d, true
		}
	}
	return MetricDef{}, false
}

// clusterRatio is Σ policy misses / Σ opt (or Belady) misses over workers:
// 1 when both are 0, NaN without ratios or when only the policy missed.
func clusterRatio(m *RunMetrics, belady bool) float64 {
	var pol, den int64
	for i := range m.WorkerMetrics {
		r := m.WorkerMetrics[i].Ratios
		if r == nil {
			return math.NaN()
		}
		pol += r.PolicyMissed
		if belady {
			den += r.BeladyMissed
		} else {
			den += r.OptMissed
		}
	}
	switch {
	case den == 0 && pol == 0:
		return 1
	case den == 0:
		return math.NaN()
	}
	return float64(pol) / float64(den)
}

// job is one run to make: a scenario at one seed.
type job struct {
	sc     scenario.Scenario
	charts bool
	keep   bool
}

type jobResult struct {
	m       RunMetrics
	charts  *ChartData
	records []RequestRow
	err     error
}

// plan collects the distinct runs of a comparison: identical (canonical
// scenario, seed) pairs run once.
type plan struct {
	jobs  []job
	index map[string]int
}

func (p *plan) add(sc scenario.Scenario, charts, keep bool) (int, error) {
	key, err := sim.Resolve(sc)
	if err != nil {
		return -1, err
	}
	if i, ok := p.index[key]; ok {
		p.jobs[i].charts = p.jobs[i].charts || charts
		p.jobs[i].keep = p.jobs[i].keep || keep
		return i, nil
	}
	p.index[key] = len(p.jobs)
	p.jobs = append(p.jobs, job{sc: sc, charts: charts, keep: keep})
	return len(p.jobs) - 1, nil
}

// seedsOf returns the seeds a scenario runs with.
func seedsOf(sc scenario.Scenario, n int) []uint64 {
	if !sc.Randomized() {
		return []uint64{sc.Seed}
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// planned is one scenario (or sweep point) mapped to its jobs, one per seed.
type planned struct {
	seeds []uint64
	jobs  []int
	err   error
}

func (p *plan) scenario(sc scenario.Scenario, n int, charts, keep bool) planned {
	pl := planned{seeds: seedsOf(sc, n)}
	for i, s := range pl.seeds {
		c := sc
		c.Seed = s
		j, err := p.add(c, charts && i == 0, keep)
		if err != nil {
			pl.err = err
			return pl
		}
		pl.jobs = append(pl.jobs, j)
	}
	return pl
}

// Compare runs every entry (and every sweep point) over its seeds, in
// parallel, and aggregates. It fails only for a canceled context or no
// entries; a scenario that cannot run carries its error in its result.
func Compare(ctx context.Context, tr *trace.Trace, entries []Entry, opt CompareOptions) (*Comparison, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("compare: no scenarios")
	}
	if opt.Seeds <= 0 {
		opt.Seeds = 5
	}
	if opt.Points <= 1 {
		opt.Points = 120
	}
	p := &plan{index: map[string]int{}}
	main := make([]planned, len(entries))
	for i, e := range entries {
		main[i] = p.scenario(e.Scenario, opt.Seeds, true, opt.KeepRecords)
	}
	var sweepPlan [][]planned
	if opt.Sweep != nil {
		sweepPlan = make([][]planned, len(entries))
		for i, e := range entries {
			sweepPlan[i] = make([]planned, len(opt.Sweep.Values))
			for v, val := range opt.Sweep.Values {
				sc := e.Scenario
				if err := opt.Sweep.apply(&sc, val); err != nil {
					sweepPlan[i][v] = planned{err: err}
					continue
				}
				sweepPlan[i][v] = p.scenario(sc, opt.Seeds, false, false)
			}
		}
	}

	start := time.Now()
	results, err := runJobs(ctx, tr, p.jobs, opt)
	if err != nil {
		return nil, err
	}
	cmp := &Comparison{Trace: tr.Info, Seeds: opt.Seeds, Timing: Timing{Wall: time.Since(start), Runs: len(p.jobs)}}

	labels := uniqueLabels(entries)
	for i, e := range entries {
		r := aggregate(main[i], results, p.jobs)
		r.Label = labels[i]
		r.Randomized = e.Scenario.Randomized()
		if r.Scenario == "" {
			r.Scenario = e.Scenario.String()
		}
		cmp.Scenarios = append(cmp.Scenarios, r)
	}
	cmp.Paired = pairAll(cmp.Scenarios)
	if opt.Sweep != nil {
		cmp.Sweep = buildSweep(*opt.Sweep, cmp.Scenarios, sweepPlan, results, p.jobs)
	}
	return cmp, nil
}

// uniqueLabels keeps labels as given and numbers repeats ("x", "x #2").
func uniqueLabels(entries []Entry) []string {
	out := make([]string, len(entries))
	seen := map[string]int{}
	for i, e := range entries {
		l := e.Label
		if l == "" {
			l = e.Scenario.String()
		}
		seen[l]++
		if n := seen[l]; n > 1 {
			l += " #" + strconv.Itoa(n)
		}
		out[i] = l
	}
	return out
}

// runJobs runs every job on a pool of goroutines. Results are placed by
// index, so the outcome does not depend on scheduling.
func runJobs(ctx context.Context, tr *trace.Trace, jobs []job, opt CompareOptions) ([]jobResult, error) {
	par := opt.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	par = min(par, len(jobs))
	results := make([]jobResult, len(jobs))
	var (
		next atomic.Int64
		done int
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for range par {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				results[i] = runOne(ctx, tr, jobs[i], opt.Points)
				if opt.Progress != nil {
					mu.Lock()
					done++
					opt.Progress(done, len(jobs))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	return results, nil
}

const cdfPoints = 200

func runOne(ctx context.Context, tr *trace.Trace, j job, points int) (res jobResult) {
	defer func() {
		// A panic in one run must not take the other scenarios down.
		// Simulate recovers its own (naming the request); this catches
		// the metrics and charts computed from its result.
		if p := recover(); p != nil {
			res = jobResult{err: sim.Recovered(j.sc.String(), p)}
		}
	}()
	run, err := sim.Simulate(ctx, tr, j.sc, sim.Options{})
	if err != nil {
		return jobResult{err: err}
	}
	rs, err := Ratios(ctx, tr, run, j.sc)
	if err != nil {
		return jobResult{err: err}
	}
	res.m = Summary(tr, run, j.sc)
	res.m.SetRatios(rs)
	if j.charts {
		ms, frac := TTFTCDF(run)
		res.charts = &ChartData{
			Seed:     j.sc.Seed,
			HitRatio: HitRatioSeries(run, points),
			Queue:    QueueSeries(run, points),
			TTFTCDF:  thinCDF(ms, frac, cdfPoints),
		}
	}
	if j.keep {
		res.records = make([]RequestRow, len(run.Records))
		for i := range run.Records {
			r := &run.Records[i]
			q := &tr.Requests[r.Index]
			res.records[i] = RequestRow{
				Index: r.Index, Worker: r.Worker, Status: r.Status,
				Arrival: r.Arrival, Start: r.Start, FirstToken: r.FirstToken, Done: r.Done,
				HitTokens: r.HitTokens, HitBlocks: r.HitBlocks,
				Input: int32(q.Input), Output: int32(q.Output), Blocks: int32(len(q.Blocks)),
				Fail: r.Fail,
			}
		}
	}
	return res
}

// thinCDF keeps at most n points of a CDF: the values at evenly spaced
// ranks, always including the last.
func thinCDF(ms, frac []float64, n int) Series {
	if len(ms) <= n {
		return Series{T: ms, V: frac}
	}
	var s Series
	for i := 1; i <= n; i++ {
		j := int(math.Ceil(float64(i)*float64(len(ms))/float64(n))) - 1
		s.T = append(s.T, ms[j])
		s.V = append(s.V, frac[j])
	}
	return s
}

// aggregate turns a scenario's runs into its result.
func aggregate(pl planned, results []jobResult, jobs []job) ScenarioResult {
	r := ScenarioResult{Seeds: pl.seeds}
	if pl.err != nil {
		r.Error = pl.err.Error()
		return r
	}
	for k, j := range pl.jobs {
		if err := results[j].err; err != nil {
			r.Error = fmt.Sprintf("seed %d: %v", pl.seeds[k], err)
			return r
		}
	}
	det := len(pl.jobs) == 1 && !jobs[pl.jobs[0]].sc.Randomized()
	ms := make([]*RunMetrics, len(pl.jobs))
	for k, j := range pl.jobs {
		ms[k] = &results[j].m
	}
	r.Scenario = ms[0].Scenario
	r.Charts = results[pl.jobs[0]].charts
	for k, j := range pl.jobs {
		if recs := results[j].records; recs != nil {
			if r.Records == nil {
				r.Records = make([][]RequestRow, len(pl.jobs))
			}
			r.Records[k] = recs
		}
	}
	xs := make([]float64, len(ms))
	for _, d := range MetricDefs {
		for k, m := range ms {
			xs[k] = d.Get(m)
		}
		r.Metrics = append(r.Metrics, MetricStat{Key: d.Key, Stat: StatOf(xs, det)})
	}
	nw := 0
	for _, m := range ms {
		nw = max(nw, len(m.WorkerMetrics))
	}
	for w := range nw {
		ws := WorkerStat{Worker: w}
		for _, d := range WorkerDefs {
			for k, m := range ms {
				xs[k] = math.NaN()
				if w < len(m.WorkerMetrics) {
					xs[k] = d.Get(&m.WorkerMetrics[w])
				}
			}
			ws.Metrics = append(ws.Metrics, MetricStat{Key: d.Key, Stat: StatOf(xs, det)})
		}
		r.Workers = append(r.Workers, ws)
	}
	for k, m := range ms {
		r.Runs = append(r.Runs, seedRun(m, pl.seeds[k]))
	}
	return r
}

func seedRun(m *RunMetrics, seed uint64) SeedRun {
	sr := SeedRun{
		Seed: seed, Scenario: m.Scenario,
		Requests: m.Requests, Completed: m.Completed, Failed: m.Failed,
		FailedReasons: m.FailedReasons, Bypassed: m.Bypassed, SkippedLines: m.SkippedLines,
		Capacity: m.Capacity, Unit: m.Unit,
		Values:    map[string]F{},
		HitTokens: m.HitTokens, InputTokens: m.InputTokens, HitBlocks: m.HitBlocks, Blocks: m.Blocks,
	}
	for _, d := range MetricDefs {
		sr.Values[d.Key] = F(d.Get(m))
	}
	for i := range m.WorkerMetrics {
		wm := &m.WorkerMetrics[i]
		row := WorkerRow{Worker: wm.Worker, Requests: wm.Requests, Completed: wm.Completed, Values: map[string]F{},
			TTFT: distF(wm.TTFT), E2E: distF(wm.E2E),
			HitTokens: wm.HitTokens, InputTokens: wm.InputTokens, HitBlocks: wm.HitBlocks, Blocks: wm.Blocks, Phases: wm.Phases}
		for _, d := range WorkerDefs {
			row.Values[d.Key] = F(d.Get(wm))
		}
		if rt := wm.Ratios; rt != nil {
			row.Sequence, row.PolicyMissed = rt.Sequence, rt.PolicyMissed
			row.OptMissed, row.BeladyMissed = rt.OptMissed, rt.BeladyMissed
			row.OptLabel, row.BeladyLabel = rt.OptLabel, rt.BeladyLabel
			row.Longest, row.BoundNote = rt.Bounds.Longest, rt.Bounds.Note
		}
		sr.Workers = append(sr.Workers, row)
	}
	return sr
}

// valuesFor returns a scenario's per-seed values of a metric over seeds,
// broadcasting a deterministic scenario's one value to n seeds.
func valuesFor(s *ScenarioResult, key string, n int) []float64 {
	ms := s.Metric(key)
	if ms == nil {
		return nil
	}
	out := make([]float64, 0, n)
	if ms.Det {
		for range n {
			out = append(out, float64(ms.Values[0]))
		}
		return out
	}
	for _, v := range ms.Values {
		out = append(out, float64(v))
	}
	return out
}

// Pair compares a with b on one metric over the same seeds (SPEC §9: t
// over per-seed differences). Two deterministic scenarios differ exactly:
// no interval. A deterministic side counts as a constant.
func Pair(a, b *ScenarioResult, key string) (Stat, bool) {
	ma, mb := a.Metric(key), b.Metric(key)
	if ma == nil || mb == nil {
		return Stat{}, false
	}
	if ma.Det && mb.Det {
		d := float64(ma.Values[0] - mb.Values[0])
		return StatOf([]float64{d}, true), true
	}
	n := max(len(ma.Values), len(mb.Values))
	if !ma.Det && !mb.Det && len(ma.Values) != len(mb.Values) {
		return Stat{}, false
	}
	xa, xb := valuesFor(a, key, n), valuesFor(b, key, n)
	d := make([]float64, n)
	for i := range d {
		d[i] = xa[i] - xb[i]
	}
	return StatOf(d, false), true
}

// pairAll compares every pair i < j of scenarios that ran, on the
// headline metrics.
func pairAll(ss []ScenarioResult) []PairedResult {
	var out []PairedResult
	for i := range ss {
		for j := i + 1; j < len(ss); j++ {
			if !ss[i].OK() || !ss[j].OK() {
				continue
			}
			for _, d := range MetricDefs {
				if !d.Headline {
					continue
				}
				st, ok := Pair(&ss[i], &ss[j], d.Key)
				if !ok {
					continue
				}
				sig := st.HasInterval() && (st.Lo > 0 || st.Hi < 0)
				out = append(out, PairedResult{A: i, B: j, Metric: d.Key, Diff: st, Significant: sig})
			}
		}
	}
	return out
}

// Best returns, for one metric, which scenarios hold the best mean (ties
// all marked); none for a metric with no better direction, and none when
// fewer than two scenarios ran or every one ties.
func Best(ss []ScenarioResult, key string) []bool {
	out := make([]bool, len(ss))
	d, ok := MetricDefOf(key)
	if !ok || d.Better == NoBetter {
		return out
	}
	best := math.NaN()
	for i := range ss {
		m := ss[i].Metric(key)
		if !ss[i].OK() || m == nil || m.N == 0 {
			continue
		}
		v := float64(m.Mean)
		if math.IsNaN(best) || (d.Better == Lower && v < best) || (d.Better == Higher && v > best) {
			best = v
		}
	}
	if math.IsNaN(best) {
		return out
	}
	tol := 1e-12 * max(1, math.Abs(best))
	marked, candidates := 0, 0
	for i := range ss {
		m := ss[i].Metric(key)
		if !ss[i].OK() || m == nil || m.N == 0 {
			continue
		}
		candidates++
		if math.Abs(float64(m.Mean)-best) <= tol {
			out[i] = true
			marked++
		}
	}
	if candidates < 2 || marked == candidates {
		// One contender, or everyone ties: there is no best to point at.
		clear(out)
	}
	return out
}

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

// sortedKeys returns a map's keys in order (reports never iterate maps
// unsorted).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
