package sim

import (
	"fmt"
	"time"

	"github.com/kvscope/kvscope/gpuprofile"
)

// applyProfile resolves the scenario's GPU profile (a catalogue name or a
// profile file): the engine model's iteration times, lbgr:preset=paper's
// coefficients under the engine model, and the capacity in tokens for
// scenarios that give no cache size (SPEC §8: an explicit size overrides the
// profile's).
func (cfg *config) applyProfile(blockSize int) (int64, error) {
	if cfg.sc.Profile == "" {
		return 0, nil
	}
	p, err := gpuprofile.Lookup(cfg.sc.Profile)
	if err != nil {
		return 0, err
	}
	if cfg.isEngine {
		cfg.engine.Model = &profileModel{p: p}
		cfg.cachedMs, cfg.missMs = p.LBGRPaperCoefficients()
	}
	if cfg.isVLLM {
		if cfg.vllm.TP != 0 && cfg.vllm.TP != p.TP {
			return 0, fmt.Errorf("latency vllm: tp=%d differs from profile %s's tp %d (use the profile %s-%s-tp%d)",
				cfg.vllm.TP, cfg.sc.Profile, p.TP, p.GPUName, p.ModelName, cfg.vllm.TP)
		}
		n, err := cfg.vllm.vllmBlocks(p)
		if err != nil {
			return 0, err
		}
		cfg.vllm.Blocks = n
		if cfg.vllm.MemEff > 0 || cfg.vllm.ComputeEff > 0 {
			q := *p
			if cfg.vllm.MemEff > 0 {
				q.MemoryEfficiency = cfg.vllm.MemEff
			}
			if cfg.vllm.ComputeEff > 0 {
				q.ComputeEfficiency = cfg.vllm.ComputeEff
				q.AttentionEfficiency = cfg.vllm.ComputeEff
				q.CachedAttentionEfficiency = cfg.vllm.ComputeEff
			}
			p = &q
		}
		cfg.vllm.Model = &vllmGPUModel{p: p, stepMs: cfg.vllm.StepMs, seqUs: cfg.vllm.SeqUs}
		cfg.cachedMs, cfg.missMs = p.LBGRPaperCoefficients()
	}
	tokens := int64(p.CacheTokens())
	if tokens < 1 {
		return 0, fmt.Errorf("profile %s: no room for a KV cache", cfg.sc.Profile)
	}
	return tokens, nil
}

// profileModel adapts a gpuprofile to the engine model's IterationModel.
// Its chunk buffer is reused across iterations (one per simulation: a
// config is resolved per Simulate call), so the engine loop does not
// allocate per iteration.
type profileModel struct {
	p   *gpuprofile.Profile
	buf []gpuprofile.PrefillChunk
}

func (m *profileModel) Iteration(prefill []Chunk, decodes []int) time.Duration {
	m.buf = m.buf[:0]
	for _, c := range prefill {
		m.buf = append(m.buf, gpuprofile.PrefillChunk{NewTokens: c.New, CachedTokens: c.Cached})
	}
	return m.p.IterationTime(gpuprofile.Iteration{Prefill: m.buf, DecodeContexts: decodes})
}
