package evict

import "github.com/kvscope/kvscope/replay/kvcache"

// serverLRU models the block cache of llm-d-inference-sim v0.10.2 (SPEC §11),
// the vLLM-compatible server the live tests attach to:
//
//   - a block's time is set when the last running request that references
//     it finishes; every block of that request gets the same time (the
//     server calls time.Now() once per finished request);
//   - a new block evicts the least recently used unreferenced block, one at
//     a time, when the cache is full;
//   - the reported cached tokens of a request are every prompt block present
//     anywhere in the cache (running requests' blocks included) × block size.
//
// Here a block is stamped with a per-worker clock that advances once per
// Complete access (or HitOnly access in hit-only replay), so the blocks of one
// finished request share a stamp and a block shared with a later request
// takes the later request's stamp, as on the server. PrefillStart and
// PrefillEnd accesses change nothing: the server does not touch a block's
// time when a request starts using it (the block leaves the unreferenced set
// instead, which pinning models).
//
// Victim: the unpinned leaf with the smallest stamp; ties the deeper block,
// then the smaller id.
//
// Where it differs from the server, and why:
//
//   - The server breaks ties between blocks of equal time in Go map
//     iteration order (random, run to run) and may evict an interior block
//     whose descendants stay cached; a prefix cache (kvcache) may remove
//     leaves only. Because an ancestor is stamped whenever a descendant is
//     (a request holds its whole chain), the oldest stamp's deepest block
//     is always a leaf, so this policy's victim is always one the server
//     could have chosen. The two caches then hold the same number of blocks
//     of that request; a later request counts the same cached blocks unless
//     it holds only part of the evicted request's chain (a prefix of it),
//     where the server's random pick may have kept blocks the model
//     evicted or the other way round. That is the only source of
//     disagreement at concurrency 1.
//   - The server counts output tokens and tokens past the last full block
//     against no capacity and drops partial last blocks: run the model with
//     Output 0 and full blocks only (replay/live does).
//   - The server's capacity check at request start is "pinned + missing ≤
//     B" and fails the request otherwise; kvcache's oversize rule
//     (Footprint > B) is the same at concurrency 1.
//
// It is leaf-LRU (lru.go) with a different clock: only completions advance
// it, so it embeds lru and filters the accesses.
type serverLRU struct {
	lru
}

func newServerLRU(*paramArgs, Env) (Policy, error) { return &serverLRU{}, nil }

// Access stamps the path only when a request finishes (Complete, or the
// single HitOnly access of hit-only replay).
func (p *serverLRU) Access(path []BlockID, ev kvcache.Event) {
	if ev != kvcache.Complete && ev != kvcache.HitOnly {
		return
	}
	p.lru.Access(path, ev)
}
