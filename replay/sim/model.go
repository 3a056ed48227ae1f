package sim

import (
	"fmt"
	"time"

	"github.com/kvscope/kvscope/replay/param"
)

// Linear is SPEC §8's linear latency model: one request at a time per
// worker, FCFS; prefill costs CachedMs per hit token and MissMs per missed
// token; decode costs OutMs per output token.
type Linear struct {
	CachedMs, MissMs, OutMs float64
}

// ParseLinear reads `linear[:cached_ms=X,miss_ms=Y,out_ms=Z]` and returns
// the model and its canonical spec.
func ParseLinear(sp param.Spec) (Linear, string, error) {
	if sp.Name != "linear" {
		return Linear{}, "", fmt.Errorf("latency %q: not the linear model", sp.Name)
	}
	a := param.NewArgs(sp)
	m := linearArgs(a)
	c, err := a.Canonical()
	return m, c, err
}

func linearArgs(a *param.Args) Linear {
	return Linear{
		CachedMs: a.Float("cached_ms", 0, 0, 1e6),
		MissMs:   a.Float("miss_ms", 0.15, 0, 1e6),
		OutMs:    a.Float("out_ms", 0, 0, 1e6),
	}
}

var linearParamDocs = map[string]string{
	"cached_ms": "prefill ms per input token found in the cache",
	"miss_ms":   "prefill ms per input token computed",
	"out_ms":    "decode ms per output token",
}

// readLinear is the linear model's registry reader.
func readLinear(a *param.Args, cfg *config) error {
	m := linearArgs(a)
	cfg.linear = m
	cfg.cachedMs, cfg.missMs = m.CachedMs, m.MissMs
	return nil
}

// Prefill is the prefill duration of input tokens with hit cached.
func (m Linear) Prefill(hit, input int) time.Duration {
	return ms(m.CachedMs*float64(hit) + m.MissMs*float64(input-hit))
}

// Decode is the decode duration of output tokens.
func (m Linear) Decode(output int) time.Duration { return ms(m.OutMs * float64(output)) }

// Cost is the request's whole service time in ms (the c_j of SPEC §9).
func (m Linear) Cost(hit, input, output int) float64 {
	return m.CachedMs*float64(hit) + m.MissMs*float64(input-hit) + m.OutMs*float64(output)
}

// ms converts milliseconds to a Duration, rounding to the nearest ns and
// saturating as durationOf does (a run refuses such a duration).
func ms(x float64) time.Duration { return durationOf(x * 1e6) }

// Chunk is one request's prefill work in an engine iteration: New tokens
// computed on top of Cached tokens of context already in the KV cache.
type Chunk struct {
	New, Cached int
}

// IterationModel times one engine iteration (SPEC §8's engine model); a
// gpuprofile provides it.
type IterationModel interface {
	// Iteration returns the duration of an iteration computing the given
	// prefill chunks and one decode token for each context in decodes.
	Iteration(prefill []Chunk, decodes []int) time.Duration
}

// Engine holds the engine model's batching limits (vLLM V1 defaults).
type Engine struct {
	MaxBatchedTokens int
	MaxRunning       int
	Model            IterationModel
}
