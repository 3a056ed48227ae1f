// Package sim is the discrete-event cluster of SPEC §8: arrivals (the
// trace's timestamps times time_scale, a Poisson re-timing at rate, or with
// session_timing=closed a turn released think_s after its parent
// completes), the router's decision per request, each worker's queue,
// prefix cache and latency model (linear, the engine model's continuous
// batching timed by a gpuprofile, or the vllm model: vLLM v0.15.1's
// scheduler, block pool and preemption, vllm.go says what of vLLM it
// follows and what not), completion, the event log and the
// per-worker series the explorer scrubs. Simulate returns a Run; metrics
// math lives in analysis, and so does the competitive-ratio step (SPEC §5:
// analysis.Ratios replays each worker's Run.Sequences after the run,
// cancellably). sim must not import terminal code.
//
// # Streamed runs
//
// SimulateStream (stream.go, window.go) is Simulate reading a trace.Stream
// as the simulated clock reaches each arrival: the next request is read
// when the previous one arrives, as Simulate schedules them, so events
// and their order are the same. Requests are held in a ring from the
// oldest not yet retired to the newest read; a request is retired, its
// record handed to StreamOptions.OnRecord, once it and every earlier one
// have ended, so records arrive in trace order and an in-flight request's
// block ids are always held; an ended one lets its chain go at once (what
// needs its ids takes them as it is read, StreamOptions.OnRead: the
// max_load bound), and one queued behind the first 64 of its worker's
// queue is parked: it keeps its chain's leaf, which keeps the chain's ids
// in the block table, and gets the chain back from the table's parents
// when its worker takes it (window.go). A streamed run keeps no event log, series,
// router-load samples or per-request detail (nothing reads them in
// `kvscope run`): each worker keeps one sample of its counters. The block
// table is swept (trace.Table.SetLimit, the limit seq.IDLimit gives a
// streamed replay) with the caches, the router (route.Holder) and the ring
// as holders; consistent_hash and the vllm model hash dense ids, so their
// runs keep every id. Results equal Simulate's as long as no id is
// recycled, and under policies blind to ids (evict.Info.IDFree) whatever
// is recycled (TestStreamMatchesWhole); under rlt and random_leaf a
// recycled id can change a draw, and Run.IDs says recycling happened.
//
// What a streamed run does not keep it can hand over as it happens:
// StreamOptions.OnEvent, OnSample and OnLoads receive the event log, each
// worker's samples and the router's load rows a whole-trace run would hold,
// in its order and with its coalescing (a sample or load row is held until
// a later instant replaces or follows it; full samples are computed only
// with OnSample, so a run without sinks costs what it did). Spill files
// take them to disk (spill.go: fixed rows between a header and a JSON
// footer, each file written whole or not at all through atomicfile) and
// read them back lazily: an events file (CreateEvents, OpenEvents) of 16
// bytes an event, where event i is one ReadAt and Index (Run.EventIndex) a
// binary search; a states set (CreateStates, OpenStates), a directory with
// one file of 96-byte rows per worker and one of load rows whose footer is
// the set's manifest, where StateAt equals Run.StateAt at O(workers · log
// n) ReadAt calls of one row each and nothing else read. Decoding checks
// every field it reads and names the file, row and field at fault.
//
// A records file (spill_records.go: CreateRecords, OpenRecords) holds
// every record in trace order, 120 bytes each, with the decision rules and
// failure reasons as indices into the footer's tables; the footer also
// holds what Run holds beyond records and series (Start, End, Capacity,
// Unit, LoadUnit, Preemptions), given to RecordWriter.Close as the
// finished Run (a streamed run's, without records, has them all:
// StreamOptions.OnEnd hands it to a caller that does not start the run
// itself). A requests file (spill_requests.go: CreateRequests,
// OpenRequests) holds each request's own fields from the trace in trace
// order, 40 bytes each (RequestInfo: input and output tokens, blocks,
// session, turn, the trace line), what the explorer's request pane shows
// beside the record. A detail file (spill_detail.go: CreateDetail,
// OpenDetail) holds each request's per-worker router scores and true
// cached prefixes, 8 bytes a worker, the rows of Run.Scores and
// Run.Matches, which a streamed run hands to StreamOptions.OnDetail (at
// one cache match per worker per request, as Options.RequestDetail costs);
// a request never routed has a row of zeros. Each kind of spill file has
// its own version (spillVersions); a file of another is refused, naming
// both, rather than read with defaults (records files are at 2 since
// their footer gained the run's facts).
//
// A spilled run (spill_run.go, `kvscope run --spill DIR`, read back by
// `kvscope inspect DIR`) is a directory holding the four: records.kvr,
// requests.kvq, events.kve and the states set in states/. CreateSpill
// starts it, Hook sets a streamed run's sinks to write it, WriteRun writes
// a whole-trace run's (with its trace, for the requests) the same way (the
// same bytes), and Close(run) commits the records file last, so a
// directory without one holds no finished run; a failed run leaves none
// of the four. OpenSpill opens all four (Spilled.Footer is the records
// footer) and checks that requests and records agree in number. The
// detail file is optional (SpillWriter.Detail: the streamed explorer's
// runs, `run --spill-detail`); OpenSpill opens it when it is there
// (Spilled.Detail) and checks it has a row per record.
//
// Simulate refuses some runs before any work, from facts of the whole
// trace (time limits below, oversize=error). A streamed run checks them
// request by request (streamChecks): the first request that dooms the run
// makes it read the rest of the stream, to give the same message. It
// cannot stream session_timing=closed (a turn waits for a parent anywhere
// earlier and is released by it) nor keep_outputs (a request's output
// blocks are named by its next turn, anywhere later): CanStream.
//
// # Time limits
//
// Simulated time is a time.Duration (ns, about 292 years). Every instant
// of a run must stay within MaxTime = 4e9 s (about 126.8 years): under half
// the Duration range, so an instant plus a duration within it cannot
// overflow, and room for a trace as the readers bound it (every arrival and
// think time at most trace.MaxSeconds = 1e9 s). A run that could pass it is
// refused before any work, with an error naming what makes it too long:
//
//   - time_scale × the trace's last arrival past MaxTime: "time_scale=X:
//     the trace's arrivals span S (the last at FILE:LINE), which become T of
//     simulated time, past the simulator's limit …", with the largest
//     time_scale the trace's arrivals allow (5.97e6 for the 669 s embedded
//     sample; 1e6 is fine).
//   - rate re-timing whose Poisson clock passes MaxTime (a tiny rate).
//   - session_timing=closed: a turn's earliest release (its session's first
//     arrival plus the think times along its chain of parents) past
//     MaxTime: "FILE:LINE: think_s: …"; and a chain of parents that loops
//     (never reaches a turn the clock releases): "FILE:LINE: parent: …".
//   - linear model: the latest earliest release plus the sum of every
//     request's service time bound (max(cached_ms, miss_ms) per input token
//     plus out_ms per output token) past MaxTime. That sum bounds the run's
//     end because a worker is never idle while a request it holds waits.
//
// The engine model's iteration times have no cheap bound, so each event's
// instant is also checked as it is scheduled: an iteration, prefill or
// decode that would end past MaxTime (or a latency model whose duration
// overflowed, which float-to-Duration conversions here saturate rather
// than wrap) stops the run with "worker W: … takes D, past the simulator's
// limit". Nothing overflows silently.
//
// # Panics
//
// A panic inside a replay is a bug, never the answer to bad input; it still
// must not take a process (or the explorer, or the other scenarios of a
// comparison) down. Simulate recovers it, in this one place used by `kvscope
// run`, `kvscope compare` (analysis.Compare), the explorer's replay jobs and
// the live command's model run, and returns an *InternalError:
//
//	scenario "lbgr:…": request 17 (FILE:LINE) at 1.2 s: internal error: <panic value>
//
// naming the canonical scenario and the request being handled (none for a
// router's scrape instant). The stack is kept in InternalError.Stack; with
// KVSCOPE_DEBUG=stack the message carries it. KVSCOPE_DEBUG=panic_at=N
// makes the router panic on request N, which is how the tests exercise this
// path end to end (DebugEnv lists the switches).
package sim
