// Package samples embeds small traces, scenarios and profiles so that
// `kvscope` runs with no arguments on a fresh machine.
//
// mooncake_conversation_2000.jsonl is the first 2,000 lines of the Mooncake
// FAST'25 conversation trace (kvcache-ai/Mooncake, Apache-2.0, license in
// LICENSE-mooncake-APACHE), copied unchanged.
//
// Big data does not belong here: benchmarks read ../shared/traces.
package samples
