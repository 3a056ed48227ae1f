package analysis

import (
	"math"
)

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
