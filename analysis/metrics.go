package analysis

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// RunMetrics is SPEC §9's summary of one run: what `kvscope run --json`
// prints and what comparisons aggregate over seeds.
type RunMetrics struct {
	Scenario string     `json:"scenario"`
	Trace    trace.Info `json:"trace"`
	Seed     uint64     `json:"seed"`
	Workers  int        `json:"workers_n"`
	Capacity int64      `json:"capacity"`
	Unit     string     `json:"unit"`

	Requests  int `json:"requests"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	// InFlight counts the requests that arrived but had not ended: only
	// in MetricsAt's summaries up to a cursor (Completed + Failed +
	// InFlight = Requests); 0 for a whole run.
	InFlight int `json:"in_flight,omitempty"`
	// FailedReasons counts failures by reason.
	FailedReasons map[string]int `json:"failed_reasons"`
	Bypassed      int            `json:"bypassed"`
	SkippedLines  int            `json:"skipped_lines"`

	TokenHitRatio float64 `json:"token_hit_ratio"`
	BlockHitRatio float64 `json:"block_hit_ratio"`
	HitTokens     int64   `json:"hit_tokens"`
	InputTokens   int64   `json:"input_tokens"`
	HitBlocks     int64   `json:"hit_blocks"`
	Blocks        int64   `json:"blocks"`

	TTFT  Dist `json:"ttft_ms"`
	E2E   Dist `json:"e2e_ms"`
	Queue Dist `json:"queue_ms"`

	ThroughputRPS float64 `json:"throughput_rps"`
	// MaxLoadS is max_i P_i, the busiest worker's service time (SPEC §9).
	MaxLoadS float64 `json:"max_load_s"`
	// MaxLoadLowerBoundS is max(max_j c_j, Σ c_j / M) for the linear model
	// (absent for the engine model); MaxLoadRatio = MaxLoadS / it.
	MaxLoadLowerBoundS *float64  `json:"max_load_lower_bound_s,omitempty"`
	MaxLoadRatio       *float64  `json:"max_load_ratio,omitempty"`
	MakespanS          float64   `json:"makespan_s"`
	Imbalance          Imbalance `json:"imbalance"`

	Evicted int64 `json:"evicted"`
	Phases  int64 `json:"phases"`

	WorkerMetrics []WorkerMetrics `json:"workers"`
}

// WorkerMetrics is one worker's share of a run.
type WorkerMetrics struct {
	Worker        int     `json:"worker"`
	Requests      int     `json:"requests"`
	Completed     int     `json:"completed"`
	TokenHitRatio float64 `json:"token_hit_ratio"`
	BlockHitRatio float64 `json:"block_hit_ratio"`
	HitTokens     int64   `json:"hit_tokens"`
	InputTokens   int64   `json:"input_tokens"`
	HitBlocks     int64   `json:"hit_blocks"`
	Blocks        int64   `json:"blocks"`
	TTFT          Dist    `json:"ttft_ms"`
	E2E           Dist    `json:"e2e_ms"`
	// LoadS is P_i, the service time given to the worker.
	LoadS   float64 `json:"load_s"`
	Evicted int64   `json:"evicted"`
	Phases  int64   `json:"phases"`
	// Ratios are the sequential competitive ratios (with --vs-opt: see
	// Ratios and SetRatios).
	Ratios *seq.WorkerRatios `json:"ratios,omitempty"`
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func msOf(d time.Duration) float64 { return float64(d) / 1e6 }

// Metrics summarises a run. lb is the linear model's lower bound on
// max_load_s (NaN when it does not apply).
func Metrics(run *sim.Run, seed uint64, lbS float64) RunMetrics {
	m := RunMetrics{
		Scenario: run.Scenario, Trace: run.Trace, Seed: seed, Workers: run.Workers,
		Capacity: run.Capacity, Unit: run.Unit,
		Requests: len(run.Records), FailedReasons: map[string]int{},
		SkippedLines: run.Trace.Skipped.Count,
	}
	ws := make([]WorkerMetrics, run.Workers)
	ttft := make([][]float64, run.Workers)
	e2e := make([][]float64, run.Workers)
	var allT, allE, allQ []float64
	for i := range run.Records {
		r := &run.Records[i]
		switch r.Status {
		case sim.Failed:
			m.Failed++
			m.FailedReasons[r.Fail]++
		case sim.Bypassed:
			m.Bypassed++
		}
		if r.Worker >= 0 {
			ws[r.Worker].Requests++
		}
		if r.Status == sim.Failed {
			continue
		}
		m.Completed++
		w := r.Worker
		ws[w].Completed++
		t, e, q := msOf(r.TTFT()), msOf(r.E2E()), msOf(r.Queueing())
		ttft[w] = append(ttft[w], t)
		e2e[w] = append(e2e[w], e)
		allT = append(allT, t)
		allE = append(allE, e)
		allQ = append(allQ, q)
	}
	loads := make([]float64, run.Workers)
	for w := range ws {
		wm := &ws[w]
		wm.Worker = w
		if ss := run.Samples[w]; len(ss) > 0 {
			last := ss[len(ss)-1]
			wm.HitTokens, wm.InputTokens = last.HitTokens, last.InputTokens
			wm.HitBlocks, wm.Blocks = last.HitBlocks, last.Blocks
			wm.Evicted, wm.Phases = last.Evicted, int64(last.Phases)
			wm.LoadS = last.Busy.Seconds()
		}
		wm.TokenHitRatio = ratio(wm.HitTokens, wm.InputTokens)
		wm.BlockHitRatio = ratio(wm.HitBlocks, wm.Blocks)
		wm.TTFT, wm.E2E = Summarize(ttft[w]), Summarize(e2e[w])
		loads[w] = wm.LoadS
		m.HitTokens += wm.HitTokens
		m.InputTokens += wm.InputTokens
		m.HitBlocks += wm.HitBlocks
		m.Blocks += wm.Blocks
		m.Evicted += wm.Evicted
		m.Phases += wm.Phases
		m.MaxLoadS = math.Max(m.MaxLoadS, wm.LoadS)
	}
	m.WorkerMetrics = ws
	m.TokenHitRatio = ratio(m.HitTokens, m.InputTokens)
	m.BlockHitRatio = ratio(m.HitBlocks, m.Blocks)
	m.TTFT, m.E2E, m.Queue = Summarize(allT), Summarize(allE), Summarize(allQ)
	if span := run.End - run.Start; span > 0 {
		m.MakespanS = span.Seconds()
		m.ThroughputRPS = float64(m.Completed) / span.Seconds()
	}
	m.Imbalance = ImbalanceOf(loads)
	if !math.IsNaN(lbS) && lbS > 0 {
		lb, r := lbS, m.MaxLoadS/lbS
		m.MaxLoadLowerBoundS, m.MaxLoadRatio = &lb, &r
	}
	return m
}

// FailureReasons returns the failure reasons sorted by count, then text.
func (m *RunMetrics) FailureReasons() []string {
	keys := slices.Collect(maps.Keys(m.FailedReasons))
	slices.SortFunc(keys, func(a, b string) int {
		if m.FailedReasons[a] != m.FailedReasons[b] {
			return m.FailedReasons[b] - m.FailedReasons[a]
		}
		if a < b {
			return -1
		}
		return 1
	})
	return keys
}

// Summary computes a run's metrics, with the max_load_s lower bound when
// the scenario uses the linear model.
func Summary(tr *trace.Trace, run *sim.Run, sc scenario.Scenario) RunMetrics {
	lb := math.NaN()
	// The bound counts as cached only prefixes shared with earlier inputs;
	// with keep_outputs a turn can also hit an earlier reply, so the bound
	// would not hold: it is left out.
	if in, err := sim.LookupLatency(sc.Latency.Name); err == nil && in.LowerBound && !sc.KeepOutputs {
		if m, _, err := sim.ParseLinear(sc.Latency); err == nil {
			lb = MaxLoadLowerBound(tr, run, m)
		}
	}
	return Metrics(run, sc.Seed, lb)
}
