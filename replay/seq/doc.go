// Package seq is kvscope's hit-only sequential replay (SPEC §4, `kvscope
// replay`): requests in arrival order, routed by a router that needs no
// timing (round_robin, random, consistent_hash from replay/route), each
// worker's requests then served one at a time by kvcache.HitOnly (match,
// pin with output allowance reserved, insert, unpin, release). It is the
// fast path for sweeping eviction policies and stays so beside the timed
// simulator.
//
// Choices where SPEC is silent:
//   - Routing needs no cache state here, so every request is routed first
//     (a completion right after each decision); each worker's sequence is
//     then known, which opt needs as its future.
//   - Oversize (footprint = input blocks or tokens + tail + output
//     allowance > B) is decided per request before any work: error stops
//     naming the first one, fail counts it in failed, bypass serves it
//     uncached (completed, its input counted in the hit-ratio denominators
//     with no hits, outside every ratio's sequence).
//   - Misses for ratios are the served requests' miss blocks (block mode)
//     or miss tokens, tail tokens included (token mode).
//   - Stream seeds: router rng.Stream(seed, "router", 0), worker w's
//     eviction rng.Stream(seed, "evict", w).
//
// CompareOpt is the ratio computation (opt, Belady bound or compulsory
// misses, with SPEC §6's bounds from replay/bounds) on one worker's
// sequence given the policy's misses; SequentialRatios (sequential.go) also
// replays the policy itself on that sequence, which is what analysis.Ratios
// calls after a timed run with each worker's requests in prefill-start
// order. Both take a context and stop when it is cancelled (checked every
// 256 requests; the Belady bound itself, one pass, is not interrupted).
//
// seq imports trace, kvcache, evict, route, rng, param, scenario and bounds;
// it must not import the timed simulator or terminal code (charm).
package seq
