package live

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kvscope/kvscope/replay/live/liverun"
	"github.com/kvscope/kvscope/replay/trace"
)

// A finished run's types live in liverun, which imports no net/http, so
// that analysis can read runs without depending on the driver; they are
// aliased here for the driver's callers.
type (
	Result       = liverun.Result
	Counts       = liverun.Counts
	WorkerResult = liverun.WorkerResult
	Record       = liverun.Record
	Status       = liverun.Status
	Plan         = liverun.Plan
	// ModelCorrection is what a worker's mirror corrected in the model.
	ModelCorrection = liverun.ModelCorrection
	API             = liverun.API
)

// Request outcomes (liverun.Status) and worker protocols (liverun.API).
const (
	Completed = liverun.Completed
	Failed    = liverun.Failed
	TimedOut  = liverun.TimedOut
	Cancelled = liverun.Cancelled

	OpenAI = liverun.OpenAI
	SGLang = liverun.SGLang
)

func (d *driver) result(ctx context.Context) *Result {
	d.settle(ctx)
	r := &Result{
		API: d.cfg.Client.API, Router: d.canon, ModelEvict: d.cfg.ModelEvict,
		TimeScale: d.cfg.TimeScale, Concurrency: d.cfg.Concurrency, Retries: d.cfg.Retries,
		TraceBlockSize: d.plan.TraceBlockSize, ServerBlockSize: d.bs,
		Counts: Counts{Requests: len(d.records) + d.notSent, Cancelled: d.notSent, NotSent: d.notSent}, FailReasons: map[string]int{},
		DroppedPartial: d.plan.DroppedPartial, DroppedTokens: d.plan.DroppedTokens, DistinctBlocks: d.plan.DistinctBlocks,
		Started: d.start.UTC(), DurationS: time.Since(d.start).Seconds(),
		Records: d.records, Plan: d.plan,
	}
	if d.cfg.KeepPlan {
		d.plan.Requests = make([]liverun.PlannedRequest, 0, len(d.kept))
		d.plan.Model.Requests = make([]trace.Request, 0, len(d.kept))
		for _, q := range d.kept {
			d.plan.Requests = append(d.plan.Requests, q.pr)
			d.plan.Model.Requests = append(d.plan.Model.Requests, *q.mr)
		}
	}
	for _, rec := range d.records {
		if rec.Attempts > 0 {
			r.Sent++
		}
		switch rec.Status {
		case Completed:
			r.Completed++
		case Cancelled:
			r.Cancelled++
		case TimedOut:
			r.TimedOut++
			r.FailReasons[reasonKind(rec)]++
		default:
			r.Failed++
			r.FailReasons[reasonKind(rec)]++
		}
	}
	r.DurationLimit = d.cfg.Duration.Seconds()
	r.AdaptiveConcurrency, r.MinConcurrency = d.cfg.Adaptive, d.limit.lowest
	if r.Interrupted = r.Cancelled > 0; r.Interrupted {
		r.InterruptCause = "cancelled"
		switch {
		case ctx.Err() != nil:
			r.InterruptCause = context.Cause(ctx).Error()
		case d.durationHit:
			r.DurationReached = true
			r.InterruptCause = fmt.Sprintf("the run's duration limit (%v) was reached", d.cfg.Duration)
		}
	}
	if tb := d.plan.Model.Blocks; tb.Sweeps() > 0 {
		r.IDs = &liverun.IDRecycling{Limit: tb.Limit(), Sweeps: tb.Sweeps(), Recycled: tb.Recycled(),
			Note: "the model's block ids were recycled to bound memory: policies that break ties by block id (rlt, random_leaf) may choose other blocks than without"}
	}
	if d.kv != nil {
		for _, ep := range d.kv.Endpoints {
			r.KVEvents = append(r.KVEvents, ep.String())
		}
		r.KVWalk = d.kvWalk
		r.ModelCorrected = d.correcting
	}
	for i, w := range d.workers {
		r.WorkerURLs = append(r.WorkerURLs, w.ep.String())
		wr := WorkerResult{Worker: i, URL: w.ep.String(), Completed: w.completed, Failed: w.failed,
			PromptTokens: w.prompt, CachedTokens: w.cached, HitRatio: ratioF(float64(w.cached), float64(w.prompt)),
			ModelCachedTokens: w.modelHit, ModelHitRatio: ratioF(float64(w.modelHit), float64(w.prompt)),
			CacheBlocks: w.capacity, Downs: w.downs, Recovered: w.recovered, Healthy: w.healthy}
		if len(w.fail) > 0 {
			wr.Failures = w.fail
		}
		// A counter not yet exposed before the run (the server registers its
		// series on first use) started at 0.
		if w.before != nil && w.latest != nil && w.latest.HasCache {
			wr.HasMetrics, wr.MetricsSettled = true, w.settled
			wr.MetricsQueried, wr.MetricsHit = w.ctr.queried, w.ctr.hit
			wr.MetricsHitRatio = ratioF(wr.MetricsHit, wr.MetricsQueried)
			wr.CounterResets = w.ctr.resets
		}
		wr.ModelForgotten = w.forgotten
		if d.kv != nil {
			st := d.kv.Mirrors[i].Stats()
			wr.Mirror = &liverun.MirrorResult{Endpoint: d.kv.Endpoints[i].String(),
				CachedTokens: w.mirrorHit, HitRatio: ratioF(float64(w.mirrorHit), float64(w.prompt)),
				Blocks: st.Blocks, BlockSize: st.BlockSize, Messages: st.Messages, Events: st.Events,
				Stored: st.Stored, Removed: st.Removed, Restarts: st.Restarts, Gaps: st.Gaps, Missed: st.Missed,
				Bad: st.Bad, BadWhy: st.BadWhy, Unknown: st.Unknown,
				Connections: st.Connections, LateConnect: slices.Contains(d.kvLate, i),
				Correction: w.corr.result()}
		}
		r.Workers = append(r.Workers, wr)
	}
	return r
}

// reasonKind is a failure's reason without per-request detail, for counts.
func reasonKind(rec Record) string {
	if len(rec.Failures) > 0 {
		return rec.Failures[len(rec.Failures)-1]
	}
	return rec.Reason
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func ratioF(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
