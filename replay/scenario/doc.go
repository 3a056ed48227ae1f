// Package scenario parses, defaults, validates and writes back the scenario
// grammar of SPEC §1:
//
//	scenario := router [':' params] '+' evict [':' params] { ';' key '=' value }
//
// with keys workers, cache_tokens | cache_blocks, profile, latency, seed,
// rate, time_scale, oversize, keep_outputs, session_timing.
//
// The canonical form spells every default and sorts keys, component
// parameters included (each component's registry resolves its own defaults
// through a Resolver), so any result can be rerun from the string it
// carries. Choices where SPEC is silent:
//
//   - rate=trace (the default) keeps the trace's timestamps; a positive rate
//     re-times arrivals as a Poisson process from the scenario seed.
//   - profile=none (the default) means no GPU profile; the linear latency
//     model needs none. latency defaults to linear with SPEC §8's defaults.
//   - A scenario that gives neither cache_tokens nor cache_blocks takes its
//     capacity from the profile; without a profile it takes
//     DefaultCacheTokens (1,024,000 tokens) per worker, converted to whole
//     blocks of the trace's block size when the trace is known (Sized), so
//     the default means the same memory on 512-token Mooncake blocks (2,000
//     blocks), 64-token kv-cache-tester blocks (16,000) and 16-token blocks
//     (64,000), and stays in block mode (opt and the Belady bound as SPEC §5
//     defines them). The figure is about one GPU's KV pool for a 7-8B model:
//     929,738 tokens for h200-llama-3.1-8b-hf (the measured profile) and
//     1,045,108 for a100-80gb-qwen2.5-7b (`kvscope profile list`); it is
//     rounded to 2,000 Mooncake blocks, the explorer's earlier default. The
//     canonical string of a run names the size used (cache_blocks=N).
//   - seed defaults to 1; workers to DefaultWorkers, 8: one 8-GPU node of
//     such replicas. With the linear model's 0.15 ms per missed token the
//     Mooncake conversation trace keeps a median TTFT under 2 s on 8
//     workers; on 4 its queues grow without bound (TTFT p50 near 10 min).
//     Every command shares these defaults, so the explorer and `kvscope run`
//     give the same figures for the same trace.
//   - time_scale and rate take values in (0, 1e9]. Whether a trace fits at
//     that scale (time_scale × its span, rate re-timing, think times along
//     closed sessions, service times) is the simulator's check against its
//     limit of 4e9 s of simulated time (replay/sim, MaxTime), made before a
//     run starts and reported naming the key.
//
// Whether a scenario is randomized is the components' own answer: Randomized
// asks the eviction and router registries' descriptors, never their names.
//
// scenario imports replay/param and the component registries (replay/evict,
// replay/route); it must not import terminal code.
package scenario
