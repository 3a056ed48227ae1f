// Package live replays a trace against attached workers (SPEC §11): real
// vLLM or sglang servers, or llm-d-inference-sim, with kvscope's own routers
// (replay/route) in front; analysis sets the run beside the same requests
// simulated (replay/sim).
//
// It owns the protocol clients, the /metrics scraper and the live driver.
// The prompt builder (NewPlan, NewStreamPlan) and the types of a finished run (Result,
// Record, WorkerResult, Status, API) live in replay/live/liverun, which
// imports no net/http, so that analysis reads runs without depending on the
// driver; this package aliases those types for its callers. It simulates nothing itself: its model of each
// worker's cache is a kvcache.Cache with a registered policy. It must not import terminal code
// (charm); the explorer consumes the streaming API below.
//
// # Clients
//
// OpenAI: POST /v1/completions, stream=true with stream_options.include_usage,
// prompt as token ids (or words), temperature 0, ignore_eos; cached tokens
// from usage.prompt_tokens_details.cached_tokens (vLLM needs
// --enable-prompt-tokens-details). sglang: POST /generate with input_ids,
// stream=true; cached tokens from meta_info.cached_tokens. TTFT is send →
// first chunk carrying output text; E2E send → [DONE]. An error object
// inside a 200 stream (llm-d-inference-sim's capacity error) fails the
// attempt as "rejected in stream" (not retried).
//
// /metrics is parsed with prometheus/common's expfmt: vllm:prefix_cache_queries
// and vllm:prefix_cache_hits (with or without _total), vllm:kv_cache_usage_perc,
// vllm:num_requests_waiting/running, vllm:cache_config_info (num_gpu_blocks,
// block_size: the cache size and page size when not given); sglang's
// sglang:prompt_tokens_total, sglang:cached_tokens_total, sglang:token_usage,
// sglang:num_queue_reqs. A counter absent before the run (servers register
// series on first use) counts from 0. The per-worker /metrics hit ratio is the
// counters' growth over the run, read after they stop moving, summed over
// every reading as Prometheus's increase() sums it: a counter that goes
// down, or a new process_start_time_seconds, is a reset (the server
// restarted) and the new reading counts from 0, so a restart never turns a
// figure negative (what was counted between the last reading and the
// restart is lost, as in Prometheus). Each ratio of the report says which
// requests it covers (responses: completed requests that carried
// cached_tokens; /metrics: every attempt the servers counted); a run whose
// responses carry no cached_tokens (vLLM without
// --enable-prompt-tokens-details) is flagged and /metrics stands in.
//
// # The driver (Run)
//
// Arrivals are replayed in real time × Config.TimeScale; at most
// Config.Concurrency requests are in flight and later arrivals wait in the
// driver (first come, first served). With Config.Adaptive the cap falls
// below Concurrency when workers push back (limit.go: AIMD, halved once per
// window on a 429 or a stall, +1/cap per success), so an overloaded fleet
// is not driven into a stall-and-retry storm. Config.Duration stops the
// sending (in-flight requests finish; the rest are counted not sent,
// Result.NotSent, among the cancelled, and the result says the limit was
// reached). Each record keeps the lag
// from the scheduled arrival to its first send and its TTFT from the
// arrival as well as from the send: a load test that falls behind its
// schedule shows it, and the comparison with a simulation, whose TTFT runs
// from the arrival, uses the former. Prompts are built when a request is
// sent (liverun.Plan.TokensOf, from 4 bytes per block of plan), so what is
// held follows the requests in flight, not the trace. Each request is routed by the same
// route.Router the simulator uses, fed the driver's clock (nondecreasing,
// under one lock), the request as server-block chains, and a Completion for
// every routed attempt (failed ones with Failed set, so load counters drop
// and lbgr does not learn from them). llmd's scrape instants (NextObserve)
// are honoured on every call.
//
// route.Cluster is implemented from what the driver knows: Waiting and Usage
// from the latest /metrics reading (without one: the driver's in-flight
// count and the model's pinned share), Match from the workers' KV-event
// mirrors when Config.KVEvents is on (see "KV events" below), else from
// kvscope's own model of each worker's cache. Choice: precise=true routers
// are not refused without events; they read that model, which is what an
// operator running kvscope's router in front of servers that publish no
// events would have. The model inserts a request's blocks when it is sent and holds them
// until it ends (the server counts running requests' blocks as cached), then
// stamps them (kvcache.Complete); its policy is Config.ModelEvict
// (server_lru, the llm-d-inference-sim/vLLM rule, by default; lru for
// sglang). A failed attempt's new blocks are forgotten at once
// (kvcache.Forget: leaf first, unless another request holds or extends
// them): the server most likely never kept them, and kept they made the
// model drift after retries. Otherwise it assumes every sent request
// reached the worker's cache, and a worker that recovers from a refused or
// dropped connection starts with an empty model (it most likely
// restarted). Each record carries the model's prediction for the
// serving worker at send time (ModelCachedTokens): with concurrency 1 on
// llm-d-inference-sim this is the comparison the tests make.
//
// Every request ends Completed, Failed (with its last attempt's reason),
// TimedOut (its last attempt stalled or hit the timeout) or Cancelled (the
// run's context ended first), and Completed + Failed + TimedOut + Cancelled
// = Requests. Faults: a refused connection, 5xx, 429, a stall (no first
// token within FirstTokenTimeout, no chunk within StallTimeout), the
// whole-request Timeout, a stream cut before [DONE] and a capacity
// rejection in the stream are retried up to Config.Retries times with
// doubling Backoff, or after the server's Retry-After when longer (capped
// at a minute); 4xx, bad JSON and refused redirects are not. The
// first-token deadline holds until a chunk carries output: chunks without
// a token (an empty delta, a usage-only or role chunk) arrive during
// prefill and do not switch the watchdog to the shorter stall timeout.
//
// Failures are routed around as production routers do (breaker.go). A
// retry goes to the router's next choice (route.Decision.Ranked: its
// scores in the direction its rule prefers) among the workers in routing
// that have not failed this request, and only back to one that has when
// none is left (never, for a capacity rejection). A per-worker circuit
// breaker opens after Config.BreakerFailures consecutive 5xx, stalls,
// timeouts, cuts or connection errors (a refused connection opens it at
// once; a stall, timeout or cut also when a health probe then fails); the
// worker is out of routing, GET /health is probed every ProbeInterval
// after a cool-down that doubles with each reopening (up to 32×), and a
// worker that answers comes back half-open: one request at a time, the
// first success closes the breaker, a failure reopens it. While a worker
// is out, the router's choice of it goes down the same order (the router
// is told its choice completed as failed, and the record keeps both:
// Routed and Worker). Every such decision is in the record's Why. When
// no worker is left, the attempt's error names
// every worker's URL and the error that took it out (an unknown CA, http
// spoken to https, a refused port), never a bare "no healthy worker".
//
// # KV events (kvevents.go, mirror.go)
//
// With Config.KVEvents (the CLI's --kv-events), one per worker in worker
// order, the driver subscribes to each worker's KV cache events over
// ZeroMQ (github.com/go-zeromq/zmq4, a SUB socket subscribed to every
// topic): "bind:tcp://HOST:PORT" binds the endpoint, for
// llm-d-inference-sim, whose publisher dials its --zmq-endpoint (v0.10.2
// pkg/common/publisher.go; one endpoint per simulator, since every local
// simulator publishes on the same topic kv@<POD_IP>@<model>);
// "connect:tcp://HOST:PORT" connects, for vLLM, whose publisher binds
// (--kv-events-config endpoint, tcp://*:5557 by default). A message is
// [topic, 8-byte big-endian sequence number, msgpack KVEventBatch [ts,
// events, dp_rank?]]; events are BlockStored, BlockRemoved and
// AllBlocksCleared, as tagged arrays (vLLM's default) or maps with a
// "type" key (llm-d-inference-sim --use-vllm-map-event-format); hashes of
// any integer width are accepted (github.com/vmihailenco/msgpack/v5).
// A message that does not decode is skipped whole and counted (Bad, with
// the first reason), never a panic.
//
// Each worker's Mirror keeps the hashes present and, from BlockStored's
// token ids, the hash of each (parent hash, block tokens), kept after
// removal, so a prompt (liverun.Plan.Tokens) is walked block by block to
// the server's hashes at the driver's server block size. A sequence
// number that goes back (a new publisher) or AllBlocksCleared is a
// restart: the mirror empties and counts it; a jump forward is a gap
// (events lost, counted with the messages missed). Gaps of a restarted
// publisher whose first messages were lost are only a gap when their
// numbers are above the last seen: such a restart is caught by the driver
// (refused connections) but not by the mirror.
//
// Uses: each record's MirrorCachedTokens is the mirror's prediction for the
// serving worker at send time with llm-d-inference-sim's counting rule
// (every prompt block present in the cache, not only a leading prefix).
// It is a best effort: events travel apart from the responses, so the
// previous request's may not be in yet (the tests check the mirror itself
// exactly, by replaying its event log offline). clusterView.Match reads the
// leading run of present blocks from the mirror instead of the model, so
// precise=true routers (and llmd) route on the workers' true caches, as
// they read the simulator's truth offline. Word prompts (ClientConfig.Words)
// are tokenized by the server, so the mirror cannot walk them: no
// prediction, no correction of the model, and Match stays on the model.
// The model is corrected from the mirror (see "Correcting the model"
// below). Events published before a simulator's
// publisher connects (it dials every second) are lost, so before the
// first request the driver waits up to Config.KVConnectWait (3 s) for
// every publisher: a bound endpoint listens through kvscope's own zmq4
// tcp transport ("kvscope-tcp"), whose listener reports each accepted
// connection (counted: a reconnection means the server most likely
// restarted); one still missing then is marked late in the result. A
// server that published before kvscope listened shows a gap before the
// first message: the blocks it held are unknown until stored again.
// Found in trials: llm-d-inference-sim v0.10.2's publisher (zmq4 v0.17.0
// with automatic reconnection) reconnects to a second kvscope process
// binding its endpoint, but not reliably to a third (it connects and sends
// nothing, or does not connect): run kvscope once per simulator start;
// the report names a worker that served requests without sending events.
// Snapshots carry each mirror's blocks and restarts (WorkerSnapshot) for
// the explorer; the result, each worker's MirrorResult; the report, the
// mirror's hit ratio beside the others.
//
// # Streaming (RunStream)
//
// RunStream reads its Source (a trace.Stream) as it sends: request k+1 is
// read, planned (liverun.Plan.Add: its blocks' per-run indices) and waits
// for its arrival and a free slot only once request k has been sent, so
// the driver holds the requests in flight (at most Config.Concurrency)
// and that one, each released when it ends; what stays per request is its
// Record. Run, for a loaded trace (the explorer, tests), is RunStream over
// a slice. What still grows with the run, not the trace: the records of the
// requests sent, the plan's per-run index of each distinct trace block sent
// (a map entry and a first-token entry, about 80 bytes), the stream's block
// table (its ids read so far), and, unless recycled (ids.go), the model's
// block table and the model caches' arrays indexed by its dense ids. With
// Config.KeepPlan (the CLI's --compare-evict, the explorer) every request
// reached is kept in the Result's Plan, as the comparison simulates them.
// A run that stops early (duration, Ctrl-C) holds and writes no record for
// the requests it never reached: they are counted (Result.NotSent), from
// Config.Expect when a first pass counted the trace (the CLI's: it also
// checks the whole trace, so a bad record stops the command before
// anything is sent), else by reading the rest. The progress line's total
// and ETA come from Config.Expect.
//
// # Correcting the model (correct.go)
//
// The model stays a model of the eviction policy: it is what kvscope's
// policy would hold given the requests sent, and the comparison is of that
// policy with the server's. What the driver cannot see is corrected from
// the mirror; what the policy decides is not. "Corrected" means, at each
// attempt's send (begin, under the driver's lock, before the model's
// prediction), for the worker it goes to:
//
//   - A restart the mirror told (AllBlocksCleared, or a publisher's
//     sequence numbers starting again) renews the model: the old server's
//     blocks are gone. Then the attempts sent to the worker since the
//     restart that did not fail are put back (the mirror learns of a
//     restart only from the new server's first message, after its first
//     requests; the restart's time is the new publisher's connection when
//     kvscope accepted it after the old one's last message, else the
//     message that told it; at most replayHorizon, 2 minutes, back). A
//     model started afresh after the old server's last message (a rejoin
//     after refused connections, above) is not renewed again.
//   - The blocks of the attempt's chain that the model holds, from the
//     deepest up, are removed while each is an unpinned leaf of the model
//     that the mirror says the server does not hold (removed, or never
//     stored) and that no request on the worker completed in the last
//     recentFor (2 s: the simulator flushes its batch of events every
//     second, so a block just stored may not be in the mirror yet; a
//     running request's blocks are pinned). A block the mirror cannot
//     name (its tokens stored under several hashes) stops the walk.
//   - Blocks the mirror holds and the model lacks are not added: the
//     model is a prefix tree, and the server keeps blocks whose prefix it
//     evicted, which the tree cannot hold; adding what the server kept and
//     the policy dropped would make the model copy the server's evictions
//     and hide the policy's difference that the comparison is there to
//     show; and room for them would have to be made by evictions of the
//     policy's choosing. They are counted (LackedBlocks).
//
// Only a mirror in step corrects: one that has received every message its
// server's publisher sent since it started (or since AllBlocksCleared).
// A gap in the sequence numbers, a bad message, or no message yet stops
// the corrections of that worker until its next restart (counted as
// Unsynced attempts), since a block whose BlockStored was lost would look
// absent. What is corrected in a run is in each worker's
// MirrorResult.Correction (removed, lacked, clears, cleared blocks,
// replayed requests, unsynced attempts) and the report's KV events
// section: on a run without failures or restarts the removals measure how
// far the policy's evictions stray from the server's (tie order, the
// server's evictions of non-leaf blocks). Config.NoModelCorrection turns
// it off. Failed attempts' blocks are still forgotten at once (above):
// the mirror says the same a moment later, and the forgetting also works
// without events.
//
// # Cancellation and panics
//
// When Run's context ends (Ctrl-C in the CLI, the explorer closing), no
// further request is sent, the requests in flight are cut, and every
// unfinished request ends Cancelled: "run cancelled before sending" (Attempts
// 0: dispatched, not yet sent), "before a retry", or "in flight" (attempt
// kind "cancelled"); the requests not yet reached are counted in NotSent. A
// cancelled attempt is neither the worker's failure nor a reason to probe
// it, and Cancelled requests are not in FailReasons. Run still returns the
// Result, with Interrupted set, Sent (the requests sent at least once) and
// InterruptCause, together with an error wrapping ctx.Err(): a cancelled
// run is never mistaken for a clean one. SentWorkload is the model trace of
// the sent requests only, which the comparison simulates. After the
// requests, the workers' /metrics are read until their counters settle, at
// most 3 s in all (all workers at once); a cancelled run reads each worker
// once and does not wait.
//
// A panic in the driver's goroutines (serving a request, dispatching,
// probing, scraping) or in what they call (the router, the model of a
// worker's cache) is recovered: the run stops and Run returns a
// *PanicError naming the router, the model's eviction and the request's
// trace index, with the stack, and no Result. The process does not crash;
// the explorer shows the error's one line as the live run's failure.
//
// # Security
//
// API keys come from the environment or a file only (the CLI's --api-key-env,
// --api-key-file) and live in a Secret, which prints and marshals as
// "[redacted]". The key is sent as a bearer token only to the configured
// workers' scheme://host:port; the HTTP client refuses any redirect that
// leaves that origin, and ignores proxy settings from the environment. Error
// bodies and transport errors are scrubbed of the key before they become
// reasons, so no record, log line or report holds it. Worker URLs with user
// information are refused. https workers use the system roots or
// ClientConfig.TLS (the CLI's --ca-file).
//
// # Streaming API (for the explorer)
//
// Config.Updates, when set, receives an Update per finished request (Record,
// sent blocking: a consumer that stops reading stalls the driver's
// bookkeeping, not its timing of sends, which happen in their own
// goroutines) and a Snapshot every Config.SnapshotEvery (per worker: health,
// in flight, completed, failed, hit ratio so far, the latest /metrics usage
// and queue; dropped when the channel is full). The driver never closes the
// channel; close it after Run returns. A TUI runs Run in a tea.Cmd and
// forwards updates as messages:
//
//	ch := make(chan live.Update, 256)
//	go func() { res, err := live.Run(ctx, tr, reqs, live.Config{..., Updates: ch}); close(ch); done <- … }()
//	for u := range ch { program.Send(u) }
//
// # Report
//
// The report that sets a live run beside the same requests simulated is
// analysis.LiveReport (analysis renders every report): SummarizeLive,
// LiveModelScenario (the run's router, the given eviction and optional
// gpuprofile, one worker per attached worker with the smallest attached
// cache, the run's time scale, oversize=fail), CompareLive and its JSON and
// Markdown writers. The CLI runs sim.Simulate on Result.SentWorkload (the
// requests as sent: whole blocks at the server's page size, the trace's
// outputs), which needs the plan kept (Config.KeepPlan).
//
// # Tests against a real server
//
// The *RealServer* tests start llm-d-inference-sim v0.10.2 (built by
// .ci/live-sim/build.sh into ~/.cache/kvscope, or $KVSCOPE_LLMD_SIM) on
// free 127.0.0.1 ports and skip with a logged reason when it is missing,
// unless KVSCOPE_REQUIRE_EXTERNAL=1.
package live
