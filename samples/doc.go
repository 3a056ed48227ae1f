// Package samples embeds small traces, scenarios and profiles so that
// `kvscope` runs with no arguments on a fresh machine.
//
// mooncake_conversation_2000.jsonl is the first 2,000 lines of the Mooncake
// FAST'25 conversation trace (kvcache-ai/Mooncake, Apache-2.0, license in
// LICENSE-mooncake-APACHE), copied unchanged.
//
// gsp_small.jsonl is a small generated-shared-prefix trace in kvscope's
// native format (16 groups × 8 prompts, 128 requests, 16-token blocks),
// made by
//
//	kvscope gen gsp --groups 16 --prompts-per-group 8 --seed 1 -o samples/gsp_small.jsonl
//
// and regenerated with the same command whenever the generator or the
// native writer changes (TestSampleUpToDate in replay/trace/gen checks it).
//
// h200_llama31_8b_measurements.csv is the H200 measurement behind the shipped
// profile h200-llama-3.1-8b-hf (CUDA-graph replays; gpuprofile/measure says how it
// was taken); the _eager*.csv files are the first session's eager-PyTorch runs
// of the same grid, kept for comparison (BENCHMARKS.md).
//
// Big data does not belong here: benchmarks read ../shared/traces.
package samples
