package analysis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/kvscope/kvscope/replay/scenario"
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
	// Work, if set, is called as the runs advance (serialised: every
	// 1,024 requests simulated, every 16 through the ratio step) with the
	// work done and the whole work, in requests: a run counts its trace's
	// requests twice, once simulated and once through the ratio step
	// (three passes per worker, scaled to one), which takes about as long
	// (the explorer counts it the same way). A run that stops early
	// counts as done.
	Work func(done, total int64)
}

// Compare runs every entry (and every sweep point) over its seeds, in
// parallel, and aggregates. It fails only for a canceled context or no
// entries; a scenario that cannot run carries its error in its result.
func Compare(ctx context.Context, tr *trace.Trace, entries []Entry, opt CompareOptions) (*Comparison, error) {
	cp, err := PlanCompare(entries, opt)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	results, err := runJobs(ctx, tr, cp.p.jobs, cp.opt)
	if err != nil {
		return nil, err
	}
	return cp.assemble(tr.Info, results, Timing{Wall: time.Since(start), Runs: len(cp.p.jobs)}), nil
}

// ComparePlan is a comparison before any run: its distinct runs (the
// cells of a sweep that scales out, sweepcells.go) and how each scenario
// and sweep point maps to them. Compare is PlanCompare, every cell, then
// the assembly; a sweep spread over machines runs the cells apart and
// assembles the same comparison from their results.
type ComparePlan struct {
	entries []Entry
	opt     CompareOptions
	p       *plan
	main    []planned
	sweep   [][]planned
	// open and so, when so is set (SetStream), make the cells streamed
	// runs (CompareStream's).
	open OpenFunc
	so   *StreamCompareOptions
}

// PlanCompare plans a comparison without running it.
func PlanCompare(entries []Entry, opt CompareOptions) (*ComparePlan, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("compare: no scenarios")
	}
	if opt.Seeds <= 0 {
		opt.Seeds = 5
	}
	if opt.Points <= 1 {
		opt.Points = 120
	}
	cp := &ComparePlan{entries: entries, opt: opt, p: &plan{index: map[string]int{}}}
	cp.main = make([]planned, len(entries))
	for i, e := range entries {
		cp.main[i] = cp.p.scenario(e.Scenario, opt.Seeds, true, opt.KeepRecords)
	}
	if opt.Sweep != nil {
		cp.sweep = make([][]planned, len(entries))
		for i, e := range entries {
			cp.sweep[i] = make([]planned, len(opt.Sweep.Values))
			for v, val := range opt.Sweep.Values {
				sc := e.Scenario
				if err := opt.Sweep.apply(&sc, val); err != nil {
					cp.sweep[i][v] = planned{err: err}
					continue
				}
				cp.sweep[i][v] = cp.p.scenario(sc, opt.Seeds, false, false)
			}
		}
	}
	return cp, nil
}

// assemble aggregates the runs' results (placed as the plan's jobs) into
// the comparison.
func (cp *ComparePlan) assemble(info trace.Info, results []jobResult, timing Timing) *Comparison {
	cmp := &Comparison{Trace: info, Seeds: cp.opt.Seeds, Timing: timing}
	labels := uniqueLabels(cp.entries)
	for i, e := range cp.entries {
		r := aggregate(cp.main[i], results, cp.p.jobs)
		r.Label = labels[i]
		r.Randomized = e.Scenario.Randomized()
		if r.Scenario == "" {
			r.Scenario = e.Scenario.String()
		}
		cmp.Scenarios = append(cmp.Scenarios, r)
	}
	cmp.Paired = pairAll(cmp.Scenarios)
	if cp.opt.Sweep != nil {
		cmp.Sweep = buildSweep(*cp.opt.Sweep, cmp.Scenarios, cp.sweep, results, cp.p.jobs)
	}
	return cmp
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
		if rows := results[j].rows; rows != nil {
			if r.SpilledRecords == nil {
				r.SpilledRecords = make([]*SpilledRows, len(pl.jobs))
			}
			r.SpilledRecords[k] = rows
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
				out = append(out, PairedResult{A: i, B: j, Metric: d.Key, Diff: st, Significant: st.ExcludesZero()})
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
