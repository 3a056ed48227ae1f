// Package evict holds kvscope's eviction policies, one file each, behind
// one small interface (kvcache.Policy), and a plain registry table
// (name → constructor(params, env)); see registry.go. The Belady bound
// (BeladyMisses) and the token-mode compulsory-miss bound live here too,
// beside the registry, not in it.
//
// A policy only answers "which leaf next": it hears insertions, removals,
// accesses and changes of the set of unpinned leaves from the cache, and
// the shortfall before an eviction episode. It does no tree bookkeeping:
// the cache (replay/kvcache) owns capacity, pins and the evict-until-fits
// loop, and checks every victim is an unpinned leaf.
//
// Ties (SPEC §5): the deeper block, then the smaller id, where id is the
// dense id of replay/trace, assigned in order of first appearance in the
// trace (not the trace's own numeric id). Uniform draws (rlt, random_leaf)
// are rng.IntN(|set|) over the set in dense id order, from the worker's
// eviction stream (WorkerRand), so runs are reproducible.
//
// Local slots (kvcache.Config.LocalSlots) give a cache's blocks numbers of
// its own, so a policy sees slots, not trace ids. A policy may run so when
// its choices are the same (Info.LocalSlots): IDFree ones never let an id
// decide; TraceOrder ones (rlt, random_leaf) order their candidates by the
// key Cache.TraceID gives each block (its dense trace id in either
// numbering: the smallest interface, one method the cache already had, and
// no per-block key array in the policy), kept in the candidate set beside
// the slot (idset, structs.go). The IDFree policies' ties by id (tie) take
// the cache's numbering: IDFree says such a tie never decides a choice.
//
// Registered: fifo, lfu, lru, opt, random_leaf, rlt, s3fifo (small_ratio in
// [0.01, 0.9], default 0.1), server_lru, sieve. Each file's doc says how
// its rule adapts to leaves. opt needs the worker's future sequence and is
// for sequential replay only.
//
// A registry entry (Info) is everything other code asks about a policy:
// Offline, Randomized, IDFree, TraceOrder, Doc, and ParamDocs (one line per parameter the
// constructor reads; Params lists those with defaults and ranges as the
// constructor reads them). Help, the explorer's form, scenario.Randomized
// and the simulator read those, never a policy's name, so adding a policy
// is its file and one table line. Register adds one from outside the table
// (tests and extensions) and returns its removal; the registry is guarded
// by a lock, since runs look policies up concurrently.
//
// evict imports kvcache, param and trace; it must not import terminal code
// (charm), the simulator or routers.
package evict
