package analysis

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/kvscope/kvscope/replay/live/liverun"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
)

// LiveLatencyNote labels every latency figure of a live report.
const LiveLatencyNote = "latencies depend on the workers; against llm-d-inference-sim (whose latencies are its flags) they check plumbing only"

// LiveReport is a live run set beside the same workload simulated.
type LiveReport struct {
	Live *liverun.Result `json:"live"`
	// LiveSummary are the live run's figures in the model's terms.
	LiveSummary LiveSummary `json:"live_summary"`
	// Model is the simulation of the same requests (nil when not asked).
	Model *LiveModel `json:"model,omitempty"`
	// Rows are the per-metric differences, live − model.
	Rows        []LiveRow `json:"rows,omitempty"`
	LatencyNote string    `json:"latency_note"`
	// Command is the command line that produced the report, if known.
	Command string `json:"command,omitempty"`
}

// LiveSummary is a live run reduced to the metrics a simulation also gives.
type LiveSummary struct {
	// Counts are the run's own (liverun.Result.Counts).
	liverun.Counts
	// TokenHitRatio from the responses (Σ cached / Σ prompt tokens over
	// completed requests), from /metrics (workers with counters only), and
	// kvscope's model of the workers fed the live order.
	TokenHitRatio        float64 `json:"token_hit_ratio"`
	MetricsTokenHitRatio float64 `json:"metrics_token_hit_ratio"`
	HasMetrics           bool    `json:"has_metrics"`
	ModelTokenHitRatio   float64 `json:"model_token_hit_ratio"`
	// CachedReported counts the completed requests whose responses
	// carried cached tokens (vLLM sends them only with
	// --enable-prompt-tokens-details); the response and model ratios cover
	// those requests alone. CachedMissing: none did, so the response ratio
	// is unknown and the /metrics ratio stands in for it.
	CachedReported int  `json:"cached_reported"`
	CachedMissing  bool `json:"cached_missing"`
	// Attempts counts every attempt sent (retries and failed ones
	// included): what the servers' /metrics counters cover.
	Attempts int `json:"attempts"`
	// CounterResets sums the workers' /metrics counter resets (restarts).
	CounterResets int `json:"counter_resets"`
	// HasMirror is set when the run consumed the workers' KV events and
	// could walk its prompts (liverun.Result.KVWalk); MirrorTokenHitRatio
	// is then Σ the mirror's send-time predictions / Σ prompt tokens over
	// the completed requests, MirrorAgreement the share of those whose
	// prediction equals the response's cached_tokens (among those that
	// reported them), and the counts sum the workers' mirrors.
	HasMirror           bool    `json:"has_mirror"`
	MirrorTokenHitRatio float64 `json:"mirror_token_hit_ratio"`
	MirrorAgreement     float64 `json:"mirror_agreement"`
	MirrorRestarts      int     `json:"mirror_restarts"`
	MirrorGaps          int     `json:"mirror_gaps"`
	MirrorBad           int     `json:"mirror_bad_messages"`
	// ModelCorrected is set when kvscope's model was corrected from the
	// mirrors (replay/live's doc, "Correcting the model"); ModelCorrection
	// sums the workers' corrections.
	ModelCorrected  bool                    `json:"model_corrected"`
	ModelCorrection liverun.ModelCorrection `json:"model_correction"`
	// Coverage says, for each hit ratio above, which requests it covers.
	Coverage LiveCoverage `json:"coverage"`
	// PerRequestAgreement is the share of completed requests whose cached
	// tokens equal the model's prediction (among those that reported them).
	PerRequestAgreement float64 `json:"per_request_agreement"`
	// TTFT and E2E are from send (the last attempt's); TTFTFromArrival
	// from the scheduled arrival (lag and retries included: what a
	// simulation's TTFT measures); Lag is arrival → first send over the
	// requests sent.
	TTFT            Dist      `json:"ttft_ms"`
	E2E             Dist      `json:"e2e_ms"`
	TTFTFromArrival Dist      `json:"ttft_from_arrival_ms"`
	Lag             Dist      `json:"lag_ms"`
	ThroughputRPS   float64   `json:"throughput_rps"`
	WorkerHitRatio  []float64 `json:"worker_hit_ratio"`
	WorkerRequests  []int     `json:"worker_requests"`
}

// LiveCoverage names the requests behind each live hit ratio: they differ
// as soon as a request fails or is retried (/metrics counts every attempt
// that reached a server, responses only the completed requests).
type LiveCoverage struct {
	Responses string `json:"responses"`
	Metrics   string `json:"metrics"`
	Model     string `json:"model"`
	Mirror    string `json:"mirror,omitempty"`
}

// LiveModelOf takes what the live report needs from a simulated run's
// metrics.
func LiveModelOf(scenario string, m RunMetrics) LiveModel {
	lm := LiveModel{Scenario: scenario, Requests: m.Requests, Completed: m.Completed, Failed: m.Failed,
		TokenHitRatio: m.TokenHitRatio, ThroughputRPS: m.ThroughputRPS, TTFT: m.TTFT, E2E: m.E2E}
	for _, w := range m.WorkerMetrics {
		lm.WorkerHitRatio = append(lm.WorkerHitRatio, w.TokenHitRatio)
		lm.WorkerCompleted = append(lm.WorkerCompleted, w.Completed)
	}
	return lm
}

// LiveModel is the simulated run a live run is set beside: what the caller
// (the CLI) takes from sim.Simulate and Summary (LiveModelOf), on the live
// run's liverun.Result.SentWorkload (the requests it sent).
type LiveModel struct {
	Scenario string `json:"scenario"`
	// Requests is how many requests were simulated: the live run's Sent.
	Requests        int       `json:"requests"`
	Completed       int       `json:"completed"`
	Failed          int       `json:"failed"`
	TokenHitRatio   float64   `json:"token_hit_ratio"`
	WorkerHitRatio  []float64 `json:"worker_hit_ratio"`
	WorkerCompleted []int     `json:"worker_completed"`
	TTFT            Dist      `json:"ttft_ms"`
	E2E             Dist      `json:"e2e_ms"`
	ThroughputRPS   float64   `json:"throughput_rps"`
}

// LiveRow is one metric, live beside model.
type LiveRow struct {
	Metric string  `json:"metric"`
	Live   float64 `json:"live"`
	Model  float64 `json:"model"`
	// Diff is live − model; Rel is Diff / model (0 when model is 0).
	Diff float64 `json:"diff"`
	Rel  float64 `json:"rel"`
	Note string  `json:"note,omitempty"`
}

// Summarize reduces a live run to its summary.
func SummarizeLive(res *liverun.Result) LiveSummary {
	s := LiveSummary{Counts: res.Counts}
	var prompt, cached, model int64
	var mq, mh float64
	var ttft, e2e, ttftArr, lag []float64
	agree := 0
	var mPrompt, mCached int64
	mAgree, mReported := 0, 0
	first, last := math.Inf(1), math.Inf(-1)
	for _, r := range res.Records {
		s.Attempts += r.Attempts
		if r.Attempts > 0 {
			lag = append(lag, r.LagMs)
		}
		if r.Status != liverun.Completed {
			continue
		}
		ttftArr = append(ttftArr, r.TTFTFromArrivalMs)
		if r.MirrorKnown {
			mPrompt += int64(max(r.PromptTokens, r.SentTokens))
			mCached += int64(r.MirrorCachedTokens)
			if r.CachedKnown {
				mReported++
				if r.CachedTokens == r.MirrorCachedTokens {
					mAgree++
				}
			}
		}
		if r.CachedKnown {
			s.CachedReported++
			prompt += int64(r.PromptTokens)
			cached += int64(r.CachedTokens)
			model += int64(r.ModelCachedTokens)
			if r.CachedTokens == r.ModelCachedTokens {
				agree++
			}
		}
		ttft = append(ttft, r.TTFTMs)
		e2e = append(e2e, r.E2EMs)
		first = math.Min(first, r.ArrivalMs)
		last = math.Max(last, r.SentMs+r.E2EMs)
	}
	s.HasMetrics = len(res.Workers) > 0
	for _, w := range res.Workers {
		s.WorkerHitRatio = append(s.WorkerHitRatio, w.HitRatio)
		s.WorkerRequests = append(s.WorkerRequests, w.Completed)
		if w.Mirror != nil {
			s.MirrorRestarts += w.Mirror.Restarts
			s.MirrorGaps += w.Mirror.Gaps
			s.MirrorBad += w.Mirror.Bad
			s.ModelCorrection.Add(w.Mirror.Correction)
		}
		if !w.HasMetrics {
			s.HasMetrics = false
			continue
		}
		mq += w.MetricsQueried
		mh += w.MetricsHit
		s.CounterResets += w.CounterResets
	}
	s.TokenHitRatio = ratioF64(float64(cached), float64(prompt))
	s.ModelTokenHitRatio = ratioF64(float64(model), float64(prompt))
	s.MetricsTokenHitRatio = ratioF64(mh, mq)
	s.PerRequestAgreement = ratioF64(float64(agree), float64(s.CachedReported))
	s.CachedMissing = s.Completed > 0 && s.CachedReported == 0
	s.HasMirror = res.KVWalk
	s.ModelCorrected = res.ModelCorrected
	s.MirrorTokenHitRatio = ratioF64(float64(mCached), float64(mPrompt))
	s.MirrorAgreement = ratioF64(float64(mAgree), float64(mReported))
	s.Coverage = liveCoverage(s)
	s.TTFT = Summarize(ttft)
	s.E2E = Summarize(e2e)
	s.TTFTFromArrival = Summarize(ttftArr)
	s.Lag = Summarize(lag)
	if s.Completed > 0 && last > first {
		s.ThroughputRPS = float64(s.Completed) / ((last - first) / 1000)
	}
	return s
}

func liveCoverage(s LiveSummary) LiveCoverage {
	var c LiveCoverage
	switch {
	case s.CachedMissing:
		c.Responses = "unknown: no response carried cached_tokens (vLLM needs --enable-prompt-tokens-details)"
	case s.CachedReported < s.Completed:
		c.Responses = fmt.Sprintf("the %d of %d completed requests whose responses carried cached_tokens", s.CachedReported, s.Completed)
	default:
		c.Responses = fmt.Sprintf("the %d completed requests", s.Completed)
	}
	if s.HasMetrics {
		c.Metrics = fmt.Sprintf("every attempt the servers counted (%d sent, retries and failed attempts included)", s.Attempts)
		if s.CounterResets > 0 {
			c.Metrics += fmt.Sprintf("; counters reset %d× (a server restarted): summed as Prometheus's increase(), what was counted between the last reading and a restart is missing", s.CounterResets)
		}
	} else {
		c.Metrics = "none: some worker's /metrics lacked the prefix-cache counters or could not be read"
	}
	if s.HasMirror {
		c.Mirror = fmt.Sprintf("the %d completed requests, each predicted at send time from the serving worker's KV events received by then "+
			"(a best effort: events travel apart from the responses)", s.Completed)
	}
	c.Model = "the same requests as the responses' ratio"
	if s.CachedMissing {
		c.Model = "none: it is compared per request with the responses' cached_tokens, and none came"
	}
	return c
}

// LiveModelScenario is the scenario a live run is compared with: the run's
// router, eviction evict, one worker per attached worker with the live cache
// size (server blocks, the model trace's unit), the run's time scale, and
// oversize=fail (a server fails a request that does not fit). profile, if
// given, selects the engine latency model.
func LiveModelScenario(res *liverun.Result, evict, profile string, seed uint64) (scenario.Scenario, error) {
	base := scenario.Default(param.Spec{}, param.Spec{})
	base.Workers = len(res.Workers)
	capBlocks := int64(0)
	for _, w := range res.Workers {
		if capBlocks == 0 || w.CacheBlocks < capBlocks {
			capBlocks = w.CacheBlocks // workers of different sizes: the smallest
		}
	}
	base.Capacity = int(capBlocks)
	base.Unit = scenario.Blocks
	base.TimeScale = res.TimeScale
	base.Seed = seed
	base.Oversize = scenario.OversizeFail
	if profile != "" {
		base.Profile = profile
		base.Latency = param.Spec{Name: "engine"}
	}
	s := fmt.Sprintf("%s+%s", res.Router, evict)
	sc, err := scenario.Parse(s, base)
	if err != nil {
		return scenario.Scenario{}, err
	}
	return sc, nil
}

// CompareLive sets the live run beside m (the requests it sent,
// liverun.Result.SentWorkload, simulated under LiveModelScenario) and lists per
// metric live, model, live − model and the relative difference. Non-finite
// model figures (a simulation where nothing completed) count as 0. An
// interrupted run gets a "cancelled after sending" row: requests it sent but
// did not see end, which the model serves.
func CompareLive(res *liverun.Result, m LiveModel) *LiveReport {
	rep := &LiveReport{Live: res, LiveSummary: SummarizeLive(res), LatencyNote: LiveLatencyNote}
	m.TokenHitRatio = liveFinite(m.TokenHitRatio)
	m.ThroughputRPS = liveFinite(m.ThroughputRPS)
	for _, d := range []*Dist{&m.TTFT, &m.E2E} {
		d.P50, d.P90, d.P99, d.Mean = liveFinite(d.P50), liveFinite(d.P90), liveFinite(d.P99), liveFinite(d.Mean)
	}
	for i := range m.WorkerHitRatio {
		m.WorkerHitRatio[i] = liveFinite(m.WorkerHitRatio[i])
	}
	rep.Model = &m
	ls := rep.LiveSummary
	add := func(name string, lv, model float64, note string) {
		// An empty distribution (nothing completed) reads as 0 here.
		lv, model = liveFinite(lv), liveFinite(model)
		r := LiveRow{Metric: name, Live: lv, Model: model, Diff: lv - model, Note: note}
		if model != 0 {
			r.Rel = r.Diff / model
		}
		rep.Rows = append(rep.Rows, r)
	}
	add("completed", float64(ls.Completed), float64(m.Completed), "")
	add("failed (incl. timed out)", float64(ls.Failed+ls.TimedOut), float64(m.Failed), "")
	if ls.Interrupted {
		cut := ls.Sent - ls.Completed - ls.Failed - ls.TimedOut
		add("cancelled after sending", float64(cut), 0, "run interrupted: sent, never ended; the model serves them")
	}
	if !ls.CachedMissing {
		add("token hit ratio (responses)", ls.TokenHitRatio, m.TokenHitRatio, ls.Coverage.Responses)
	}
	if ls.HasMetrics {
		note := ls.Coverage.Metrics
		if ls.CachedMissing {
			note = "in place of the responses' ratio (" + ls.Coverage.Responses + "); " + note
		}
		add("token hit ratio (/metrics)", ls.MetricsTokenHitRatio, m.TokenHitRatio, note)
	}
	if !ls.CachedMissing {
		add("token hit ratio (kvscope's worker model, live order)", ls.ModelTokenHitRatio, m.TokenHitRatio, "model fed the live routing and order; "+ls.Coverage.Model)
	}
	for i := range min(len(ls.WorkerHitRatio), len(m.WorkerHitRatio), len(m.WorkerCompleted)) {
		add(fmt.Sprintf("worker %d token hit ratio", i), ls.WorkerHitRatio[i], m.WorkerHitRatio[i], "")
		add(fmt.Sprintf("worker %d requests", i), float64(ls.WorkerRequests[i]), float64(m.WorkerCompleted[i]), "")
	}
	// The model's TTFT runs from the arrival, so the live side is taken
	// from the scheduled arrival too (the driver's lag included).
	lat := "latency: plumbing only against a simulator"
	add("TTFT p50 ms (from arrival)", ls.TTFTFromArrival.P50, m.TTFT.P50, lat)
	add("TTFT p90 ms (from arrival)", ls.TTFTFromArrival.P90, m.TTFT.P90, lat)
	add("TTFT p99 ms (from arrival)", ls.TTFTFromArrival.P99, m.TTFT.P99, lat)
	add("TTFT mean ms (from arrival)", ls.TTFTFromArrival.Mean, m.TTFT.Mean, lat)
	add("E2E p50 ms", ls.E2E.P50, m.E2E.P50, lat)
	add("E2E p99 ms", ls.E2E.P99, m.E2E.P99, lat)
	add("throughput req/s", ls.ThroughputRPS, m.ThroughputRPS, lat)
	return rep
}

func liveFinite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// NewLiveReport is a report of the live run alone (no model side).
func NewLiveReport(res *liverun.Result) *LiveReport {
	return &LiveReport{Live: res, LiveSummary: SummarizeLive(res), LatencyNote: LiveLatencyNote}
}

// WriteJSON writes the report as indented JSON. The API key is never in it:
// the Result holds no key, and reasons were scrubbed when recorded.
func (r *LiveReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as Markdown: the run, what failed and
// why, per-worker hit ratios from responses and from /metrics, and the
// comparison with the model.
func (r *LiveReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	res, s := r.Live, r.LiveSummary
	fmt.Fprintf(&b, "# kvscope live run\n\n")
	if r.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", r.Command)
	}
	fmt.Fprintf(&b, "- started %s, %.1f s; API %s; router `%s`; model of the workers' caches: `%s`\n",
		res.Started.Format("2006-01-02 15:04:05Z"), res.DurationS, res.API, res.Router, res.ModelEvict)
	fmt.Fprintf(&b, "- time scale %g, concurrency %d, retries %d; trace blocks of %d tokens, server blocks of %d\n",
		res.TimeScale, res.Concurrency, res.Retries, res.TraceBlockSize, res.ServerBlockSize)
	fmt.Fprintf(&b, "- requests %d: completed %d, failed %d, timed out %d, cancelled %d\n", res.Requests, res.Completed, res.Failed, res.TimedOut, res.Cancelled)
	fmt.Fprintf(&b, "- partial last blocks dropped: %d (%d tokens not sent); %d distinct blocks sent\n",
		res.DroppedPartial, res.DroppedTokens, res.DistinctBlocks)
	fmt.Fprintf(&b, "- latency (completed requests, ms): TTFT from send p50 %s p90 %s p99 %s; TTFT from the scheduled arrival p50 %s p90 %s p99 %s; arrival → send lag p50 %s p99 %s mean %s\n",
		liveNum(s.TTFT.P50), liveNum(s.TTFT.P90), liveNum(s.TTFT.P99),
		liveNum(s.TTFTFromArrival.P50), liveNum(s.TTFTFromArrival.P90), liveNum(s.TTFTFromArrival.P99),
		liveNum(s.Lag.P50), liveNum(s.Lag.P99), liveNum(s.Lag.Mean))
	if res.AdaptiveConcurrency {
		fmt.Fprintf(&b, "- adaptive concurrency (AIMD on 429s and stalls): cap %d, lowest %d\n", res.Concurrency, res.MinConcurrency)
	}
	b.WriteString("\n")
	if res.DurationReached {
		fmt.Fprintf(&b, "## Duration limit\n\nThe run stopped sending at its duration limit (%g s): %d of %d requests sent; the %d not sent are counted as cancelled. "+
			"Every figure below covers what was sent.\n\n", res.DurationLimit, res.Sent, res.Requests, res.Requests-res.Sent)
	} else if res.Interrupted {
		fmt.Fprintf(&b, "## Interrupted\n\nThe run was cancelled (%s) after %.1f s: %d of %d requests sent; %d cancelled (%d cut after sending, %d never sent). "+
			"Cancelled requests are not failures; every figure below covers what was sent.\n\n",
			liveCell(res.InterruptCause), res.DurationS, res.Sent, res.Requests, res.Cancelled, res.Sent-res.Completed-res.Failed-res.TimedOut, res.Requests-res.Sent)
	}
	if res.Failed+res.TimedOut > 0 {
		fmt.Fprintf(&b, "## What failed\n\n| reason | requests |\n| --- | ---: |\n")
		for _, k := range res.FailReasonList() {
			fmt.Fprintf(&b, "| %s | %d |\n", liveCell(k), res.FailReasons[k])
		}
		fmt.Fprintf(&b, "\n| request | status | worker | attempts | reason |\n| ---: | --- | --- | ---: | --- |\n")
		shown := 0
		for _, rec := range res.Records {
			if rec.Status == liverun.Completed || rec.Status == liverun.Cancelled {
				continue
			}
			if shown == 20 {
				fmt.Fprintf(&b, "| … | | | | %d more in the JSON report |\n", res.Failed+res.TimedOut-shown)
				break
			}
			wk := "–"
			if rec.Worker >= 0 {
				wk = fmt.Sprintf("%d (%s)", rec.Worker, res.WorkerURLs[rec.Worker])
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %d | %s |\n", rec.Index, rec.Status, liveCell(wk), rec.Attempts, liveCell(rec.Reason))
			shown++
		}
		b.WriteString("\n")
	}

	fmt.Fprintf(&b, "## Workers\n\n| worker | URL | completed | failed | hit ratio (responses) | hit ratio (/metrics) | model hit ratio | cache blocks | down | healthy at end |\n")
	fmt.Fprintf(&b, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, wr := range res.Workers {
		mh, rh, modelh := "–", "–", "–"
		if wr.HasMetrics {
			mh = fmt.Sprintf("%.4f", wr.MetricsHitRatio)
		}
		if !s.CachedMissing {
			rh, modelh = fmt.Sprintf("%.4f", wr.HitRatio), fmt.Sprintf("%.4f", wr.ModelHitRatio)
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %s | %s | %s | %d | %d | %v |\n", wr.Worker, wr.URL, wr.Completed, wr.Failed,
			rh, mh, modelh, wr.CacheBlocks, wr.Downs, wr.Healthy)
	}
	for _, wr := range res.Workers {
		if len(wr.Failures) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nWorker %d (%s) failed attempts:", wr.Worker, wr.URL)
		for _, k := range liveSortedKeys(wr.Failures) {
			fmt.Fprintf(&b, " %s × %d;", k, wr.Failures[k])
		}
		b.WriteString("\n")
	}
	if s.CachedMissing {
		fmt.Fprintf(&b, "\nNo response carried cached_tokens (vLLM needs --enable-prompt-tokens-details): the response and model hit ratios are unknown (–); the /metrics ratio stands in for them.\n")
	} else {
		fmt.Fprintf(&b, "\nCached tokens per request equal to kvscope's worker model: %.1f%% of the %d completed requests that reported them.\n", 100*s.PerRequestAgreement, s.CachedReported)
	}
	fmt.Fprintf(&b, "\nWhat each hit ratio covers:\n\n- responses: %s\n- /metrics: %s\n- kvscope's model: %s\n", s.Coverage.Responses, s.Coverage.Metrics, s.Coverage.Model)
	if s.HasMirror {
		fmt.Fprintf(&b, "- KV-event mirror: %s\n", s.Coverage.Mirror)
	}
	b.WriteString("\n")
	writeLiveMirror(&b, res, s)

	if r.Model != nil {
		fmt.Fprintf(&b, "## Live beside the model\n\nModel: `%s`, simulated on the %d requests as sent (whole blocks, server pages).\n\n", r.Model.Scenario, r.Model.Requests)
		fmt.Fprintf(&b, "| metric | live | model | live − model | relative | note |\n| --- | ---: | ---: | ---: | ---: | --- |\n")
		for _, row := range r.Rows {
			rel := "–"
			if row.Model != 0 {
				rel = fmt.Sprintf("%+.1f%%", 100*row.Rel)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", row.Metric, liveNum(row.Live), liveNum(row.Model), liveSigned(row.Diff), rel, row.Note)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Note: %s.\n", r.LatencyNote)
	_, err := io.WriteString(w, b.String())
	return err
}

func liveNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e12 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.4f", x)
}

func liveSigned(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e12 {
		return fmt.Sprintf("%+.0f", x)
	}
	return fmt.Sprintf("%+.4f", x)
}

func liveCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}

func liveSortedKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

func ratioF64(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// writeLiveCorrection writes what the mirrors corrected in kvscope's model,
// per worker.
func writeLiveCorrection(b *strings.Builder, res *liverun.Result, s LiveSummary) {
	if !s.ModelCorrected {
		b.WriteString("\nkvscope's model was not corrected from the mirrors.\n")
		return
	}
	c := s.ModelCorrection
	fmt.Fprintf(b, "\nkvscope's model was corrected from the mirrors at each send: %d blocks removed that the server no longer held, "+
		"%d restarts that renewed a worker's model (%d blocks dropped, %d requests sent since put back); "+
		"%d blocks the mirror held and the model lacked were left out (the model stays the eviction policy's); "+
		"%d attempts went uncorrected, their mirror having lost events.\n\n",
		c.RemovedBlocks, c.Clears, c.ClearedBlocks, c.Replayed, c.LackedBlocks, c.Unsynced)
	b.WriteString("| worker | blocks removed | blocks lacked (left out) | restarts renewing the model | blocks dropped | requests put back | attempts uncorrected |\n")
	b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, wr := range res.Workers {
		if m := wr.Mirror; m != nil {
			c := m.Correction
			fmt.Fprintf(b, "| %d | %d | %d | %d | %d | %d | %d |\n", wr.Worker, c.RemovedBlocks, c.LackedBlocks, c.Clears, c.ClearedBlocks, c.Replayed, c.Unsynced)
		}
	}
}

// writeLiveMirror writes the KV-event section: the hit ratio of each source
// side by side and each worker's mirror.
func writeLiveMirror(b *strings.Builder, res *liverun.Result, s LiveSummary) {
	if len(res.KVEvents) == 0 {
		return
	}
	fmt.Fprintf(b, "## KV events\n\n")
	if s.HasMirror {
		resp := "–"
		if !s.CachedMissing {
			resp = fmt.Sprintf("%.4f", s.TokenHitRatio)
		}
		met := "–"
		if s.HasMetrics {
			met = fmt.Sprintf("%.4f", s.MetricsTokenHitRatio)
		}
		fmt.Fprintf(b, "Token hit ratio: responses %s, /metrics %s, kvscope's model %.4f, KV-event mirror %.4f (coverage above). ", resp, met, s.ModelTokenHitRatio, s.MirrorTokenHitRatio)
		if !s.CachedMissing {
			fmt.Fprintf(b, "Mirror's prediction equal to the response's cached_tokens: %.1f%% of the completed requests that reported them.", 100*s.MirrorAgreement)
		}
		b.WriteString("\n\n")
	} else {
		b.WriteString("The prompts were sent as words, which the servers tokenize: the mirrors cannot walk them, so no prediction (precise routers read kvscope's model).\n\n")
	}
	fmt.Fprintf(b, "| worker | endpoint | mirror hit ratio | blocks at end | messages | events | restarts | gaps (messages missed) | bad messages | connections |\n")
	fmt.Fprintf(b, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, wr := range res.Workers {
		m := wr.Mirror
		if m == nil {
			continue
		}
		hr := "–"
		if s.HasMirror {
			hr = fmt.Sprintf("%.4f", m.HitRatio)
		}
		late := ""
		if m.LateConnect {
			late = " (late)"
		}
		fmt.Fprintf(b, "| %d | %s | %s | %d | %d | %d | %d | %d (%d) | %d | %d%s |\n", wr.Worker, liveCell(m.Endpoint), hr, m.Blocks, m.Messages, m.Events, m.Restarts, m.Gaps, m.Missed, m.Bad, m.Connections, late)
	}
	for _, wr := range res.Workers {
		m := wr.Mirror
		if m == nil {
			continue
		}
		if m.LateConnect {
			fmt.Fprintf(b, "\nWorker %d's publisher had not connected when the run started: its first events were lost.\n", wr.Worker)
		}
		if m.Messages == 0 && m.Bad == 0 && wr.Completed > 0 {
			fmt.Fprintf(b, "\nWorker %d served %d requests but sent no KV event (%d connections): check its --zmq-endpoint / --kv-events-config; "+
				"an llm-d-inference-sim whose endpoint was bound by an earlier kvscope may need a restart.\n", wr.Worker, wr.Completed, m.Connections)
		}
	}
	for _, wr := range res.Workers {
		if m := wr.Mirror; m != nil && m.Bad > 0 {
			fmt.Fprintf(b, "\nWorker %d: %d KV event messages could not be decoded (skipped), the first: %s\n", wr.Worker, m.Bad, liveCell(m.BadWhy))
		}
	}
	writeLiveCorrection(b, res, s)
	if s.MirrorRestarts > 0 || s.MirrorGaps > 0 {
		fmt.Fprintf(b, "\nRestarts (AllBlocksCleared, or sequence numbers going back: a new publisher) empty a mirror; gaps are lost events, after which a mirror may hold blocks the server evicted or miss some it stored. "+
			"More than one connection means a publisher reconnected. A gap before the first message received means the server published before kvscope listened "+
			"(a server already warm: the blocks it held then are unknown to the mirror until stored again).\n")
	}
	b.WriteString("\n")
}
