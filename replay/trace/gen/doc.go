// Package gen holds kvscope's synthetic workload generators (SPEC §3):
// gsp (sglang's generated-shared-prefix benchmark, the paper's main
// workload), multiturn (the paper's ShareGPT/UltraChat setting), longdoc
// (the paper's Loogle setting) and cycle (adversarial for LRU, SPEC §6).
//
// It owns parameters (typed structs with SPEC's defaults, validation whose
// errors name the CLI flag, and a canonical flag string that reproduces a
// trace) and the streams of requests. It imports only replay/trace; writing
// a trace to a file is the writers' job (cmd/kvscope wires them), and
// nothing here knows caches, routers or timing beyond the arrival times
// below.
//
// # Streaming
//
// A generator emits each request through a callback, in arrival order, and
// reuses the request and its Blocks slice after the callback returns. Memory
// is bounded by the workload's shape, not the trace's length: gsp and
// longdoc keep a permutation of the prompts (4 bytes a request, random order
// only) and the first shared id of each group; multiturn keeps a heap of the
// clients in conversation (each with the ids of its conversation's full
// blocks) plus the next client to start; cycle keeps one chain.
//
// # Block ids
//
// Ids are uint32, handed out sequentially from 0 when the request that first
// holds a block is emitted, so the chains are already dense and in order of
// first appearance — exactly what a trace.Table assigns when the trace is
// read back — and writers take them as they are (t == nil). A gsp, longdoc
// or cycle trace that would need more than MaxBlocks ids fails with
// ErrBlocksExhausted naming the request: their shared blocks live for the
// whole trace. multiturn counts its blocks on 64 bits instead (a
// 100-million-request trace has about 6.5 billion): a conversation's
// blocks are its own, so once the count passes MaxBlocks a dense id is
// reused for a new block, and the writer writes the 64-bit number
// (Multiturn.IDNames, the Wide interface). It fails only if a conversation
// still in progress holds a block MaxBlocks numbers old.
//
// An id names a chunk of block_size tokens together with everything before
// it (SPEC §1): two blocks share an id exactly when the token content from
// the start of the prompt to the block's end is identical. A prompt is cut
// every block_size tokens from its start; its last block may be partial and
// then weighs its real token count (LastBlockTokens).
//
//   - gsp, longdoc: in group g (document d) the blocks that end inside the
//     shared prefix (document) are shared by the group; the block holding the
//     prefix/question boundary and all after it are unique to the prompt.
//     Groups never share a block. With the defaults every prefix is a
//     multiple of 16 tokens, so no sharing is lost at the boundary.
//   - multiturn: a conversation is one token stream u1 r1 u2 r2 … (user
//     messages of UserLen tokens, replies of OutputLen tokens), and turn t's
//     prompt is its first t·UserLen + (t-1)·OutputLen tokens. A full block
//     [j·bs, (j+1)·bs) has one id in every turn that reaches it. A partial
//     last block [j·bs, I_t) ends where turn t's prompt ends; the next turn
//     continues the stream past that point, so its block j is a different
//     chunk (different content end) with a new id, and the partial block is
//     never shared. Hence the id of a chunk depends on its content end, not
//     only on its start. Conversations never share a block (each client's
//     first user message differs).
//   - cycle: prefix p (0 … k) is blocks p·prefix_blocks … p·prefix_blocks +
//     prefix_blocks - 1; prefixes are disjoint chains.
//
// # Choices SPEC leaves open
//
//   - Arrivals (gsp, longdoc, and multiturn's client starts) are a Poisson
//     process at --rate per second whose first event is at time 0 (sglang's
//     bench_serving sends its first request at once), followed by
//     exponential gaps. Times accumulate in float64 seconds and are rounded
//     to the nanosecond. --rate inf puts every event at 0.
//   - gsp's prefix is S_g = clamp(round(r·L_g), 1, L_g-1) with math.Round
//     (half away from zero) on the float64 product r·L_g; --total-lens must
//     therefore be at least 2. Prompts are numbered (group, index);
//     round_robin emits index 0 of groups 0 … G-1, then index 1, …
//   - longdoc's document d has doc_lens[d % len] tokens (as gsp's groups);
//     each prompt is the document followed by a question of --question-len
//     tokens unique to the prompt; all docs × questions prompts are shuffled
//     globally.
//   - multiturn: client c holds turns[c % len] turns; clients start in index
//     order at Poisson times. Turn t+1 arrives open-loop at turn t's arrival
//     plus its service time under the linear model's defaults (SPEC §8:
//     cached_ms 0, miss_ms 0.15, out_ms 0) plus --think-s. Turn t's "missed"
//     tokens are those not in the blocks of the same client's previous turn
//     (all of them for the first turn): its miss under an infinite cache,
//     since clients share nothing. Missed tokens × 150 µs is exact integer
//     nanoseconds. Every turn after the first carries ThinkS (even when 0)
//     and Parent; Session is the client index; Turn is 1-based. Requests are
//     emitted in arrival order; equal times go to the lower client index.
//     Each request's output length is OutputLen, the reply that the next
//     turn's history then contains.
//   - cycle: request i arrives at i ms and holds prefix i mod (k+1); input
//     = prefix_blocks × block_size tokens; --rounds 0 is not allowed on the
//     command line, and Rounds 0 in the struct means k+1. cycle draws no
//     random numbers; --seed is accepted and recorded.
//   - Request ID and Index are the 0-based emission position. Session is -1
//     and Parent NoParent except in multiturn; no tags are written.
//
// # Seeds
//
// Each purpose (arrivals, order) draws from its own PCG-DXSM stream seeded
// from (seed, purpose) through splitmix64, so the order of gsp never moves
// its arrival times and runs that differ only in order share arrivals. The
// bounded draws (Lemire), the shuffle (Fisher-Yates from the end) and the
// exponential gaps (inversion, -log1p(-u)/rate) are written out here rather
// than taken from math/rand/v2's Rand, whose derived algorithms are not
// documented as fixed (only PCG-DXSM itself is), so that the same flags and
// seed keep giving the same bytes across Go releases. A test pins digests of
// small traces of each generator. Across CPU architectures one caveat
// remains: math.Log1p may differ in its last bit where the compiler fuses
// multiply-adds (arm64, ppc64, s390x), which moves an arrival by 1 ns only
// when it falls within about 1e-16 s of a rounding boundary.
//
// # Figures of the defaults
//
// Measured by the tests with an infinite cache in arrival order:
//
//	generator  requests  input tokens  ideal token hit ratio
//	gsp            4096    12,812,288  31/64 = 0.484375
//	multiturn       640     2,300,160  1,640,448/2,300,160 ≈ 0.713189
//	longdoc        2048     7,995,392  7,372,800/7,995,392 ≈ 0.922131
//	cycle           289           289  272/289 ≈ 0.941176
package gen
