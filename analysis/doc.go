// Package analysis turns runs into answers: the metrics of SPEC §9 for runs
// and sets of runs (percentiles by nearest rank, imbalance, intervals over
// seeds, paired comparisons), the empirical competitive ratios of a timed
// run (Ratios: each worker's prefill-start-ordered sequence, from
// sim.Run.Sequences, replayed by replay/seq after the run and cancellable
// through its context) beside SPEC §6's bounds (replay/bounds: a package
// of its own because replay/seq's results carry them too), the lower bound
// on max_load_s, sweeps, and the comparison reports (Markdown, HTML, JSON,
// CSV) and the report that sets a live run (replay/live/liverun's results)
// beside the same requests simulated (the requests it sent: an interrupted
// run is compared on those only, and its cancelled requests are counted
// apart from its failures), and the capacity-planning report of the
// tree-LRU hit-ratio curve (replay/curve): knees, GPU × model × TP
// capacities from gpuprofile's catalogue, and opt, the Belady bound and rlt
// replayed at chosen capacities (report_curve*.go), and the fleet planner
// (plan*.go, `kvscope plan`; the search in plan_search.go, the result and
// the choice among GPUs in plan_result.go): per scenario the smallest
// number of workers, or the cheapest GPU × workers, whose SLO metrics meet
// every bound, found
// by a galloping search and bisection over simulated runs with the
// monotonicity checked at the probed counts; its cells (scenario × GPU ×
// workers × seed) are independent runs on the comparisons' pool, or on any
// PlanOptions.Runner. Default GPU prices (plan_prices.go) cite their
// source; --cost overrides them. Also the validation of the vllm latency
// model against a measured inference-perf run (validate*.go: the run
// regenerated from its configuration, simulated on one vLLM worker, beside
// analysis/measured's lifecycle metrics, with the metric definitions and
// the calibration written there).
// Sweeps that scale out: a comparison cut into cells (ComparePlan), one
// result file per cell through an exact JSON codec, and the merge that
// assembles the same comparison from them (sweepcells.go, cellcodec.go;
// the spec hash is described there).
//
// A live run's series and events as the explorer draws them while it
// records the run (live_series.go: LiveSeriesOn on a grid of instants,
// LiveEvents from the records and snapshot points) are computed here too,
// so the explorer decides nothing about the responses' cached tokens.
//
// Streamed runs (issue 18). SummaryStream summarises a run that
// sim.SimulateStream reads from the trace as its clock goes: a Tally takes
// each record as it is retired (in trace order), keeping three values per
// request for exact percentiles (24 bytes a request, spilled past a
// budget: below) or, with
// NewSketchTally (`run --percentiles sketch`), only sketches (below), and
// the max_load_s bound's boundTally takes the same records in arrival
// order. What a streamed run holds is then the caches, the routers' own
// state (cache_aware's routing-history trees keep up to max_tree_size
// tokens per worker, 2^26 by default: that, not the trace, is what
// `run cache_aware+lru` grows to on long traces) and the requests in
// flight. Its figures equal Summary's on the same trace, to the byte, as
// long as no block id is recycled; recycling changes nothing for policies
// blind to ids, and under rlt or random_leaf the report says their draws
// may differ (id_recycling).
//
// Figures that need the whole trace (issue 18 point 5):
//   - the max_load_s lower bound (MaxLoadLowerBound) needs "was this block
//     seen before" over every unique block. Exact in a whole run (a bit
//     per dense id) and in a streamed run that recycles no id; once the
//     block table forgets seen ids, they move by original id into a
//     growing Bloom filter (16 MiB, then 128 MiB more once the first
//     fills; 3 hashes), and a dense id the table creates for an original id
//     the filter holds counts as seen (trace.Table.SetOnForget, SetOnNew:
//     the table tells both original ids, so it need not record them). A
//     false positive counts a block as cached, which only lowers that
//     request's cost, so the bound stays a valid lower bound,
//     only looser; the report says so with the filter's estimated
//     false-positive rate (max_load_lower_bound_note).
//   - the competitive ratios against opt and the Belady bound (Ratios,
//     --vs-opt) need each worker's whole sequence and opt's next-use
//     table (4 bytes per block occurrence): exact, held in memory, so
//     --vs-opt runs hold the trace (as do session_timing=closed and
//     keep_outputs, which need later turns: sim.CanStream).
//   - Compare, Plan's own runner, sweeps' plain cells and the explorer
//     hold the trace and the runs' records, event logs and series.
//     Their streamed forms read the trace anew for every run and hold
//     each run's summary: CompareStream (compare_stream.go: everything
//     Compare reports to the bit but the competitive ratios, which it
//     leaves out and its Notes say so; charts through a temporary states
//     spill set; request rows through unlinked files, SpilledRows),
//     ComparePlan.SetStream (a
//     sweep's cells as CompareStream runs them, merged into the same
//     comparison) and StreamPlanRunner (plan_stream.go: Plan's figures to
//     the bit, TPOT values held at 8 bytes a request unless sketched).
//
// Exact percentiles in bounded memory (issue 18 point 2; valuespill.go):
// Tally.SpillValues (on in `kvscope run`'s streamed runs) holds at most
// DefaultSpillValues values (64 MB); past that, each flush sorts every
// per-worker slice and writes it as a sorted run to one temporary file,
// unlinked as soon as it is created so nothing is left behind. Metrics
// walks the merged order of each distribution's runs (summarizeMerged,
// the walk SummarizeSorted does over slices), so every percentile and
// the mean (summed in ascending order, as Summarize sums) are the held
// tally's to the bit (TestSpillValuesMatchesExact): the file costs 24
// bytes a request of disk and about 2 MB of read buffers per
// distribution (1 MB of the file's bytes, 1 MB of their values; 4 KB a
// sorted run at least). A failure to write or read it fails the summary
// (Tally.Err), never shortens it.
//
// Latency percentiles in constant memory (issue 18 point 2; sketch.go):
// Sketch is for a streamed run asked for constant memory, where the TTFT,
// E2E and queueing values cannot all be held for Summarize. It is a
// DDSketch (github.com/DataDog/sketches-go, logarithmic mapping, dense
// stores) at SketchRelativeAccuracy α = 1%, queried at Percentile's own
// nearest rank, so every reported percentile is within α·|exact| of the
// exact nearest-rank value (exact for 0, and clamped to the exact minimum
// and maximum); count and mean are exact (an integer sum of nanoseconds).
// Its Dist depends on the multiset of values only, not their order, and
// sketches merge into the sketch of all their values (per-worker sketches
// into the run's; there is no file encoding yet). It holds about 116
// buckets per decade of latency, whatever the number of values: 6.3 kB for
// 1 ms to 100 s, at most about 18 kB for any positive int64 nanoseconds. A
// report built from sketches says so and gives α (percentiles_note).
//
// Spilled runs (spilled.go): a run on disk (sim.OpenSpill), read lazily so
// the explorer can show a run of millions of requests without holding it.
// SpilledRun carries the files and the run's shape. Exact, to the bit:
// the hit-ratio, queue and in-flight series (the in-memory functions'
// own code over a small states interface: one StateFile.StateAt per
// instant) and, in SpilledMetrics.At, every count (requests, completed,
// failed, in flight, bypassed, failure reasons, per worker), hit tokens
// and blocks, loads, imbalance, makespan and throughput. Sketched (a
// Sketch per TTFT window, NewSketchTally for At; within
// SketchRelativeAccuracy of the exact nearest-rank values, means and
// counts exact; PercentilesNote says so): the TTFT series' medians and
// At's TTFT, E2E and queueing percentiles. What they hold is a sketch per
// window or per worker and distribution, the workers' counts, and
// SpilledMetrics' failure instants, one map entry per failed request
// (read once from the event log). The first At scans the whole records
// file; when their arrivals are in order it also builds checkpoints
// (at most 256 sketch tallies and lists of the requests in flight at
// each: 10.8 MB on a 10-million-request run), from which each later At
// reads only the rows after the last checkpoint at or before its cursor
// (RecordFile.ScanFrom; 7.3 ms a call at late cursors of that run,
// against 862 ms for a scan from the start), with the same RunMetrics to
// the bit; otherwise each At scans from the start. A read error is
// returned, never a shortened figure.
// The spill readers share buffers: one goroutine at a time per open run.
//
// analysis reads results of replay; it never renders a terminal pane and
// must not import charm or other terminal code. It reads live runs through
// their result types (liverun), never the HTTP driver: no package of this
// module that it depends on imports net/http (internal/testenv checks).
// Report files are written whole or not at all (Report.WriteFile,
// LiveReport.WriteFile, through internal/atomicfile).
//
// Charts (report_charts.go) are drawn with gonum/plot as inline SVG, and
// as asciigraph text in Markdown, from one description. Choices:
//   - The legend of an HTML chart is an HTML list under the SVG, not
//     gonum's: gonum measures text with its own font and the browser draws
//     it with another, so a legend inside the SVG ran past its right edge
//     ("vs Belac") and covered the data. A Chromium test measures every
//     chart text against its SVG, and every legend entry against the page,
//     at two widths.
//   - The competitive-ratio chart's y axis fits the points and the H_k
//     curves (ratios near 1 are the usual case) with ticks at 1, 1.5, 2…;
//     k, the deterministic bound, often thousands, is drawn where it falls
//     inside and otherwise named in the legend with its range.
//   - More than four workers' queues are a heat strip (a row per worker,
//     darker for a longer queue; shade characters in Markdown): eight
//     coloured lines could not be told apart.
//   - A sweep's x ticks are the swept values, on a log axis when they
//     span a decade (a doubling sweep is then evenly spaced).
//   - Linear axes are labelled at multiples of 1, 2, 2.5 or 5 × 10^n with
//     the step's decimals, so neighbouring labels differ; text charts use
//     one row per step, whole-number steps for series of counts, and never
//     write "-0".
package analysis
