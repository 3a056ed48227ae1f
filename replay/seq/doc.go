// Package seq is kvscope's hit-only sequential replay (SPEC §4, `kvscope
// replay`): requests in arrival order, routed by a router that needs no
// timing (round_robin, random, consistent_hash from replay/route), each
// worker's requests then served one at a time by kvcache.HitOnly (match,
// pin with output allowance reserved, insert, unpin, release). It is the
// fast path for sweeping eviction policies and stays so beside the timed
// simulator.
//
// Two ways to run, with the same results:
//   - RunStream (what `kvscope replay` uses unless --vs-opt, an offline
//     policy or --sort is asked) reads the trace one request at a time
//     (trace.Stream.NextInto, reusing one Request and its chain buffer),
//     routes it and serves it at once in its worker's cache. Routers that
//     need no timing keep per-worker state only, so per-worker order and
//     random streams are those of Run. Nothing is held per request; the
//     block table recycles dense ids past a limit (trace.Table.SetLimit:
//     IDLimit, 8 × workers × capacity in blocks but at least IDFloor =
//     1,507,328 ids, or for a policy whose choices never depend on ids
//     (evict.Info.IDFree) the ids IDFreeBudget gives, about 500,000 for
//     8 workers), sweeping between requests and keeping each cache's
//     present blocks and what its policy retains (kvcache.Cache.Live;
//     s3fifo's ghost ids). Each cache numbers its blocks itself
//     (kvcache.Config.LocalSlots: every policy that can stream is IDFree
//     or orders by trace id, evict.Info.LocalSlots), so its arrays and its
//     policy's follow its capacity, not the limit; the limit bounds the
//     table alone (a parent and a lookup slot per id, 8–20 bytes, and the
//     original id, 8 more, only when the caller keeps them: kvscope
//     replay does under consistent_hash, the one router that hashes them,
//     route.Info.TraceIDs, and --skip-bad). So memory is bounded by the
//     limit × the table's bytes per id plus the caches, whatever the
//     trace's length (BENCHMARKS.md, "Hit-only replay memory against
//     trace length, ninth session": 41–53 MB from 10k to 10M multiturn
//     requests, 8 workers of 4,000 blocks, lru; before the caches had
//     local slots they were sized for the limit: 0.64 GB peak on the 10 M
//     trace). Below the limit results are Run's byte for byte (the dense
//     ids are the same: same table, same order). Past it, dense ids are
//     reused, so the policies that draw among leaves in id order (rlt,
//     random_leaf) may draw other blocks than a whole-trace run would;
//     lru, lfu, fifo, sieve, s3fifo and server_lru never tie on id
//     (stamps, insertion numbers and depths differ among leaves:
//     evict.Info.IDFree) and give the same results (stream_test.go checks
//     every policy that says so). Result.IDs (JSON
//     id_recycling, and a note line in the text report) appears only when
//     ids were recycled under a policy that is not IDFree: for the others
//     recycling is invisible, and the report is the whole-trace replay's
//     byte for byte. A stream that holds its
//     requests (--sort, kv-cache-tester input) never recycles.
//   - Run takes a whole loaded trace: --vs-opt (opt and the Belady bound
//     replay each worker's whole sequence, and opt needs its future) and
//     --sort (which needs the whole file) use it. Its memory grows with the
//     trace: the requests (about 100 bytes each plus 4 bytes per block
//     occurrence), the table (about 20–50 bytes per unique block) and each
//     cache's dense arrays, sized by the largest id its worker sees (about
//     32 bytes a slot per worker under lru), plus, with --vs-opt, each
//     worker's renumbered sequence and opt's next-use table (4 bytes per
//     block occurrence). These figures are exact, not approximated; they
//     are not spilled to disk.
//
// Choices where SPEC is silent:
//   - Routing needs no cache state here, so in Run every request is routed
//     first (a completion right after each decision); each worker's
//     sequence is then known, which opt needs as its future.
//   - Oversize (footprint = input blocks or tokens + tail + output
//     allowance > B) is decided per request before any work (streamed: the
//     serving stops at the first and the rest is read to count them): error
//     stops naming the first one, fail counts it in failed, bypass serves it
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
