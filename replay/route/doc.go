// Package route holds the routers of SPEC §7 behind one interface and a
// registry table: random, round_robin, least_load, p2c, consistent_hash,
// cache_aware (presets sglang, the default, and sglang-0.4.6), dynamo, lbgr
// (presets code, the default, and paper) and llmd.
//
// # What it owns
//
// Routing decisions and the state a real router keeps: its own counters,
// its routing-history trees, what completion feedback taught it. A Router
// makes one Decision per arriving request at a simulated time: the chosen
// worker, every worker's score in the router's own units (Decision.Unit),
// and a compact Why that formats into the reason the winner won
// (Decision.Reason), so a run can keep the explanation of every request
// without formatting strings on the hot path. Completion notices drive the
// load counters and lbgr's learning. A router sees only its own state
// unless precise=true, when it reads the workers' true caches through the
// Cluster interface the simulator implements (llmd also reads queue lengths
// and cache usage from it, at its scrape instants). The four cache-aware
// routers (cache_aware, dynamo, lbgr, llmd) get that per-worker match from
// one overlap (overlap.go): the Cluster under precise=true, else their
// routing-history tree.
//
// route does not own worker caches, queues, latency or timing. It must not
// import replay/sim, replay/kvcache, replay/evict or any terminal code; it
// imports the standard library, replay/trace and replay/param only (a test
// checks this).
//
// # What a router registers
//
// Its registry entry (Info) is everything other code asks about it: Doc,
// NeedsTiming, Randomized (a function of its parameters: dynamo draws only
// with temperature > 0; random, p2c and llmd always), the Rules its
// decisions carry, Parse, and ParamDocs, one line per parameter Parse
// reads (Params lists those parameters with defaults and ranges as Parse
// reads them, for help, `kvscope list routers --long`, completion and the
// explorer's form). A Rule
// is the router's own explanation, declared in its file: a name, the units
// of the Scores, and a Format of the Why's numbers; Why points at it. So
// adding a router is its file and one table line, and nothing (why.go,
// scenario, help, the explorer) switches on router names. Register adds
// one from outside the table (tests and extensions).
//
// # Using it (the simulator's side)
//
//	r, canon, err := route.New(spec, route.Env{Workers: n, BlockSize: bs,
//		Blocks: tr.Blocks.Len(), Rand: routerStream, CachedMs: c, MissMs: m,
//		Cluster: cluster}) // canon goes into the run's scenario string
//	// In event-time order; a scrape instant before any routing at it:
//	for at, ok := r.NextObserve(); ok && at <= t; at, ok = r.NextObserve() {
//		r.Observe(at) // llmd's scrape sees the cluster as of instant at
//	}
//	d := r.Route(t, req)           // at arrival; copy d.Scores to keep them
//	...
//	err = r.Complete(route.Completion{Worker: d.Worker, Req: req,
//		Routed: t, Done: done, E2E: e2e, Failed: failed})
//	loads := r.Loads(t, buf[:0])   // per-worker load for checkpoints, r.LoadUnit()
//
// Every routed request must be completed exactly once (failed ones with
// Failed set). Calls to timed routers must come in nondecreasing time
// (earlier times panic: a caller bug). Hit-only replay may use the routers
// whose Info.NeedsTiming is false (round_robin, random, consistent_hash): they
// ignore time and need no completions. Resolve canonicalises a spec without
// an environment (it has the shape of scenario.Resolver).
//
// # Time-driven behaviour
//
// A router processes its own instants lazily up to the time of each call,
// instants first at equal times, so its behaviour is exact however often it
// is called: cache_aware's trims at k·eviction_interval_s (k ≥ 1), lbgr's
// decay at t = 20·m ms, the history trees' trims of lbgr, llmd and dynamo
// (precise=false) at k·120 s. llmd's scrape needs the cluster as it was at
// the instant, which a lazy router cannot reconstruct, hence NextObserve /
// Observe; a simulator that skips an instant makes llmd sample at its next
// Route (counted as a late sample).
//
// No instant costs anything by itself: a gap of n instants costs O(1) per
// worker whatever n (time_scale=1e6 stretches the sample trace's gaps to
// days). lbgr's decay takes n instants at once (below); the history trims
// collapse pending instants into one (a trim of a tree within its size does
// nothing); llmd jumps over idle scrape instants when the Cluster implements
// ClusterEvents (replay/sim's does): after a scrape its next one is the first
// instant at or after the simulator's next pending event, since Waiting and
// Usage change only at events, so the skipped instants would have sampled
// the same values (decisions and scores are bit-identical; a test checks it
// against a scrape at every instant). Without ClusterEvents (replay/live)
// llmd scrapes every instant, which there pass in real time.
//
// # Choices where SPEC §7 is open
//
//   - Load (SPEC: requests routed and not completed) is counted from Route
//     and Complete; least_load and p2c count input+output tokens, dynamo
//     input blocks, cache_aware requests.
//   - consistent_hash hashes the trace's own block ids (Env.Orig; 8 bytes
//     little-endian each), so a request routes as under a router keyed on
//     the trace's hash_ids, whatever else the trace holds; without Orig,
//     the dense ids. A
//     request with fewer than n ids hashes those it has; with none, the
//     key is the FNV offset basis (all such requests share a worker). The
//     successor is the first ring point with hash ≥ key, wrapping; equal
//     ring hashes are ordered by worker index. Scores are the clockwise
//     ring distances from the key to each worker's nearest point.
//     Finding: SPEC's ring is far from even, because FNV-1a-64 of short
//     strings differing in their last bytes clusters; with 4 workers the
//     arc shares are 41%, 37%, 8% and 14% (pinned by a test).
//   - p2c draws a = IntN(n) then b = IntN(n−1), shifted past a; with one
//     worker it draws nothing.
//   - cache_aware: the hit ratio is max m_i / the request's input tokens
//     (tail tokens without ids included; 0 for an empty input); both
//     thresholds are strict (>), as in sglang. precise=true takes m_i from
//     Cluster.Match and keeps the trees for the smallest-tree fallback.
//     Every preset value can be overridden by its own key.
//   - Routing-history trees are in tokens; a block's weight is the request's
//     BlockTokens for it. Trimming removes least-recently-routed leaves
//     (recency = the order of insertions into that tree, every insertion
//     touching its whole path; distinct leaves never tie) until the tree
//     fits. Trees see no worker evictions. dynamo with precise=false uses
//     such a tree, trimmed like the sglang preset's.
//   - dynamo's input blocks are ⌈input tokens / block size⌉, at least the
//     chain length (a paged engine holds the tail too); overlap counts chain
//     blocks only. temperature > 0 draws one Float64 per decision and picks
//     the first worker whose cumulative exp(−c'/T) exceeds u·Σ.
//   - lbgr: uncached = input tokens − cached (tails always miss). W below
//     1e-9 ms is flushed to exactly 0, after each decay instant and after
//     each completion's subtraction (this project's choice beside SPEC §7,
//     which keeps W a float: without it W decays into the subnormals and
//     sticks at about 8e-323, since x·31/32 rounds back to x there, 23,356
//     instants after W = 1 ms; and the residue a completion leaves, such as
//     1.8e-15, would linger). A gap of n instants decays W step by step, one
//     rounded multiplication by 31/32 per instant, for n ≤ 2048 (stopping at
//     the flush), and as W·(31/32)^n (math.Pow) beyond; the completion factor
//     (31/32)^d is the product of d factors for d ≤ 2048 (a table) and
//     math.Pow beyond. So the bits are the same however instants are batched,
//     a gap costs at most 2048 multiplications, and since any W below 1e19 ms
//     crosses 1e-9 within 2048 instants, the closed form only ever applies to
//     such W as an exact 0; against the step-by-step reference (with the same
//     flush) it agrees within 1e-12 relative above the threshold (a test pins
//     1, 31, 32, 1000, 2049 and 10^9 instants). Against the unflushed
//     arithmetic, over 96 lbgr scenarios on the two sample traces, decisions
//     and times are unchanged, W moves by under 1e-9 ms, and the float32
//     scores a run keeps change only with preset=paper (W is a feature of the
//     RLS; by up to 8e-7 relative). y uses the E2E the simulator reports.
//     Failed requests free their W share but do not teach the RLS. lbgr keeps
//     its per-request routing record keyed by trace.Request.Index, which must
//     be unique among requests in flight. preset=paper needs Env.MissMs > 0
//     and Env.CachedMs ≥ 0; preset=code ignores them.
//   - llmd: prefix = matched blocks / chain blocks (0 for a request
//     without ids); the first sample is at time 0; the weights and
//     scrape_ms are parameters (defaults 3, 2, 2 and 50). Its Loads are the
//     scraped waiting-queue lengths.
//   - Ties. SPEC §7: ties go to the lowest worker index, except llmd's.
//     least_load, consistent_hash (equal ring hashes, above),
//     cache_aware (argmin load, argmax match, argmin tree size), dynamo at
//     temperature 0 (lowest cost) and lbgr (its scan replaces the best
//     only when E_i < E_best − 1, so near-ties also keep the lower index)
//     take the lowest index; p2c's two drawn workers at equal load go to
//     the lower index. dynamo at temperature > 0 has no tie rule: equal
//     costs get equal weights and one Float64 draw picks among all workers
//     (above). llmd breaks exact score ties (float64 ==, after 3·prefix +
//     2·queue + 2·kv) uniformly at random from the router stream: with
//     t ≥ 2 workers at the top score it draws IntN(t) and takes that tied
//     worker in index order; a unique top draws nothing. This follows
//     llm-d's picker: llm-d-inference-scheduler uses the Gateway API
//     Inference Extension's max-score-picker
//     (kubernetes-sigs/gateway-api-inference-extension,
//     pkg/epp/scheduling/framework/plugins/picker/max_score_picker.go),
//     which shuffles the scored endpoints and then sorts them stably by
//     score, highest first, so equal scores come out in random order. It
//     shuffles on every decision; drawing only on a tie is this project's
//     choice (same distribution, fewer draws). Why it matters (issue 17,
//     finding 7): queue and kv scores tie whenever workers are equally
//     loaded, and with lowest-index ties a live run at concurrency 8 sent
//     none of its 500 requests to worker 3. random and round_robin have no
//     ties to break.
//
// # Performance and memory
//
// A routing-history tree is a bit per (block id, worker), packed (8 workers:
// one byte per block id), plus, until the worker's first trim, one pointer
// per routed request (the log; requests must not change while the router
// lives), and from then on a table of each tree block's latest insertion
// (10.7 to 21.3 bytes per block in the tree) and 24 bytes per live insertion,
// bounded by max_tree_size; a trim costs time in proportion to what it
// removes (history.go says why the removed leaves are those, in the order,
// of the rebuild-from-log trim it replaced); matching a request
// against every worker's tree is one walk over its matched prefix; routing
// allocates nothing beyond amortized growth (give Env.Blocks to allocate the
// bit array once; a test checks the allocation count). BenchmarkRoute routes the
// Mooncake conversation trace over 8 workers; see the figures in the
// project's BENCHMARKS.md.
//
// A caller that recycles dense block ids (trace.Table.Sweep: the live
// driver's model table) asks the routers with routing-history trees for
// the ids they hold (Holder: every id in some worker's tree; history.live
// says why nothing else of the history names an id), so that their memory
// follows their trees, not the run. consistent_hash, whose key hashes the
// request's first ids, must not have its ids recycled.
package route
