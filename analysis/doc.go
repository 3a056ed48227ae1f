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
// (plan.go, `kvscope plan`): per scenario the smallest number of workers,
// or the cheapest GPU × workers, whose SLO metrics meet every bound, found
// by a galloping search and bisection over simulated runs with the
// monotonicity checked at the probed counts; its cells (scenario × GPU ×
// workers × seed) are independent runs on the comparisons' pool, or on any
// PlanOptions.Runner. Default GPU prices (plan_prices.go) cite their
// source; --cost overrides them. Also the validation of the vllm latency
// model against a measured inference-perf run (validate*.go: the run
// regenerated from its configuration, simulated on one vLLM worker, beside
// analysis/measured's lifecycle metrics, with the metric definitions and
// the calibration written there).
//
// analysis reads results of replay; it never renders a terminal pane and
// must not import charm or other terminal code. It reads live runs through
// their result types (liverun), never the HTTP driver: no package of this
// module that it depends on imports net/http (internal/testenv checks).
// Report files are written whole or not at all (Report.WriteFile,
// LiveReport.WriteFile, through internal/atomicfile).
package analysis
