package analysis

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/live/liverun"
)

// liveResult is a hand-built live run: 20 completed requests on one worker,
// each sending 100 prompt tokens of which the server reported 25 cached (the
// model agreeing on all but two), plus one failure.
func liveResult() *liverun.Result {
	res := &liverun.Result{Counts: liverun.Counts{Requests: 21, Completed: 20, Failed: 1}, Router: "round_robin", ModelEvict: "server_lru",
		FailReasons: map[string]int{"http 500": 1}, WorkerURLs: []string{"http://127.0.0.1:1"}}
	for i := range 20 {
		model := 25
		if i < 2 {
			model = 50
		}
		res.Records = append(res.Records, liverun.Record{Index: i, Status: liverun.Completed, Worker: 0,
			ArrivalMs: float64(100 * i), SentMs: float64(100 * i), TTFTMs: float64(i + 1), E2EMs: float64(2 * (i + 1)),
			PromptTokens: 100, CachedTokens: 25, CachedKnown: true, ModelCachedTokens: model, Attempts: 1,
			LagMs: float64(i % 4), TTFTFromArrivalMs: float64(i+1) + float64(i%4)})
	}
	res.Records = append(res.Records, liverun.Record{Index: 20, Status: liverun.Failed, Worker: 0, Reason: "http 500", Attempts: 2})
	res.Workers = []liverun.WorkerResult{{Worker: 0, URL: "http://127.0.0.1:1", Completed: 20, Failed: 1,
		PromptTokens: 2000, CachedTokens: 500, HitRatio: 0.25, HasMetrics: true, MetricsQueried: 2000, MetricsHit: 500, MetricsHitRatio: 0.25}}
	return res
}

// TestLiveCachedTokensMissing: a vLLM without
// --enable-prompt-tokens-details reports no cached tokens; the report says
// so and sets /metrics in the responses' place instead of a hit ratio of 0.
func TestLiveCachedTokensMissing(t *testing.T) {
	res := liveResult()
	for i := range res.Records {
		res.Records[i].CachedKnown, res.Records[i].CachedTokens = false, 0
	}
	ls := SummarizeLive(res)
	if !ls.CachedMissing || ls.CachedReported != 0 || !strings.Contains(ls.Coverage.Responses, "--enable-prompt-tokens-details") {
		t.Fatalf("summary %+v", ls)
	}
	rep := CompareLive(res, LiveModel{Scenario: "s", TokenHitRatio: 0.2, WorkerHitRatio: []float64{0.2}, WorkerCompleted: []int{20}})
	for _, r := range rep.Rows {
		if strings.HasPrefix(r.Metric, "token hit ratio (responses)") || strings.HasPrefix(r.Metric, "token hit ratio (kvscope") {
			t.Fatalf("row %q shown without cached tokens", r.Metric)
		}
		if r.Metric == "token hit ratio (/metrics)" && !strings.Contains(r.Note, "in place of the responses") {
			t.Fatalf("/metrics row does not say it stands in: %+v", r)
		}
	}
	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "No response carried cached_tokens") {
		t.Fatalf("markdown does not flag the missing cached tokens:\n%s", md.String())
	}
}

func TestLiveSummaryAndComparison(t *testing.T) {
	res := liveResult()
	ls := SummarizeLive(res)
	if ls.Completed != 20 || ls.TokenHitRatio != 0.25 || ls.MetricsTokenHitRatio != 0.25 || ls.PerRequestAgreement != 0.9 {
		t.Fatalf("summary %+v", ls)
	}
	// TTFTs 1..20 ms: nearest-rank p50 = 10, p90 = 18, p99 = 20.
	if ls.TTFT.P50 != 10 || ls.TTFT.P90 != 18 || ls.TTFT.P99 != 20 || ls.TTFT.N != 20 {
		t.Fatalf("TTFT %+v", ls.TTFT)
	}
	m := LiveModel{Scenario: "round_robin+server_lru;workers=1", Completed: 19, Failed: 2, TokenHitRatio: 0.2,
		WorkerHitRatio: []float64{0.2}, WorkerCompleted: []int{19}, TTFT: Summarize(nil), ThroughputRPS: math.Inf(1)}
	rep := CompareLive(res, m)
	row := func(name string) LiveRow {
		for _, r := range rep.Rows {
			if r.Metric == name {
				return r
			}
		}
		t.Fatalf("no row %q", name)
		return LiveRow{}
	}
	if r := row("completed"); r.Diff != 1 || math.Abs(r.Rel-1.0/19) > 1e-12 {
		t.Fatalf("%+v", r)
	}
	if r := row("token hit ratio (responses)"); r.Live != 0.25 || r.Model != 0.2 || math.Abs(r.Diff-0.05) > 1e-12 {
		t.Fatalf("%+v", r)
	}
	// From the arrival: TTFT + lag, i+1 + i%4 for i = 0..19: sorted, the
	// 10th is 11.
	if ls.TTFTFromArrival.P50 != 11 || ls.Lag.N != 21 {
		t.Fatalf("TTFT from arrival %+v, lag %+v", ls.TTFTFromArrival, ls.Lag)
	}
	if r := row("TTFT p50 ms (from arrival)"); r.Live != 11 || r.Model != 0 || !strings.Contains(r.Note, "plumbing only") {
		t.Fatalf("an empty model distribution must read as 0: %+v", r)
	}
	row("token hit ratio (/metrics)")
	row("worker 0 requests")
	var js, md strings.Builder
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(js.String()), &back); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Live beside the model", "round_robin+server_lru;workers=1", "| completed | 20 | 19 | +1 | +5.3% |", "## What failed", "http 500", "plumbing only", "90.0% of the 20 completed requests that reported them", "every attempt the servers counted (22 sent"} {
		if !strings.Contains(md.String(), want) {
			t.Fatalf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func TestLiveModelOf(t *testing.T) {
	m := RunMetrics{Completed: 3, Failed: 1, TokenHitRatio: 0.5, TTFT: Summarize([]float64{1, 2, 3}),
		WorkerMetrics: []WorkerMetrics{{TokenHitRatio: 0.4, Completed: 1}, {TokenHitRatio: 0.6, Completed: 2}}}
	lm := LiveModelOf("s", m)
	if lm.Completed != 3 || lm.TTFT.P50 != 2 || len(lm.WorkerHitRatio) != 2 || lm.WorkerCompleted[1] != 2 {
		t.Fatalf("%+v", lm)
	}
}

// An interrupted run: the report says so, counts the cancelled requests
// apart from the failed ones, and the comparison (on the requests sent)
// gets a row for the requests sent but never ended.
func TestLiveReportInterrupted(t *testing.T) {
	res := liveResult()
	// Of 30 requests: 20 completed, 1 failed, 2 cut after sending, 7 never sent.
	for i := 21; i < 30; i++ {
		rec := liverun.Record{Index: i, Status: liverun.Cancelled, Worker: -1, Routed: -1, Reason: "run cancelled before sending"}
		if i < 23 { // cut in flight: one attempt of kind live.KindCancelled
			rec.Worker, rec.Attempts, rec.Failures, rec.Reason = 0, 1, []string{"cancelled"}, "cancelled: run cancelled in flight (interrupt signal received)"
		}
		res.Records = append(res.Records, rec)
	}
	res.Records[20].Attempts = 1
	for i := range 20 {
		res.Records[i].Attempts = 1
	}
	res.Requests, res.Cancelled, res.Sent, res.Interrupted, res.InterruptCause = 30, 9, 23, true, "interrupt signal received"
	m := LiveModel{Scenario: "round_robin+lru;workers=1", Requests: 23, Completed: 23, TokenHitRatio: 0.2,
		WorkerHitRatio: []float64{0.2}, WorkerCompleted: []int{23}}
	rep := CompareLive(res, m)
	ls := rep.LiveSummary
	if !ls.Interrupted || ls.Cancelled != 9 || ls.Sent != 23 || ls.Failed != 1 || ls.Completed != 20 {
		t.Fatalf("summary %+v", ls)
	}
	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{
		"## Interrupted", "cancelled (interrupt signal received)", "23 of 30 requests sent; 9 cancelled (2 cut after sending, 7 never sent)",
		"requests 30: completed 20, failed 1, timed out 0, cancelled 9",
		"simulated on the 23 requests as sent",
		"| completed | 20 | 23 | -3 |", "| cancelled after sending | 2 | 0 | +2 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// The failure table lists the failed request, not the cancelled ones.
	if strings.Contains(out, "run cancelled before sending") || !strings.Contains(out, "| 20 | failed |") {
		t.Errorf("failure table:\n%s", out)
	}
}

// With KV events, the summary sets the mirror's hit ratio beside the
// others (over the completed requests), with its agreement and the
// mirrors' restarts, gaps and bad messages, and the report shows them.
func TestLiveReportMirror(t *testing.T) {
	res := liveResult()
	res.KVEvents, res.KVWalk = []string{"bind:tcp://127.0.0.1:5557"}, true
	for i := range res.Records[:20] {
		res.Records[i].MirrorKnown, res.Records[i].MirrorCachedTokens = true, 25
		if i == 0 {
			res.Records[i].MirrorCachedTokens = 0 // its predecessor's events not in yet
		}
	}
	res.Workers[0].Mirror = &liverun.MirrorResult{Endpoint: "bind:tcp://127.0.0.1:5557", CachedTokens: 475, HitRatio: 0.2375,
		Blocks: 64, BlockSize: 16, Messages: 30, Events: 40, Restarts: 1, Gaps: 1, Missed: 3, Bad: 2, BadWhy: "payload: truncated",
		Connections: 2, LateConnect: true,
		Correction: liverun.ModelCorrection{RemovedBlocks: 7, LackedBlocks: 3, Clears: 1, ClearedBlocks: 120, Replayed: 2, Unsynced: 4}}
	res.ModelCorrected = true
	s := SummarizeLive(res)
	if !s.ModelCorrected || s.ModelCorrection != res.Workers[0].Mirror.Correction {
		t.Fatalf("corrections in the summary: %v %+v", s.ModelCorrected, s.ModelCorrection)
	}
	if !s.HasMirror || math.Abs(s.MirrorTokenHitRatio-0.2375) > 1e-12 || s.MirrorAgreement != 0.95 || s.MirrorRestarts != 1 || s.MirrorGaps != 1 || s.MirrorBad != 2 ||
		!strings.Contains(s.Coverage.Mirror, "20 completed requests") {
		t.Fatalf("summary %+v", s)
	}
	var md strings.Builder
	if err := NewLiveReport(res).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## KV events", "KV-event mirror 0.2375", "95.0%", "| 0 | bind:tcp://127.0.0.1:5557 | 0.2375 | 64 | 30 | 40 | 1 | 1 (3) | 2 | 2 (late) |", "had not connected when the run started",
		"payload: truncated", "- KV-event mirror: the 20 completed",
		"7 blocks removed that the server no longer held, 1 restarts that renewed a worker's model (120 blocks dropped, 2 requests sent since put back); 3 blocks",
		"4 attempts went uncorrected", "| 0 | 7 | 3 | 1 | 120 | 2 | 4 |"} {
		if !strings.Contains(md.String(), want) {
			t.Fatalf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	// A worker that served requests without sending an event is named.
	res.Workers[0].Mirror.Messages, res.Workers[0].Mirror.Bad = 0, 0
	md.Reset()
	if err := NewLiveReport(res).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "Worker 0 served 20 requests but sent no KV event (2 connections)") {
		t.Fatalf("silent publisher not named:\n%s", md.String())
	}
	// Word prompts: no prediction, said so.
	res.KVWalk = false
	md.Reset()
	if err := NewLiveReport(res).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if SummarizeLive(res).HasMirror || !strings.Contains(md.String(), "cannot walk them") {
		t.Fatalf("word prompts:\n%s", md.String())
	}
}
