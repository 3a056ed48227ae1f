// Package tui is kvscope's terminal explorer: a bubbletea v2 program that
// opens a trace, replays it under two to four scenarios in the background,
// and lets a user scrub simulated time, compare the runs side by side, ask
// what-if questions and export the comparison.
//
// The tui owns presentation only. It never simulates and never decides a
// cache question: replays are sim.Simulate calls run in tea.Cmds, metrics
// and series come from package analysis, trace statistics from
// trace.StatsOf, scenario validation from scenario.Parse and
// sim.Resolve, and reports from analysis.Compare and analysis.Report (behind
// the Exporter interface). It must not be imported by replay, analysis or
// gpuprofile.
//
// Layout follows the crush / gh-dash habit: one root Model owns focus,
// layout and message routing; each pane (trace, timeline, workers, compare,
// bounds, request) lives in its own file with SetSize, View, Update and a
// key map implementing help.KeyMap (a scrolling pane embeds scrollBody,
// keys.go, for its size, scroller and, when it has no keys of its own, the
// scroll keys). The panes are one table (panes.go:
// name, constructor, place in the wide and medium grids), so a pane is its
// file plus one table line; panesWith adds one without editing the table
// (tests; no init() registration). layout(specs, w, h, …) computes every
// rectangle from the table and is called on resize and on every toggle.
// Narrow terminals stack the panes in table order: the focused one
// expanded, the others as one-line summaries.
//
// Keys go, in order: to the topmost dialog (the what-if form, the go-to
// and file-name prompts, confirmations, the help overlay, the curve
// overlay, on a stack as in crush),
// which may let a key through (help and the curve do, for keys they do
// not use); to the global key map; to the focused pane, which returns a
// command. Help shows the global keys plus the focused pane's (or those
// of the topmost dialog that has keys: the form, the curve).
//
// Nothing slow runs in Update. Replays stream progress back as messages
// tagged with the scenario's id and generation, so a result for a scenario
// that was edited or removed meanwhile is dropped. Everything a cursor
// position needs is precomputed when a replay finishes (sorted arrivals,
// chart series) or read in O(log n) from the run (runData: sim.Run.StateAt,
// EventIndex, or a spilled run's files); the metrics table at the cursor is memoised per scenario and
// cursor, and rendered charts are cached by size and data version.
//
// A trace given as Config.Load is read behind a loading frame (loading.go):
// the first frame shows at once with the bytes read of the file, its size
// and the rate, and the explorer takes over when the trace lands. A
// replay's progress counts its whole job: the simulation is the first
// half, the competitive-ratio step (each worker's sequence replayed by its
// policy and by opt, and the Belady bound: often as long as the
// simulation) the second, so the percentage does not
// stop at 99% while the ratios run.
//
// Panes read a finished replay through runData (rundata.go), never a
// sim.Run directly: memRun is the whole run held in memory; spilledRun
// (rundata_spilled.go) is a run spilled to disk, read back a few rows at a
// time. Config.Stream (stream.go, `kvscope open TRACE --stream`) opens a
// trace the explorer does not hold: each replay is sim.SimulateStream over
// a fresh read of the trace, written by sim.CreateSpill into a directory of
// its own, and the panes read that. Memory then follows each scenario's
// caches, routers and requests in flight, and a frame costs about the same
// on ten million requests as on ten thousand: state, events, records and
// requests are O(log n) reads, arrivals a binary search over the records
// (a bounded scan of the event log's routings when the records' arrivals
// are not in order), the chart series analysis.SpilledRun's (built once, 240
// points), and the metrics table at the cursor analysis.SpilledMetrics
// (off the event loop, from the last checkpoint before the cursor, on a
// second handle since the spill readers share a buffer; its percentiles
// are sketched, and the pane says so). The trace pane's figures come from
// the first streamed replay to finish (traceSummary). Every worker's
// router score and true cached prefix per request come from the run's
// detail file (sim.SpillWriter.Detail, 8 bytes a worker a request). What
// needs the whole trace is left out and said to be: the competitive
// ratios, the trace statistics over block ids and the curve overlay. The
// report export reads the trace anew for each scenario
// (analysis.CompareStream: no ratios, no statistics; the report's notes
// say so).
// Spilled runs are removed with their scenario (edit, removal, exit)
// unless StreamConfig.Keep.
//
// A replay that fails (bad input found by the simulator, or a panic inside
// it, which sim.Simulate recovers into a *sim.InternalError) marks its
// scenario failed; the others still compare. The reason shows in every
// pane and the status line, whole and wrapped to the pane's width in the
// panes that give a scenario its own lines (slotStatusLines); for a recovered panic it is the short form
// (InternalError.Brief: the request, its place in the trace, the panic
// value), the scenario being the slot's own label.
//
// Choices where the spec is silent:
//
//   - The cursor is one simulated instant shared by every scenario. Step by
//     event walks the selected scenario's event log; step by request walks
//     its arrivals. Until its replay finishes both walk the trace's
//     arrivals.
//   - "The request at the cursor" is the last request that arrived at or
//     before the cursor.
//   - Per-worker prefix matches are shown as the run records them: the
//     true hit on the chosen worker at prefill start, the router's own
//     per-worker scores (matched tokens for cache_aware) and every
//     worker's true cached prefix at the request's arrival (Run.Matches;
//     a streamed run's detail file).
//   - Competitive ratios (bounds pane) are the whole run's sequential
//     replay (SPEC §5), not up to the cursor; the pane says so.
//   - The metrics table at the cursor (analysis.MetricsAt, a few ms on a
//     12k-request run) is computed in a command, one at a time; while it
//     runs the table shows the previous cursor's figures under
//     "updating…". Fast scrubbing coalesces to the latest cursor.
//   - Colors adapt to the terminal background (tea.BackgroundColorMsg);
//     NO_COLOR drops every color (meaning is also carried by glyphs and
//     bold), and bubbletea's renderer downsamples to the terminal profile.
//   - Live workers (Config.Live, `kvscope open TRACE --attach URL`) run
//     replay/live's driver in the background; the workers pane shows its
//     latest snapshot in wall-clock time beside the simulated scenarios.
//     A run that fails (a panic in it included: the driver returns it as an
//     error, and the hook's own panics are recovered here) shows the error
//     wrapped in the pane and "live failed"; an interrupted one shows its
//     result as "interrupted", with its cancelled requests. Run returns
//     the failure (Model.LiveFailure: no result, or none of its requests
//     completed) after the screen closes, so open --attach exits 1 with
//     the cause on stderr; quitting during the run is not a failure.
//     The w key writes, beside the comparison report NAME.EXT, the
//     finished live run beside kvscope's model of the requests it sent
//     (the first scenario's eviction at the live workers' cache size, as
//     `kvscope live --compare-evict`): NAME-live.json for a .json report,
//     NAME-live.md otherwise (live_export.go); a run still going or
//     failed is said on the status line instead.
//     The live run is recorded as it goes (live_history.go: every
//     snapshot and every finished request's record) and the cursor scrubs
//     it, during and after the run: the live driver schedules a request at
//     its arrival × the first scenario's time scale since the run's
//     start, where that scenario's replay puts it, so the cursor's instant
//     is the live run's elapsed time. Inside the recorded time the workers
//     pane adds "L live at cursor": the last snapshot at or before the
//     cursor (one per snapshot interval, a second by default) and the
//     requests completed by the cursor from the records; the compare pane,
//     under its table, the live run up to the cursor in the table's terms
//     (completed, token hit ratio, TTFT p50/p99 from arrival); the request pane
//     shows the live record of the request at the cursor (worker, cached
//     tokens beside the model's, TTFT from send and from arrival, retries,
//     rerouting, lag, the router's why).
//     The span stretches over the recorded live run when it outlasts the
//     model, so its end can be scrubbed too. The compare pane draws the
//     live run's series (analysis.LiveSeriesOn, live_charts.go) as one
//     more line, L, in each chart, with a legend saying what it is: the
//     token hit ratio of the responses' cached_tokens by completion,
//     requests waiting by the workers' /metrics, TTFT p50 from the
//     arrival by first token, and a fourth chart, shown only beside a
//     live run, of requests in flight (sent and not ended, from the
//     records, beside the model's queued + running), with a strip per
//     live worker under it when the chart has the room (c shows it
//     alone). While the run goes the line stops at the cursor or at the
//     latest snapshot; after it, it covers the run.
//     With a live run, L in the timeline switches its list to the live
//     run's events (analysis.LiveEvents, live_timeline.go): sent, retry,
//     first token, complete, fail with its reason, breaker open and
//     closed, KV-event restart; the event keys and v work on them as on
//     a scenario's log. A record carries no end time for a failure, and
//     a worker's health and restarts are seen in snapshots only: those
//     events sit at the snapshot that first showed them, marked ≤. The
//     series and the event list are recomputed once per snapshot and at
//     the run's end (the recording's version), never per frame or per
//     record: for a 12k-request run that is about 3.7 ms of CPU for the
//     series and 10 ms for the events (only while the timeline lists
//     them); moving the cursor costs a pass over the 240 grid points.
//   - The curve overlay (C, overlay_curve.go) is a dialog showing the
//     loaded trace's tree-LRU hit-ratio curve (analysis.NewCurveReport,
//     hit-only replay, computed in a command once per
//     workers/router/unit/seed and kept by the root) with the selected
//     scenario's cache size marked; a timed router is replaced by
//     round_robin there, and the overlay says so, as it says when the
//     scenario's policy is not lru. esc, C or q close it; other keys go
//     through, so ] and [ switch the scenario it shows. It reads the
//     selected scenario when it draws, and Update starts that scenario's
//     curve when it is not known (refreshCurve, as refreshMetrics), so a
//     scenario edited or removed under it shows its own curve.
//   - Durations have one format (fmtDur/fmtMs in render.go): the unit
//     follows the magnitude (ms, s, min, h), so an hour-long TTFT reads
//     "2.25 h", not "8115355.7 ms"; the timeline writes minutes and hours
//     as 1h02m03.456s, to the millisecond, so neighbouring events differ.
//   - Nothing that cannot be undone happens on one key: x asks before it
//     removes a scenario; w asks for the report's file name (the last one
//     prefilled, --export's at first) and, when that file exists, whether
//     to overwrite it. Both are dialogs on the stack (dialog.go).
//   - A pane whose content does not fit says so in its bottom edge (lines
//     above and below, and the keys that scroll), so the Compare pane's
//     charts under its table at 80×24 are found.
//   - The simulator routes a request the instant it arrives and logs no
//     separate arrival entry, so the timeline's "arrivals only" filter
//     keeps the routed entries (and the fail entries of requests refused
//     on arrival); a filter that matches nothing near the cursor says
//     "none" and why.
//   - The form's text fields are a small line editor (input.go):
//     bubbles/v2's textinput imports github.com/atotto/clipboard, which
//     go.mod does not carry.
package tui
