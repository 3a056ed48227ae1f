package analysis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvscope/kvscope/internal/suggest"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// A plan answers the fleet question (issue 15, `kvscope plan`): for each
// scenario, the smallest number of workers whose SLO metrics, averaged
// over the scenario's seeds (SPEC §1: randomized scenarios run seeds
// 1..N, deterministic ones once), meet every SLO; with several GPUs, the
// cheapest (GPU, workers) by workers × TP × price per GPU-hour.
//
// The search runs the simulator at chosen worker counts. Each probe is a
// set of cells (one scenario at one GPU, worker count and seed), each an
// independent run, so a caller may run them anywhere (PlanOptions.Runner);
// by default they run on the comparison's pool (forEach), every core busy.
// The search goes in rounds: every unfinished (scenario, GPU) names the
// worker counts it needs next, and a round runs all their cells at once.
//
// Per (scenario, GPU), as the probes come in (choices where the issue is
// silent):
//
//  1. Gallop: probe 1, 2, 4, … (capped at MaxWorkers) until a count meets
//     every SLO; when MaxWorkers misses, no fleet meets them.
//  2. Bisect between the largest count that misses and the smallest that
//     meets, so the answer and answer−1 are both probed (answer−1 is the
//     check that the answer is the smallest).
//  3. Check monotonicity at the probed points: more workers should never
//     make an SLO metric worse. Where a metric rises between two adjacent
//     probed counts at or below the answer, the counts between them are
//     scanned one by one (a linear segment), since a dip there could hide
//     a smaller fleet that meets the SLOs; then steps 2–3 repeat on the
//     new points. When no probed count meets, every rise is scanned so.
//     Rises above the answer cannot change it and are only reported. The answer is the smallest probed count that meets every
//     SLO, with answer−1 probed and missing.
//
// Between probed counts the search assumes monotonicity: a dip it never
// probed can hide, and the report says at which counts it looked.
//
// Margins are relative: (target − value)/target per SLO, the smallest of
// them the fleet's margin (≥ 0 when it meets every SLO). The miss of a
// scenario that no fleet up to MaxWorkers meets is −margin of its best
// probed fleet: the one whose worst SLO misses by the least.

// SLOMetrics lists the metric names an SLO may bound, in order: TTFT,
// E2E and queueing delay as Summary computes them (SPEC §9), and TPOT.
var SLOMetrics = func() []string {
	var out []string
	for _, m := range []string{"ttft", "e2e", "queue", "tpot"} {
		for _, q := range []string{"p50", "p90", "p99", "mean"} {
			out = append(out, m+"_"+q)
		}
	}
	return out
}()

// SLO is one bound: a metric at most Target.
type SLO struct {
	// Metric is one of SLOMetrics ("ttft_p90").
	Metric string `json:"metric"`
	// Target is the bound; TargetMS the same in milliseconds.
	Target   time.Duration `json:"-"`
	TargetMS F             `json:"target_ms"`
	// Text is the bound as given ("2s").
	Text string `json:"text"`
}

// String writes metric=target.
func (s SLO) String() string { return s.Metric + "=" + s.Text }

// ParseSLOs parses "ttft_p90=2s,e2e_p99=30s". Each metric may appear once;
// a target is a positive Go duration with its unit (500ms, 2s, 1m30s).
func ParseSLOs(s string) ([]SLO, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--slo: empty: want METRIC=DURATION[,…], e.g. ttft_p90=2s (metrics: %s)", strings.Join(SLOMetrics, ", "))
	}
	var out []SLO
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("--slo %q: %q is not METRIC=DURATION (e.g. ttft_p90=2s)", s, part)
		}
		if !slices.Contains(SLOMetrics, k) {
			hint := ""
			if strings.HasPrefix(k, "itl") {
				hint = "; the simulator records no per-token times, so itl is not measured: tpot (time per output token after the first) is"
			}
			return nil, fmt.Errorf("--slo %q: unknown metric %q (valid: %s)%s%s", s, k, strings.Join(SLOMetrics, ", "), hint, suggest.DidYouMean(k, SLOMetrics))
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			if _, nerr := strconv.ParseFloat(v, 64); nerr == nil {
				return nil, fmt.Errorf("--slo %q: %s=%s: give the unit (%ss or %sms)", s, k, v, v, v)
			}
			return nil, fmt.Errorf("--slo %q: %s=%s: not a duration (e.g. 2s, 500ms)", s, k, v)
		}
		if d <= 0 {
			return nil, fmt.Errorf("--slo %q: %s=%s: the target must be positive", s, k, v)
		}
		for _, o := range out {
			if o.Metric == k {
				return nil, fmt.Errorf("--slo %q: metric %s given twice", s, k)
			}
		}
		out = append(out, SLO{Metric: k, Target: d, TargetMS: F(msOf(d)), Text: v})
	}
	return out, nil
}

// PlanGPU is one GPU choice of a plan: the scenarios run with Profile, and
// a worker (one replica of TP GPUs) costs TP × Price per hour.
type PlanGPU struct {
	// Name is the catalogue GPU ("h100-sxm"); Profile the gpuprofile name
	// each scenario takes ("h100-sxm-llama-3.1-8b-tp2").
	Name    string `json:"gpu"`
	Profile string `json:"profile"`
	TP      int    `json:"tp"`
	// Price is US$ per GPU-hour (NaN: unknown); PriceSource says where it
	// comes from ("--cost", or the default table's source).
	Price       F      `json:"price_per_gpu_hour"`
	PriceSource string `json:"price_source"`
	Unverified  bool   `json:"price_unverified,omitempty"`
}

// HourlyCost is the cost of a fleet of n workers per hour (NaN when the
// price is unknown).
func (g PlanGPU) HourlyCost(n int) float64 { return float64(n) * float64(g.TP) * float64(g.Price) }

// PlanOptions tune a plan.
type PlanOptions struct {
	SLOs []SLO
	// MaxWorkers bounds the search (default 64).
	MaxWorkers int
	// Seeds is N: randomized scenarios run seeds 1..N (default 5).
	Seeds int
	// Parallel is the number of runs at once on the default runner
	// (default GOMAXPROCS).
	Parallel int
	// GPUs are the GPU choices; none: each scenario runs as given (its own
	// profile or cache size) and the plan has no GPU column.
	GPUs []PlanGPU
	// Runner, if set, runs a round's cells instead of the local pool (a
	// sweep may fan them out); it returns one result per cell, in order.
	Runner func(ctx context.Context, cells []PlanCell) ([]PlanCellResult, error)
	// Progress, if set, is called after every finished cell of the local
	// pool (serialised); total grows as rounds are added.
	Progress func(done, total int)
	// BlockSize names the default cache size in the trace's blocks when
	// Plan has no trace (a Runner that reads it, StreamPlanRunner).
	BlockSize int
}

// PlanCell is one independent run of a plan: an entry's scenario with one
// GPU's profile, a worker count and a seed, all set in Run.
type PlanCell struct {
	Entry   int               `json:"entry"`
	GPU     int               `json:"gpu"` // index in PlanOptions.GPUs; −1 without
	Workers int               `json:"workers"`
	Seed    uint64            `json:"seed"`
	Run     scenario.Scenario `json:"-"`
}

// PlanCellResult is what a plan keeps of one run: every SLO metric in ms
// (NaN when no request completed), or why the run failed.
type PlanCellResult struct {
	Values    map[string]F `json:"values"`
	Completed int          `json:"completed"`
	Failed    int          `json:"failed"`
	Error     string       `json:"error,omitempty"`
}

// RunPlanCell simulates one cell's scenario and measures its SLO metrics.
func RunPlanCell(ctx context.Context, tr *trace.Trace, sc scenario.Scenario) (res PlanCellResult) {
	defer func() {
		// As runOne: a panic in the metrics must not take the plan down.
		if p := recover(); p != nil {
			res = PlanCellResult{Error: sim.Recovered(sc.String(), p).Error()}
		}
	}()
	run, err := sim.Simulate(ctx, tr, sc, sim.Options{})
	if err != nil {
		return PlanCellResult{Error: err.Error()}
	}
	return planCellOf(Summary(tr, run, sc), Summarize(tpotMs(tr, run)))
}

// planCellOf is a cell's result from its run's metrics and TPOT.
func planCellOf(m RunMetrics, tpot Dist) PlanCellResult {
	res := PlanCellResult{Values: make(map[string]F, len(SLOMetrics)), Completed: m.Completed, Failed: m.Failed}
	for _, d := range []struct {
		name string
		d    Dist
	}{{"ttft", m.TTFT}, {"e2e", m.E2E}, {"queue", m.Queue}, {"tpot", tpot}} {
		res.Values[d.name+"_p50"] = F(d.d.P50)
		res.Values[d.name+"_p90"] = F(d.d.P90)
		res.Values[d.name+"_p99"] = F(d.d.P99)
		res.Values[d.name+"_mean"] = F(d.d.Mean)
	}
	return res
}

// tpotMs is each completed request's time per output token after the
// first, (E2E − TTFT)/(output − 1) in ms, for requests of more than one
// output token (vLLM's benchmark definition of TPOT).
func tpotMs(tr *trace.Trace, run *sim.Run) []float64 {
	var out []float64
	for i := range run.Records {
		r := &run.Records[i]
		if r.Status == sim.Failed {
			continue
		}
		o := tr.Requests[r.Index].Output
		if o < 2 {
			continue
		}
		out = append(out, msOf(r.Done-r.FirstToken)/float64(o-1))
	}
	return out
}

// Plan searches, for every entry (and GPU), the smallest fleet meeting
// every SLO. It fails only for a canceled context or bad options; a
// scenario that cannot run carries its error in its result.
func Plan(ctx context.Context, tr *trace.Trace, entries []Entry, opt PlanOptions) (*PlanResult, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("plan: no scenarios")
	}
	if len(opt.SLOs) == 0 {
		return nil, fmt.Errorf("plan: no SLO")
	}
	if opt.MaxWorkers == 0 {
		opt.MaxWorkers = 64
	}
	if opt.MaxWorkers < 1 {
		return nil, fmt.Errorf("plan: max workers %d: must be at least 1", opt.MaxWorkers)
	}
	if opt.Seeds <= 0 {
		opt.Seeds = 5
	}
	start := time.Now()
	if tr == nil && opt.Runner == nil {
		return nil, fmt.Errorf("plan: no trace")
	}
	res := &PlanResult{SLOs: opt.SLOs, MaxWorkers: opt.MaxWorkers, Seeds: opt.Seeds, GPUs: opt.GPUs}
	if tr != nil {
		// A Runner may run the cells without the trace in this process.
		res.Trace = tr.Info
	}
	gpus := []int{-1}
	if len(opt.GPUs) > 0 {
		gpus = gpus[:0]
		for g := range opt.GPUs {
			gpus = append(gpus, g)
		}
	}
	var all []*search
	for i, e := range entries {
		for _, g := range gpus {
			s := &search{entry: i, gpu: g, sc: e.Scenario, max: opt.MaxWorkers, probes: map[int]*PlanProbe{}}
			if g >= 0 {
				s.sc.Profile = opt.GPUs[g].Profile
			}
			// Without a size or a profile: the shared default, named in
			// this trace's blocks in every probe's scenario (a test's
			// Runner may plan without a trace).
			if tr != nil {
				s.sc = s.sc.Sized(tr.Info.BlockSize)
			} else if opt.BlockSize > 0 {
				s.sc = s.sc.Sized(opt.BlockSize)
			}
			s.seeds = seedsOf(s.sc, opt.Seeds)
			probe := s.sc
			probe.Workers = 1
			if _, err := sim.Resolve(probe); err != nil {
				s.err = err.Error()
			}
			all = append(all, s)
		}
	}
	runner := opt.Runner
	total, done := 0, 0
	if runner == nil {
		runner = func(ctx context.Context, cells []PlanCell) ([]PlanCellResult, error) {
			out := make([]PlanCellResult, len(cells))
			base := done
			total += len(cells)
			var progress func(int, int)
			if opt.Progress != nil {
				progress = func(d, _ int) { opt.Progress(base+d, total) }
			}
			err := forEach(ctx, len(cells), opt.Parallel, func(i int) {
				out[i] = RunPlanCell(ctx, tr, cells[i].Run)
			}, progress)
			done += len(cells)
			return out, err
		}
	}
	for {
		var cells []PlanCell
		type owner struct {
			s *search
			w int
		}
		var owners []owner
		for _, s := range all {
			if s.err != "" {
				continue
			}
			for _, w := range s.next(opt.SLOs) {
				owners = append(owners, owner{s, w})
				for _, seed := range s.seeds {
					c := s.sc
					c.Workers, c.Seed = w, seed
					cells = append(cells, PlanCell{Entry: s.entry, GPU: s.gpu, Workers: w, Seed: seed, Run: c})
				}
			}
		}
		if len(cells) == 0 {
			break
		}
		res.Rounds++
		res.Runs += len(cells)
		out, err := runner(ctx, cells)
		if err == nil && len(out) != len(cells) {
			err = fmt.Errorf("runner returned %d results for %d cells", len(out), len(cells))
		}
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		k := 0
		for _, o := range owners {
			n := len(o.s.seeds)
			o.s.add(o.w, cells[k:k+n], out[k:k+n], opt.SLOs)
			k += n
		}
	}
	labels := uniqueLabels(entries)
	for i, e := range entries {
		ps := PlanScenario{Label: labels[i], Randomized: e.Scenario.Randomized(), Seeds: seedsOf(e.Scenario, opt.Seeds)}
		for _, s := range all {
			if s.entry == i {
				ps.Candidates = append(ps.Candidates, s.result(opt.SLOs, opt.GPUs))
			}
		}
		ps.choose()
		res.Scenarios = append(res.Scenarios, ps)
	}
	res.Wall = time.Since(start)
	return res, nil
}
