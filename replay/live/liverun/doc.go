// Package liverun holds what a live run (replay/live) sends and what it
// finds: the plan of prompts built from a trace (NewPlan, Words) and the
// types of a finished run (Result, WorkerResult, Record, Status, API).
//
// It exists so that analysis, which sets live runs beside simulations and
// renders their reports, depends on run results and not on the HTTP
// driver: it must import no net/http and nothing that does (a test in
// internal/testenv checks every package of this module analysis depends
// on), nor terminal code. replay/live re-exports its types as aliases.
//
// # Prompts (NewPlan, NewStreamPlan, Words)
//
// Each distinct block id of the replayed requests gets a dense per-run index
// in order of first appearance (NewPlan plans a loaded trace's requests at
// once; a streamed run adds them one at a time as it reaches them,
// NewStreamPlan and Add, and keeps only the indices). A block is BlockSize tokens: the first two
// encode the index (index mod TokenRange, then index / TokenRange, both
// offset by TokenBase, so sibling blocks differ from their first token unless
// their indices are congruent mod 30000, counted in FirstTokenClashes), the
// rest a SplitMix64 sequence seeded by the index. Distinct indices give
// distinct blocks, so prompts share exactly the whole blocks their chains
// share. Partial last blocks (and tokens past the chain) are dropped and
// counted: servers cache whole pages only. Token ids lie in [1000, 31000),
// inside every common vocabulary. Words renders the same prompt as one
// [a-z0-9]+ word per token, each followed by one space, for servers that
// count words (llm-d-inference-sim's --force-dummy-tokenizer).
//
// The plan also holds the sent workload as a trace at the server's block
// size (Plan.Model): server block j of a request is named by the trace block
// holding its last token and that token's offset, which is exactly "the
// prompt up to the end of block j", so the server's pages and the model's
// blocks coincide whatever the two block sizes are.
package liverun
