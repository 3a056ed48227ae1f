package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/replay/param"
)

// The vllm latency model: one vLLM v0.15.1 engine (V1 engine core) per
// worker, with the server settings of `vllm serve`, timed by a gpuprofile.
//
// Modeled, as read in vLLM's source (vllm-project/vllm, v1 engine; the
// scheduler read is scheduler.py at main commit 00024d3, later than the
// v0.15.1 tag and not diffed against it: the behaviours below are the V1
// scheduler's long-standing ones):
//
//   - vllm/v1/core/sched/scheduler.py Scheduler.schedule: each step has a
//     budget of max_num_batched_tokens; RUNNING requests first, in order,
//     each getting min(tokens it lacks, budget, max_model_len−1−computed)
//     (a decode lacks one token, a partial or recomputing prefill more:
//     chunked prefill); when its KV slots cannot be allocated the last
//     running request is preempted (running.pop(), FCFS policy) until it
//     fits or it is itself the victim. WAITING requests are admitted, FCFS,
//     only in a step that preempted nobody, while the budget lasts and
//     fewer than max_num_seqs run; the first one whose slots do not fit
//     stops admission (head-of-line). A preempted request goes back to the
//     head of the waiting queue with its computed tokens reset to 0
//     (_preempt_request: preemption by recomputation) and, resumed,
//     recomputes its prompt and the outputs it had, then samples the next
//     token. The step that computes a request's last lacking token samples
//     one output token; a request with max_tokens outputs (ignore_eos)
//     finishes there and frees its blocks.
//   - vllm/v1/core/kv_cache_manager.py KVCacheManager.get_computed_blocks
//     and allocate_slots: the prefix hit is the longest chain of cached
//     full blocks, capped at num_tokens−1 tokens (the last token is always
//     computed to get logits); allocation takes blocks for the tokens
//     computed plus those scheduled only (not the whole prompt, not the
//     outputs ahead), and fails when the new blocks plus the hit blocks
//     that sit in the free queue exceed the free blocks. Full blocks are
//     cached (hashed) as soon as they are scheduled (cache_blocks with
//     num_computed + num_new tokens).
//   - vllm/v1/core/block_pool.py BlockPool and kv_cache_utils.py
//     FreeKVCacheBlockQueue and hash_block_tokens: hash-chained full
//     blocks; free blocks in an LRU queue whose head is reused first,
//     keeping their hash until reused; a hit takes a block back out of the
//     queue; a finished or preempted request's blocks are freed tail first
//     (single_type_kv_cache_manager.py free: reversed(blocks)), so a
//     chain's tail is evicted before its parents (llm-d-inference-sim
//     issue 704 documents the difference from head-first).
//   - vllm/v1/worker/gpu_worker.py determine_available_memory and
//     vllm/v1/core/kv_cache_utils.py get_num_blocks: blocks =
//     (tp × GPU memory × gpu_memory_utilization − weights − tp ×
//     reserve_gib) / (block_size × KV bytes per token per replica). vLLM
//     measures the non-KV reserve (peak activations at
//     max_num_batched_tokens, CUDA graphs, NCCL buffers) by profiling;
//     reserve_gib stands for it.
//   - Step time: the profile's GPU time of the step's prefill chunks and
//     decodes (gpuprofile's roofline, without the profile's own overhead)
//     plus step_ms, the per-step CPU overhead of the engine core
//     (scheduling, launch), plus seq_us per request in the step (input
//     preparation, sampling, output processing grow with the batch).
//   - frontend_ms: the time from a request's arrival to its entry in the
//     engine's waiting queue (the OpenAI server's tokenization and the
//     hand-off to the engine core), a fixed figure.
//   - memory_efficiency, compute_efficiency: when given, replace the
//     profile's efficiencies (the share of datasheet bandwidth and of
//     dense bf16 peak reached), for calibrating one engine on one GPU.
//   - timeout_s: a request not finished that long after its arrival is
//     aborted (a client that gives up: vLLM frees its blocks) and fails.
//   - A request whose prompt plus outputs exceed max_model_len fails at
//     arrival (vLLM's OpenAI server rejects it).
//
// Not modeled: async scheduling and the overlap of CPU work with the GPU
// step; speculative decoding; LoRA; encoder inputs; KV connectors and CPU
// offload; long_prefill_token_threshold (0 by default); the priority
// policy; several blocks holding one hash (vLLM keeps duplicates when two
// requests compute the same block at once; here the first stays cached and
// the duplicate is an ordinary block); eos (outputs are the trace's
// lengths, ignore_eos); streaming and detokenization delays on the client
// side; time between a request's arrival at the server and its entry in the
// waiting queue (tokenization). Routers across several vLLM replicas see
// each replica's prefix cache through the same lookups.
type VLLM struct {
	MaxBatchedTokens int
	MaxSeqs          int
	// MaxModelLen 0 means no limit.
	MaxModelLen   int
	MemUtil       float64
	BlockSize     int
	PrefixCaching bool
	// TP 0 means the profile's.
	TP         int
	ReserveGiB float64
	StepMs     float64
	// SeqUs is the per-step CPU cost of each scheduled request (input
	// preparation, sampling, output processing), microseconds.
	SeqUs    float64
	TimeoutS float64
	// FrontendMs delays a request's entry into the engine's waiting queue
	// after its arrival (the API server's tokenization and hand-off).
	FrontendMs float64
	// MemEff and ComputeEff, when > 0, replace the profile's memory and
	// compute (GEMM and attention) efficiencies.
	MemEff, ComputeEff float64
	// Blocks is the pool size, set from the profile (or a scenario's
	// cache_blocks) when the run starts.
	Blocks int
	Model  IterationModel
}

// Defaults of the vllm latency model. max_num_batched_tokens 8192 and
// max_num_seqs 256 are vLLM's V1 defaults for the OpenAI server on a
// data-centre GPU in the versions read; the ground-truth runs set both.
// gpu_memory_utilization 0.9, block_size 16 and prefix caching on are
// vLLM's defaults. reserve_gib is this project's figure (not fitted);
// step_ms, seq_us and frontend_ms were calibrated on the four Llama-2-7B
// ground-truth runs (vLLM v0.15.1 on H100 SXM) only, with
// memory_efficiency=0.9 (analysis.VLLMCalibration has the procedure).
const (
	VLLMDefaultReserveGiB = 2.0
	VLLMDefaultStepMs     = 1.4
	VLLMDefaultSeqUs      = 10.0
	VLLMDefaultFrontendMs = 16.0
)

// ParseVLLM reads `vllm[:key=value,...]` and returns the model (without
// its pool size and iteration model) and its canonical spec.
func ParseVLLM(sp param.Spec) (VLLM, string, error) {
	if sp.Name != "vllm" {
		return VLLM{}, "", fmt.Errorf("latency %q: not the vllm model", sp.Name)
	}
	a := param.NewArgs(sp)
	v := vllmArgs(a)
	c, err := a.Canonical()
	if err != nil {
		return VLLM{}, "", err
	}
	return v, c, nil
}

var vllmParamDocs = map[string]string{
	"max_num_batched_tokens": "vllm serve --max-num-batched-tokens: token budget of one step",
	"max_num_seqs":           "vllm serve --max-num-seqs: most requests running at once",
	"max_model_len":          "vllm serve --max-model-len: longest prompt plus outputs (0: no limit)",
	"gpu_memory_utilization": "vllm serve --gpu-memory-utilization: share of GPU memory for weights, activations and KV",
	"block_size":             "vllm serve --block-size: tokens per KV block (must equal the trace's block size)",
	"enable_prefix_caching":  "vllm serve --enable-prefix-caching",
	"tp":                     "tensor-parallel degree (0: the profile's; must match it)",
	"reserve_gib":            "non-KV memory per GPU besides weights (activations, CUDA graphs), GiB",
	"step_ms":                "CPU overhead of every engine step, ms",
	"seq_us":                 "CPU overhead per request in a step, µs",
	"frontend_ms":            "delay from arrival to the engine's waiting queue (tokenization, hand-off), ms",
	"memory_efficiency":      "share of HBM bandwidth reached (0: the profile's)",
	"compute_efficiency":     "share of dense bf16 peak reached by GEMMs and attention (0: the profile's)",
	"timeout_s":              "abort a request not finished this long after its arrival, s (0: never)",
}

// readVLLM is the vllm model's registry reader.
func readVLLM(a *param.Args, cfg *config) error {
	cfg.isVLLM = true
	cfg.vllm = vllmArgs(a)
	return nil
}

func vllmArgs(a *param.Args) VLLM {
	return VLLM{
		MaxBatchedTokens: a.Int("max_num_batched_tokens", 8192, 1, 1<<24),
		MaxSeqs:          a.Int("max_num_seqs", 256, 1, 1<<20),
		MaxModelLen:      a.Int("max_model_len", 0, 0, 1<<30),
		MemUtil:          a.Float("gpu_memory_utilization", 0.9, 0.01, 1),
		BlockSize:        a.Int("block_size", 16, 1, 1<<16),
		PrefixCaching:    a.Bool("enable_prefix_caching", true),
		TP:               a.Int("tp", 0, 0, 1024),
		ReserveGiB:       a.Float("reserve_gib", VLLMDefaultReserveGiB, 0, 1e6),
		StepMs:           a.Float("step_ms", VLLMDefaultStepMs, 0, 1e6),
		SeqUs:            a.Float("seq_us", VLLMDefaultSeqUs, 0, 1e6),
		TimeoutS:         a.Float("timeout_s", 0, 0, 1e9),
		FrontendMs:       a.Float("frontend_ms", VLLMDefaultFrontendMs, 0, 1e6),
		MemEff:           a.Float("memory_efficiency", 0, 0, 1),
		ComputeEff:       a.Float("compute_efficiency", 0, 0, 1),
	}
}

// vllmBlocks is the KV pool size vLLM would allocate on the profile's
// GPUs, in blocks of v.BlockSize tokens.
func (v *VLLM) vllmBlocks(p *gpuprofile.Profile) (int, error) {
	const gib = 1 << 30
	tp := float64(p.TP)
	avail := tp*p.GPU.MemoryBytes()*v.MemUtil - p.WeightBytes() - tp*v.ReserveGiB*gib
	per := float64(v.BlockSize) * float64(p.KVBytesPerToken())
	n := math.Floor(avail / per)
	if n < 1 {
		return 0, fmt.Errorf("latency vllm: %s on %d× %s leaves no KV blocks: %.1f GiB × %d × gpu_memory_utilization %g − weights %.1f GiB − reserve %.1f GiB",
			p.Model.Name, p.TP, p.GPU.Name, p.GPU.MemoryGiB, p.TP, v.MemUtil, p.WeightBytes()/gib, tp*v.ReserveGiB)
	}
	return int(min(n, 1<<30)), nil
}

// vllmGPUModel times a step as the profile's GPU time plus step_ms.
type vllmGPUModel struct {
	p      *gpuprofile.Profile
	stepMs float64
	seqUs  float64
	buf    []gpuprofile.PrefillChunk
}

func (m *vllmGPUModel) Iteration(prefill []Chunk, decodes []int) time.Duration {
	m.buf = m.buf[:0]
	for _, c := range prefill {
		m.buf = append(m.buf, gpuprofile.PrefillChunk{NewTokens: c.New, CachedTokens: c.Cached})
	}
	seqs := float64(len(prefill) + len(decodes))
	return ms(m.p.Estimate(gpuprofile.Iteration{Prefill: m.buf, DecodeContexts: decodes}).GPUMS + m.stepMs + m.seqUs*seqs/1000)
}
