package liverun

import (
	"fmt"
	"sort"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// API names a worker protocol.
type API string

const (
	// OpenAI is the OpenAI-compatible completions API (vLLM,
	// llm-d-inference-sim): POST /v1/completions, streamed.
	OpenAI API = "openai"
	// SGLang is sglang's native POST /generate with input_ids, streamed.
	SGLang API = "sglang"
)

// ParseAPI checks an API name.
func ParseAPI(s string) (API, error) {
	switch API(s) {
	case OpenAI, SGLang:
		return API(s), nil
	}
	return "", fmt.Errorf("unknown API %q (valid: openai, sglang)", s)
}

// Status is how a request ended.
type Status string

const (
	Completed Status = "completed"
	Failed    Status = "failed"
	TimedOut  Status = "timed_out"
	// Cancelled: the run was cancelled (its context ended: Ctrl-C, the
	// explorer closing) before the request ended; Attempts is 0 when it
	// was never sent. Not a failure of the request or of a worker.
	Cancelled Status = "cancelled"
)

// Record is one request of a live run.
type Record struct {
	// Index is the request's index in the trace.
	Index  int    `json:"index"`
	Status Status `json:"status"`
	// Reason says why a request failed, timed out or was cancelled (its
	// last attempt's error); empty when completed.
	Reason string `json:"reason,omitempty"`
	// Worker served the last attempt (-1: never sent); Routed is the
	// router's choice for it (differs when that worker was unhealthy).
	Worker   int `json:"worker"`
	Routed   int `json:"routed"`
	Attempts int `json:"attempts"`
	// Failures lists the kinds of failed attempts, in order.
	Failures []string `json:"failures,omitempty"`
	// Arrival is the scheduled arrival (trace time × time scale), Sent when
	// the last attempt was sent, FirstSent when the first was, all since
	// the run's start. LagMs = FirstSent − Arrival is how late the driver
	// sent it (waiting for a free slot under --concurrency, or behind its
	// own clock); 0 when never sent.
	ArrivalMs   float64 `json:"arrival_ms"`
	SentMs      float64 `json:"sent_ms"`
	FirstSentMs float64 `json:"first_sent_ms"`
	LagMs       float64 `json:"lag_ms"`
	// TTFT (send → first streamed token) and E2E (send → end of stream) of
	// the last attempt, completed requests only. TTFTFromArrivalMs is the
	// same first token from the scheduled arrival: what a user waiting
	// since the arrival saw (the lag and any retries included), and what
	// a simulation's TTFT measures.
	TTFTMs            float64 `json:"ttft_ms"`
	E2EMs             float64 `json:"e2e_ms"`
	TTFTFromArrivalMs float64 `json:"ttft_from_arrival_ms"`
	// PromptTokens and CachedTokens are what the server reported;
	// CachedKnown false when it reported no cached tokens.
	PromptTokens int  `json:"prompt_tokens"`
	CachedTokens int  `json:"cached_tokens"`
	CachedKnown  bool `json:"cached_known"`
	OutputTokens int  `json:"output_tokens"`
	// SentTokens is the prompt length sent; ModelCachedTokens kvscope's
	// model's prediction for the serving worker at send time (ModelFits
	// false when the model could not make room).
	SentTokens        int  `json:"sent_tokens"`
	ModelCachedTokens int  `json:"model_cached_tokens"`
	ModelFits         bool `json:"model_fits"`
	// ModelEvicted is how many blocks the model evicted for it.
	ModelEvicted int64 `json:"model_evicted"`
	// MirrorCachedTokens is the KV-event mirror's prediction for the
	// serving worker at send time, with the server's counting rule (every
	// prompt block present in its cache); MirrorKnown false without KV
	// events (or with word prompts, which the server tokenizes). A best
	// effort: events arrive apart from responses, so the last request's
	// may not have been received yet.
	MirrorCachedTokens int  `json:"mirror_cached_tokens,omitempty"`
	MirrorKnown        bool `json:"mirror_known,omitempty"`
	// Why is the router's explanation of its decision.
	Why string `json:"why,omitempty"`
}

// Result is a finished live run.
type Result struct {
	API        API      `json:"api"`
	Router     string   `json:"router"`
	ModelEvict string   `json:"model_evict"`
	WorkerURLs []string `json:"worker_urls"`
	TimeScale  float64  `json:"time_scale"`
	// Concurrency, Retries: the driver's settings.
	Concurrency int `json:"concurrency"`
	Retries     int `json:"retries"`
	// TraceBlockSize and ServerBlockSize: see Plan.
	TraceBlockSize  int `json:"trace_block_size"`
	ServerBlockSize int `json:"server_block_size"`
	// Counts: how the requests replayed ended. InterruptCause says why
	// the run was interrupted (the context's cause, "interrupt signal
	// received" for Ctrl-C in the CLI, or the duration limit).
	// DurationLimit is Config.Duration in seconds (0: none);
	// DurationReached is set when it stopped the sending.
	Counts
	InterruptCause  string  `json:"interrupt_cause,omitempty"`
	DurationLimit   float64 `json:"duration_limit_s,omitempty"`
	DurationReached bool    `json:"duration_reached,omitempty"`
	// AdaptiveConcurrency is set when an AIMD limit governed the requests
	// in flight (Config.Adaptive); MinConcurrency is the lowest it fell to.
	AdaptiveConcurrency bool `json:"adaptive_concurrency,omitempty"`
	MinConcurrency      int  `json:"min_concurrency,omitempty"`
	// FailReasons counts failed and timed-out requests by reason kind
	// (cancelled ones are not failures and are not counted here).
	FailReasons map[string]int `json:"fail_reasons"`
	// DroppedPartial, DroppedTokens: see Plan.
	DroppedPartial int   `json:"dropped_partial_blocks"`
	DroppedTokens  int64 `json:"dropped_tokens"`
	DistinctBlocks int   `json:"distinct_blocks"`
	// Started is the wall-clock start (UTC); DurationS the run's length.
	Started   time.Time `json:"started"`
	DurationS float64   `json:"duration_s"`
	// KVEvents lists the KV event endpoints, per worker (empty: no
	// events consumed); KVWalk is set when the mirrors could walk the
	// ModelCorrected is set when kvscope's model of each worker was
	// corrected from its KV-event mirror (WorkerResult.Mirror.Correction).
	ModelCorrected bool `json:"model_corrected,omitempty"`
	// prompts (token ids sent), so that MirrorCachedTokens are known.
	KVEvents []string       `json:"kv_events,omitempty"`
	KVWalk   bool           `json:"kv_walk,omitempty"`
	Workers  []WorkerResult `json:"workers"`
	Records  []Record       `json:"records"`
	Plan     *Plan          `json:"-"`

	// IDs says that the model's block table recycled dense ids to bound
	// memory (replay/live ids.go); nil when it did not.
	IDs *IDRecycling `json:"id_recycling,omitempty"`
}

// IDRecycling is how the model's block table recycled dense ids: its
// limit at the end, its sweeps and the ids handed out again.
type IDRecycling struct {
	Limit    int    `json:"limit"`
	Sweeps   int    `json:"sweeps"`
	Recycled int64  `json:"recycled"`
	Note     string `json:"note"`
}

// Counts is how a live run's requests ended, as the run's Result records
// them and analysis's summary of it repeats them.
type Counts struct {
	// Requests counts the requests replayed; Completed + Failed + TimedOut
	// + Cancelled = Requests.
	Requests  int `json:"requests"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	TimedOut  int `json:"timed_out"`
	// Cancelled requests had not ended when the run was interrupted (not
	// failures).
	Cancelled int `json:"cancelled"`
	// Sent counts the requests sent at least once (Attempts > 0): all of
	// them unless the run was interrupted.
	Sent int `json:"sent"`
	// NotSent counts the requests the run never reached: its duration
	// ended or it was interrupted before their turn to be sent. They are
	// counted here and in Cancelled, and have no Record (a run stopped
	// early holds and writes nothing per request it did not send).
	NotSent int `json:"not_sent,omitempty"`
	// Interrupted is set when the run was cancelled before every request
	// ended (Cancelled > 0).
	Interrupted bool `json:"interrupted"`
}

// WorkerResult is one worker's share of a live run.
type WorkerResult struct {
	Worker    int    `json:"worker"`
	URL       string `json:"url"`
	Completed int    `json:"completed"`
	Failed    int    `json:"failed"`
	// From responses: Σ prompt and cached tokens of completed requests.
	PromptTokens int64   `json:"prompt_tokens"`
	CachedTokens int64   `json:"cached_tokens"`
	HitRatio     float64 `json:"hit_ratio"`
	// ModelCachedTokens is kvscope's model's prediction for the same
	// requests; ModelHitRatio = it / PromptTokens.
	ModelCachedTokens int64   `json:"model_cached_tokens"`
	ModelHitRatio     float64 `json:"model_hit_ratio"`
	// From /metrics: the counters' growth over the run (HasMetrics false
	// when either reading failed or lacked the counters). MetricsSettled is
	// false when the last reading was taken before the counters stopped
	// moving (the wait ran out, or the run was cancelled: one reading).
	HasMetrics      bool    `json:"has_metrics"`
	MetricsSettled  bool    `json:"metrics_settled"`
	MetricsQueried  float64 `json:"metrics_queried_tokens"`
	MetricsHit      float64 `json:"metrics_hit_tokens"`
	MetricsHitRatio float64 `json:"metrics_hit_ratio"`
	// CounterResets counts the resets of those counters seen during the
	// run (a decrease, or a new process start time: the server
	// restarted); the growth is then summed as Prometheus's increase()
	// sums it, and what the server counted between the last reading
	// before a restart and the restart is missing from it.
	CounterResets int `json:"counter_resets"`
	// ModelForgotten counts the blocks kvscope's model dropped after
	// failed attempts (the server most likely never kept them).
	ModelForgotten int64 `json:"model_forgotten_blocks"`
	// Mirror is what the worker's KV events told (nil without them).
	Mirror *MirrorResult `json:"mirror,omitempty"`
	// CacheBlocks is the cache size used for the model (server blocks).
	CacheBlocks int64 `json:"cache_blocks"`
	// Downs counts transitions to unhealthy, Recovered the recoveries.
	Downs     int            `json:"downs"`
	Recovered int            `json:"recovered"`
	Healthy   bool           `json:"healthy_at_end"`
	Failures  map[string]int `json:"failures,omitempty"`
}

// SentWorkload is Plan.Model restricted to the requests sent at least once
// (Sent of them, in order, re-indexed from 0; the block table is shared):
// what a comparison simulates, so that an interrupted run is set beside the
// requests it sent, not beside the ones it never got to. A run that sent
// every request gives Plan.Model itself.
func (r *Result) SentWorkload() *trace.Trace {
	m := r.Plan.Model
	if r.Sent == len(m.Requests) {
		return m
	}
	sub := &trace.Trace{Blocks: m.Blocks, Info: m.Info, Requests: make([]trace.Request, 0, r.Sent)}
	sub.Info.Source += fmt.Sprintf(" (the %d of %d requests sent)", r.Sent, len(m.Requests))
	for i, rec := range r.Records {
		if rec.Attempts == 0 {
			continue
		}
		q := m.Requests[i]
		q.Index = len(sub.Requests)
		sub.Requests = append(sub.Requests, q)
	}
	return sub
}

// FailReasonList returns the failure kinds sorted by count, then name.
func (r *Result) FailReasonList() []string {
	var ks []string
	for k := range r.FailReasons {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if r.FailReasons[ks[i]] != r.FailReasons[ks[j]] {
			return r.FailReasons[ks[i]] > r.FailReasons[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks
}

// MirrorResult is one worker's KV-event mirror at the end of a run.
type MirrorResult struct {
	Endpoint string `json:"endpoint"`
	// CachedTokens sums the mirror's send-time predictions over the
	// worker's completed requests (Record.MirrorCachedTokens); HitRatio =
	// it / the responses' prompt tokens of the same requests.
	CachedTokens int64   `json:"cached_tokens"`
	HitRatio     float64 `json:"hit_ratio"`
	// Blocks present at the end; BlockSize the events' tokens per block.
	Blocks    int `json:"blocks"`
	BlockSize int `json:"block_size"`
	// Messages and Events received; Stored and Removed count blocks.
	Messages int   `json:"messages"`
	Events   int   `json:"events"`
	Stored   int64 `json:"stored_blocks"`
	Removed  int64 `json:"removed_blocks"`
	// Restarts: AllBlocksCleared events and sequence numbers that went
	// back (a new publisher: the server restarted); each empties the
	// mirror. Gaps and Missed: jumps in the sequence numbers and the
	// messages they skipped (events lost: the mirror may be wrong until
	// the blocks are stored or removed again).
	Restarts int    `json:"restarts"`
	Gaps     int    `json:"gaps"`
	Missed   uint64 `json:"missed_messages"`
	// Bad counts messages that could not be decoded, BadWhy the first
	// one's reason; Unknown counts removals of blocks the mirror did not
	// hold.
	Bad     int    `json:"bad_messages"`
	BadWhy  string `json:"bad_why,omitempty"`
	Unknown int64  `json:"unknown_removals"`
	// Connections counts the publisher's connections (more than one: it
	// reconnected, its server most likely restarted); LateConnect is set
	// when it had not connected when the run started (Config.KVConnectWait
	// ran out): its first events were lost.
	Connections int  `json:"connections"`
	LateConnect bool `json:"late_connect,omitempty"`
	// Correction is what the mirror corrected in kvscope's model of the
	// worker (zero when the model was not corrected: prompts as words,
	// or the driver told not to).
	Correction ModelCorrection `json:"model_correction"`
}

// ModelCorrection counts the corrections of kvscope's model of one worker
// from its KV-event mirror (replay/live's doc, "Correcting the model").
type ModelCorrection struct {
	// RemovedBlocks: blocks of a sent request's chain that the model held
	// as unpinned leaves and the mirror said the server did not hold.
	RemovedBlocks int64 `json:"removed_blocks"`
	// LackedBlocks: blocks of a sent request's chain that the mirror held
	// and the model did not (after the removals); not added to the model.
	LackedBlocks int64 `json:"lacked_blocks"`
	// Clears: restarts told by the mirror that renewed the model (a
	// restart already seen through refused connections is not counted
	// twice); ClearedBlocks the blocks the old models held; Replayed the
	// requests sent after the restart put back in the new model.
	Clears        int   `json:"clears"`
	ClearedBlocks int64 `json:"cleared_blocks"`
	Replayed      int   `json:"replayed_requests"`
	// Unsynced counts attempts not reconciled because the mirror had lost
	// events (a gap, a bad message, or no message yet).
	Unsynced int `json:"unsynced_attempts"`
}

// Add adds o's counts to c's.
func (c *ModelCorrection) Add(o ModelCorrection) {
	c.RemovedBlocks += o.RemovedBlocks
	c.LackedBlocks += o.LackedBlocks
	c.Clears += o.Clears
	c.ClearedBlocks += o.ClearedBlocks
	c.Replayed += o.Replayed
	c.Unsynced += o.Unsynced
}
