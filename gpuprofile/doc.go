// Package gpuprofile owns what kvscope knows about GPUs and models: the
// catalogue of GPU and model specifications (each figure with the published
// source it was found in, or marked unverified), the latency model of one
// engine iteration, KV-cache capacity, least-squares fitting of a profile's
// efficiencies from measurements, and the embedded measured profiles.
//
// It knows nothing of traces, replay or terminals: it must not import
// replay/..., analysis, tui or any charm package (a `go list -deps` test
// checks this). The simulator calls Lookup, (*Profile).IterationTime,
// (*Profile).CacheTokens and (*Profile).KVBytesPerToken.
//
// # Latency model
//
// One iteration of a continuous-batching engine runs prefill chunks (new
// tokens on top of cached context) and decode steps (one token on top of a
// context) together. Per iteration, for one replica of TP ranks:
//
//   - linear layers: FLOPs = 2·(active params − embeddings)·tokens + 2·V·h·seqs
//     (the LM head runs on one position per sequence; the input embedding is a
//     lookup, not a matmul); bytes = the weights (for MoE, the expected share of
//     experts that T tokens touch: 1−(1−k/E)^T);
//   - attention: FLOPs = 4·layers·heads·head_dim·Σ(keys attended per new
//     token), i.e. n·c + n(n+1)/2 for a chunk of n new tokens on c cached, and
//     x+1 for a decode step on context x; bytes = the KV read, (c+n) or (x+1)
//     tokens of KV per sequence. A chunk with nothing cached runs the causal
//     kernel, at attention_efficiency; a chunk on cached context is one call
//     of a kernel with a lower-right mask, so all its keys (n·c and the
//     causal n(n+1)/2) run at cached_attention_efficiency, as do decode
//     steps (runtimes use different kernels: the shipped H200 measurement's
//     causal SDPA call ran cuDNN's Hopper flash kernel at 583 TFLOP/s on
//     8,192 tokens, its lower-right call FlashAttention-2 at 308 TFLOP/s;
//     catalogue profiles set both to the same default, and a profile file
//     without the field takes attention_efficiency).
//
// Each part is a roofline: time = max(FLOPs/(TP·peak·eff), bytes/(TP·bw·eff_mem)),
// because within one kernel arithmetic and memory traffic overlap; the two
// parts are summed, because the weight GEMMs and the attention kernels run one
// after the other in every layer. The iteration takes
//
//	overhead + max(min_iteration, linear + attention + all-reduce)
//
// overhead is serial per-iteration work (scheduling, sampling); min_iteration
// is a floor that GPU work hides: a launch-bound runtime (HF transformers
// without CUDA graphs measured about 22 ms per forward on an H200 however
// small the batch) issues kernels no faster than this, and only GPU work
// longer than the floor shows. A runtime that replays CUDA graphs, as the
// shipped h200-llama-3.1-8b-hf measurement does, fits a floor of 0.
//
// At TP > 1 each layer adds two ring all-reduces of the iteration's hidden
// states (tokens × hidden × 2 bytes: after attention and after the MLP, as
// Megatron-style tensor parallelism and vLLM do), serial with the GPU work:
// 2(tp−1)/tp · bytes / (NVLink one-way bandwidth · AllReduceEfficiency) +
// 2(tp−1) · AllReduceStepLatency each (GPU.AllReduceSeconds; the sources and
// what is unverified are at the constants). The embedding's all-reduce and
// the logits' gather (once per forward, not per layer) are not counted; a
// GPU without an NVLink figure in the catalogue models no communication.
// ForwardTime answers "one forward of N tokens on GPU G, model M, TP t" from
// the catalogue.
//
// Fit bounds every efficiency by what a measured ceiling reached: the
// compute and attention efficiencies by a large bf16 matmul's share of peak,
// the memory efficiency by a large device copy's share of bandwidth (the
// harness writes both as comment lines of its CSV; without them the bound is
// the datasheet, 1). Where the CSV also gives the two attention kernels'
// throughput measured alone (ceiling_attention_causal_tflops on 8,192 new
// tokens, ceiling_attention_cached_tflops on 1,024 new over 8,192 cached:
// the largest sizes the fit uses), the attention efficiencies are those
// shares of peak, not fitted: in forwards of at most 8,192 tokens attention
// is under a fifth of the time and its fitted efficiency traded off against
// the linear layers' (fitted, the H200 profile's causal efficiency came out
// at 0.357 where the kernel runs at 0.59, and held-out prefills of 32,768
// tokens were overpredicted by 19%).
//
// # Capacity
//
// KV bytes per token of a replica = 2·layers·max(kv_heads, TP)·head_dim·bytes
// (KV heads split across ranks, replicated when fewer than ranks).
// B = (TP·memory·mem_fraction − weights − TP·reserve) / KV bytes per token.
// The default mem_fraction is sglang's rule (see MemFractionStatic); a profile
// or caller may override it.
//
// # Catalogue figures
//
// GPU memory is taken as the datasheet figure in GiB (HBM stacks are sized in
// binary units; an H200 sold as "141 GB" reports 143,771 MiB). Parameter
// counts are derived from the sourced shapes, not copied; for
// Llama-3.1-8B the derivation gives 8,030,261,248, the count the measurement
// harness read from the HF model.
package gpuprofile
