// Package curve computes the hit-ratio curve of tree-LRU: the block and
// token hit ratios that `kvscope replay --evict lru` would report at every
// capacity, from one pass over the trace, exactly. It also samples
// (SHARDS-style) for traces too large to pass.
//
// # What is modelled
//
// Exactly what replay/seq does with the lru policy (kvcache.HitOnly):
// per worker, requests in trace order; request j matches its chain, pins
// the matched path, makes room for its missing blocks plus its
// reservation r_j (the output allowance plus kv-cache-tester's id-less
// tail tokens, in the cache's unit, kvcache.Allowance), evicting unpinned
// leaves in lru order (smallest stamp, then the deeper block, then the
// smaller id), inserts the missing blocks, stamps its whole chain with a
// new clock value, then unpins and releases the reservation. Routing is
// seq.Assign's, done before any replay.
//
// # Derivation
//
// Order every block a worker has seen in one infinite recency stack:
// by last stamp, most recent first; within one stamp (one request's
// chain) the shallower block first. A child is never before its parent
// (its every access also stamped the parent; on equal stamps it is
// deeper), so lru's victim among the unpinned blocks, the last of them in
// this order, is always a leaf, and evicting from the tail is leaf-LRU.
// Let D_j(b) be the weight of the blocks at or before b in the stack just
// after request j. Claims, for a capacity C ≥ L (below):
//
//  1. After every request the cached set is a prefix of the stack. By
//     induction: request j's matched blocks are a prefix of its chain
//     (the cache is closed under ancestors); the blocks it evicts are the
//     tail of the cached blocks outside its chain (lru order = stack
//     order, and the pinned matched path is all of the chain that is
//     cached); its chain goes to the top.
//  2. Request j evicts until cached + missing + r_j ≤ C, i.e. until the
//     other cached blocks weigh ≤ C − r_j − w(chain_j). By claim 1 the
//     other cached blocks at or before b (a cached block outside chain_j)
//     weigh D_j(b) − w(chain_j), so b survives request j if and only if
//     D_j(b) + r_j ≤ C. (Eviction goes one block at a time while the
//     shortfall is positive, so b is removed exactly when the blocks up
//     to b still weigh too much.)
//  3. A block b last accessed by request t is cached when request T > t
//     accesses it again if and only if C ≥ M(b) = max over t < j < T of
//     D_j(b) + r_j (M = −∞ when T = t + 1). Request t was served (C ≥ L),
//     so b was cached after it; then claim 2 at each j. Since M does not
//     depend on C, the access hits at every C ≥ M(b) and misses below:
//     the cached sets are nested across capacities (inclusion), which is
//     what the curve needs. A first access misses at every capacity.
//
// The curve is then the weighted histogram of M over all accesses: hit
// blocks at C = #{accesses with M ≤ C}, hit tokens likewise weighted by
// each block's tokens in the accessing request (its last block's own
// count, as HitOnly counts). Replay counts hits up to the first missing
// block; the cache being closed under ancestors, every cached block of a
// chain is in that prefix, and M is nondecreasing along a chain.
//
// # One pass
//
// M is found without a stack of blocks. Group a request's chain into runs
// by the request that last accessed each block: the blocks of chain T
// last accessed by t form a contiguous piece of t's chain, starting at the
// shallowest of t's blocks not accessed since (ancestors are never older).
// For each earlier request t keep one number: U(t) = weight of the blocks
// now more recent than all of t's remaining blocks, minus the weight of
// t's blocks that have left it. Then every remaining block of t at
// position i of t's chain has D(b) = U(t) + prefix_t(i), where prefix_t(i)
// is the weight of t's chain up to and including position i, a constant.
// Hence M(b) = H(t) + prefix_t(i) with H(t) = max over j > t of
// U_j(t) + r_j, one number per request. When request T moves a run of
// weight W out of t, U grows by W for every request after t (those blocks
// were older than them, and are now newer) and is unchanged for t itself
// (W joins the newer blocks and leaves t's own) and for requests before
// t; T's first-time blocks raise U of every earlier request. After
// request T, every earlier request takes H = max(H, U + r_T).
//
// That is a segment tree over the worker's requests (tree.go): suffix
// add, "historic maximum" over all leaves, point read; O(log n) per run,
// and runs are few per request (one per earlier request sharing a piece
// of the chain). The blocks of a run have consecutive critical values
// (step 1 block, or block_size tokens), so a run is one entry of the
// histogram. The whole pass is O(Σ chain lengths + runs · log n), about
// the cost of one replay; BENCHMARKS.md has the figures.
//
// The histogram is dense in block mode (two prefix sums turn the entries
// into hits at every capacity: O(1) per query). In token mode capacities
// range over tokens, so the runs are kept as arithmetic progressions,
// merged with a heap to list the steps, and summed for one capacity.
//
// # What is refused (ErrNotExact, or BelowMinError)
//
//   - One curve for capacities below L, the largest footprint (input
//     blocks or tokens + tail + output allowance) of any request: replay
//     stops there (oversize=error, BelowMinError), or leaves the larger
//     requests out (fail, bypass), and a request left out does not touch
//     the stack, so the order itself depends on C and inclusion fails
//     across those capacities. At and above L no request is oversize, so
//     the setting does not matter there. Below (curve.Below) is exact for
//     fail and bypass at the cost of a pass per set of requests left out:
//     with that set fixed, the argument above holds on the requests kept
//     (bypassed ones stay in the denominators with no hits, failed ones
//     leave them, as in replay). kvscope curve spends such passes only on
//     the points asked for (--at, GPU capacities, --opt-at, --rlt-at).
//   - Policies other than lru: rlt and random_leaf draw at random and
//     the baselines (fifo, lfu, sieve, s3fifo) keep no nested order.
//     Belady's MIN is a stack algorithm for unit pages, but no one-pass
//     form for opt on prefix trees with reservations is built here:
//     analysis replays opt and the Belady bound, and rlt over seeds, at a
//     bounded number of capacities.
//   - Routers that need timing: their choices depend on the caches, hence
//     on C (hit-only replay refuses them too). round_robin, random and
//     consistent_hash route without cache state; seq.Assign routes the
//     trace once for every capacity. Per-worker capacity is the same C.
//   - Token mode when one block id has two token weights in the trace (a
//     partial block reused at another length): the cache keeps the weight
//     of the request that inserted it, and which one that is depends on C.
//     Block mode is exact there.
//   - Timed replay and keep_outputs are not hit-only replay: the curve is
//     only offered for hit-only replay.
//
// # Sampling
//
// Config.Sample = R < 1 keeps the blocks whose dense id hashes
// (splitmix64, salted by the seed) below R·2^64, as SHARDS samples
// addresses: unsampled blocks are left out of the stack altogether and
// never counted; a sampled block weighs 1/R of its weight, reservations
// stay exact, and an access's critical capacity (D/R + r) is rounded up to
// an integer capacity. Weights are fixed point (2^16). The ratios are
// sampled hits over sampled lookups (the token ratio times the share of
// input tokens that have ids). The sample saves the tree and histogram
// work and shortens the output, not the walk over the chains (every id
// is hashed) or the per-id arrays. BENCHMARKS.md has its measured error:
// hot prefix blocks (Mooncake's) carry much of the hits at small sizes,
// and whether a sample holds them moves the whole curve, so the error
// shrinks little with the rate there, while the mean over seeds stays
// close to exact.
//
// curve imports replay/trace, kvcache, evict, route, param and seq; it
// must not import the timed simulator or terminal code.
package curve
