package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// One request's life in the driver: routing and the model's prediction
// (begin), the send with its retries and failover (serve), and its end
// (complete, ended, finish). The driver's set-up and pacing are in
// driver.go.

// attempt is one send's bookkeeping under d.mu.
type attempt struct {
	routed, w int
	routedAt  time.Duration
	model     *kvcache.Cache
	pinned    []trace.BlockID
	hit       int
	fits      bool
	evicted   int64
	why       string
	// mirror is the KV-event mirror's prediction (blocks; mirrorKnown
	// false without one).
	mirror      int
	mirrorKnown bool
	// newFrom is where the blocks the attempt added to model begin (its
	// hit, or its hit in the model a restart's replay moved it to);
	// ended and failed are set when it ended (a restart's replay skips
	// failed attempts and moves those in flight). Under d.mu.
	newFrom       int
	ended, failed bool
}

// begin routes request i and updates the model of the chosen worker.
// failed marks the workers that already failed this request (nil: none):
// the attempt goes to the first worker of the router's order of preference
// (route.Decision.Ranked) that is in routing and has not failed it, else
// to the first in routing.
func (d *driver) begin(i int, failed []bool, prompt []uint32) (*attempt, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	req := d.reqs[i].mr
	t := d.now()
	dec := d.router.Route(t, req)
	a := &attempt{routed: dec.Worker, w: -1, routedAt: t, why: dec.Reason()}
	d.rank = dec.Ranked(d.rank)
	for _, avoid := range []bool{true, false} {
		for _, x := range d.rank {
			if d.usable(x) && !(avoid && failed != nil && failed[x]) {
				a.w = x
				break
			}
		}
		if a.w >= 0 {
			break
		}
	}
	if a.w < 0 {
		d.complete(a, i, 0, true)
		return nil, d.noHealthyWorker()
	}
	if a.w != dec.Worker {
		a.why += fmt.Sprintf("; worker %d %s, sent to worker %d (the router's next choice)", dec.Worker, d.unusable(dec.Worker, failed), a.w)
	}
	w := d.workers[a.w]
	w.inFlight++
	chain := req.Blocks
	if d.kvWalk {
		// The mirror's prediction with the server's counting rule, from
		// the events received so far: a best effort, since events travel
		// apart from the responses (the previous request's may still be
		// on their way).
		if d.matchIdx != req.Index { // Route's Match may have walked it
			d.matchDig = blockDigests(prompt, d.bs, d.matchDig)
			d.matchIdx = req.Index
		}
		if d.correcting {
			a.mirror = d.correct(a.w, chain, d.matchDig)
		} else {
			a.mirror, _ = d.kv.Mirrors[a.w].walkDigests(d.matchDig)
		}
		a.mirrorKnown = true
	}
	// kvscope's model of the worker: the server counts the blocks of
	// running requests as cached, so a request's blocks are inserted (and
	// held) from the moment it is sent until it ends.
	c := w.model
	a.model = c
	before := c.Evicted()
	a.hit, a.fits = insertChain(c, chain)
	a.newFrom = a.hit
	if a.fits {
		a.pinned = chain
		if d.correcting {
			w.corr.sent = append(w.corr.sent, sentAttempt{at: time.Now(), a: a})
		}
	}
	a.evicted = c.Evicted() - before
	return a, nil
}

// complete ends an attempt for the router and the model (under d.mu).
func (d *driver) complete(a *attempt, i int, e2e time.Duration, failed bool) {
	req := d.reqs[i].mr
	t := d.now()
	if err := d.router.Complete(route.Completion{Worker: a.routed, Req: req, Routed: a.routedAt, Done: t, E2E: e2e, Failed: failed}); err != nil {
		panic(fmt.Sprintf("live: router completion: %v", err)) // a driver bug: every route is completed once
	}
	if a.w >= 0 {
		d.workers[a.w].inFlight--
	}
	a.ended, a.failed = true, failed
	if !a.fits {
		return
	}
	if failed {
		// The blocks this attempt added are most likely not on the
		// server (refused, rejected, cut or aborted): the model forgets
		// them, from the leaf, unless another request holds or extends
		// them. Kept, they made the model drift after retries.
		_ = a.model.Unpin(a.pinned)
		if a.w >= 0 {
			d.workers[a.w].forgotten += a.model.Forget(a.pinned[a.newFrom:])
		}
		return
	}
	a.model.Access(a.pinned, kvcache.Complete)
	_ = a.model.Unpin(a.pinned)
	if d.correcting && a.w >= 0 {
		d.workers[a.w].corr.touched(a.pinned, time.Now(), d.cfg.recentFor)
	}
}

// ended books an attempt's end: the router, the model, the worker's counts
// and its circuit breaker (ae nil: completed). A cancelled attempt is not
// the worker's failure. A failure that opens the breaker (see breaker.go)
// takes the worker out of routing here, under the same lock, so no other
// request is sent to it in between.
func (d *driver) ended(a *attempt, i int, resp Response, ae *AttemptError) {
	d.mu.Lock()
	defer d.mu.Unlock() // also when the router panics
	d.complete(a, i, resp.E2E, ae != nil)
	w := d.workers[a.w]
	switch {
	case ae == nil:
		w.completed++
		w.prompt += int64(resp.PromptTokens)
		w.cached += int64(resp.CachedTokens)
		rec := &d.reqs[i].rec
		w.modelHit += int64(rec.ModelCachedTokens)
		w.mirrorHit += int64(rec.MirrorCachedTokens)
		w.succeeded()
	case ae.Kind != KindCancelled:
		w.fail[string(ae.Kind)]++
		if w.failedAttempt(ae.Kind, d.cfg.BreakerFailures) {
			d.markDown(a.w, ae.Kind, d.cfg.Client.Key.scrub(ae.Error()))
		}
	}
}

func (d *driver) serve(ctx context.Context, i int) {
	d.mu.Lock()
	q := d.reqs[i]
	d.mu.Unlock()
	pr, rec := &q.pr, &q.rec
	backoff := d.cfg.Backoff
	var last *AttemptError
	var failed []bool   // workers that failed this request
	var prompt []uint32 // built at the first send, reused by retries
	var firstSent time.Time
	defer func() {
		// The slot taken by dispatch; push-back (a 429 or a stall on any
		// attempt) tells an adaptive limit to back off.
		pushback := slices.ContainsFunc(rec.Failures, func(k string) bool { return k == string(KindBusy) || k == string(KindStall) })
		if firstSent.IsZero() {
			firstSent = time.Now()
		}
		d.limit.release(firstSent, pushback, time.Now())
	}()
	for attempt := 0; attempt <= d.cfg.Retries; attempt++ {
		if attempt > 0 {
			wait := backoff
			if last != nil && last.RetryAfter > wait {
				wait = last.RetryAfter // the server asked for it
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			backoff = min(2*backoff, 16*d.cfg.Backoff)
		}
		if ctx.Err() != nil {
			why := "run cancelled before sending"
			if attempt > 0 {
				why = "run cancelled before a retry"
			}
			d.finish(ctx, i, Cancelled, why)
			return
		}
		if prompt == nil {
			prompt = d.plan.TokensOf(pr, prompt)
		}
		a, err := d.begin(i, failed, prompt)
		rec.Attempts++
		if err != nil {
			last = err.(*AttemptError)
			rec.Failures = append(rec.Failures, string(last.Kind))
			continue
		}
		rec.Worker, rec.Routed = a.w, a.routed
		if attempt == 0 {
			rec.Why = a.why
			firstSent = time.Now()
			rec.FirstSentMs = ms(firstSent.Sub(d.start))
			rec.LagMs = max(0, rec.FirstSentMs-rec.ArrivalMs)
		} else {
			// Every attempt's decision stays in the explanation.
			after := ""
			if last != nil && last.RetryAfter > backoff/2 {
				after = fmt.Sprintf(", after the server's Retry-After %v", last.RetryAfter)
			}
			rec.Why += fmt.Sprintf(" | retry %d%s: %s", attempt, after, a.why)
		}
		rec.SentMs = ms(time.Since(d.start))
		rec.ModelCachedTokens, rec.ModelFits, rec.ModelEvicted = a.hit*d.bs, a.fits, a.evicted
		rec.MirrorCachedTokens, rec.MirrorKnown = a.mirror*d.bs, a.mirrorKnown
		resp, serr := d.client.Send(ctx, d.workers[a.w].ep, prompt, pr.Output)
		var ae *AttemptError
		if serr != nil && !errors.As(serr, &ae) {
			ae = &AttemptError{Kind: KindProtocol, Msg: serr.Error()}
		}
		d.ended(a, i, resp, ae)
		// A worker that refuses connections leaves routing at once; after a
		// stall, a timeout or a cut stream it leaves if it does not answer
		// a health probe either (one slow request is not a dead worker).
		// When its circuit breaker opens (consecutive failures, or a
		// failed half-open trial) ended has already taken it out.
		if serr != nil && ctx.Err() == nil && ae.Kind != KindCancelled {
			if failed == nil {
				failed = make([]bool, len(d.workers))
			}
			failed[a.w] = true
			if ae.Unhealthy() && (ae.Kind == KindRefused || ae.Kind == KindConnect || d.client.Probe(ctx, d.workers[a.w].ep) != nil) {
				d.mu.Lock()
				d.markDown(a.w, ae.Kind, d.cfg.Client.Key.scrub(ae.Error()))
				d.mu.Unlock()
			}
		}
		if serr == nil {
			rec.TTFTMs, rec.E2EMs = ms(resp.TTFT), ms(resp.E2E)
			rec.TTFTFromArrivalMs = rec.SentMs + rec.TTFTMs - rec.ArrivalMs
			rec.PromptTokens, rec.CachedTokens, rec.CachedKnown = resp.PromptTokens, resp.CachedTokens, resp.CachedKnown
			rec.OutputTokens = resp.OutputTokens
			d.finish(ctx, i, Completed, "")
			return
		}
		last = ae
		rec.Failures = append(rec.Failures, string(ae.Kind))
		if ctx.Err() != nil || ae.Kind == KindCancelled {
			d.finish(ctx, i, Cancelled, d.cfg.Client.Key.scrub(ae.Error()))
			return
		}
		if !ae.Retryable() {
			break
		}
		// A capacity rejection is about this request on that worker: it
		// is retried on another worker, never on the same one.
		if ae.Kind == KindRejected && !d.another(failed) {
			break
		}
	}
	st := Failed
	if last != nil && (last.Kind == KindTimeout || last.Kind == KindStall) {
		st = TimedOut
	}
	reason := "failed"
	if last != nil {
		reason = d.cfg.Client.Key.scrub(last.Error())
	}
	if rec.Worker >= 0 {
		d.mu.Lock()
		d.workers[rec.Worker].failed++
		d.mu.Unlock()
	}
	d.finish(ctx, i, st, reason)
}

// finish records request i's outcome, lets the request go (its record
// stays) and streams it.
func (d *driver) finish(ctx context.Context, i int, st Status, reason string) {
	d.mu.Lock()
	q := d.reqs[i]
	rec := &q.rec
	rec.Status, rec.Reason = st, reason
	d.records[i] = *rec
	delete(d.reqs, i)
	d.done++
	switch st {
	case Completed:
		d.completed++
	case Failed, TimedOut:
		d.failedN++
	}
	d.mu.Unlock()
	if d.cfg.Updates != nil {
		r := *rec
		r.Failures = append([]string(nil), rec.Failures...)
		u := Update{Record: &r}
		// Delivered when there is room, even after ctx ended (the records
		// of cancelled requests); a blocked consumer holds the run only
		// until ctx ends.
		select {
		case d.cfg.Updates <- u:
		default:
			select {
			case d.cfg.Updates <- u:
			case <-ctx.Done():
			}
		}
	}
}
