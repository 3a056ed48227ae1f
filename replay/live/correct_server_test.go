package live

import (
	"context"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// pauseRouter, before routing each request of pause (the first time),
// hands the test's goroutine a channel and waits until it is closed: the
// test does what it must while the driver waits.
type pauseRouter struct {
	route.Router
	pause map[int]bool
	at    chan<- chan struct{}
}

func (p *pauseRouter) Route(now time.Duration, req *trace.Request) route.Decision {
	if p.pause[req.Index] {
		delete(p.pause, req.Index)
		resume := make(chan struct{})
		p.at <- resume
		<-resume
	}
	return p.Router.Route(now, req)
}

// A simulator killed and started again between two requests, with nothing
// in flight, so that the driver sees no failure: only the KV events tell
// (the new publisher numbers from 1 again). The requests after the restart
// repeat those before it. Uncorrected, kvscope's model keeps the old
// server's blocks and predicts hits the restarted server does not have
// (the responses' cached_tokens, a signal independent of the events, say
// so); corrected, the model is renewed at the first send after the mirror
// told the restart and predicts every request's cached_tokens exactly
// (concurrency 1, a cache that does not evict).
func TestRealServerKVEventsModelCorrected(t *testing.T) {
	const prefix, own, before = 8, 2, 8
	var chains [][]uint64
	for i := range before {
		ch := []uint64{}
		for b := range prefix {
			ch = append(ch, uint64(1+b))
		}
		for b := range own {
			ch = append(ch, uint64(100+own*i+b))
		}
		chains = append(chains, ch)
	}
	chains = append(chains, chains...) // after the restart: the same again
	for _, tc := range []struct {
		name    string
		correct bool
	}{{"uncorrected", false}, {"corrected", true}} {
		correct := tc.correct
		// Messages enough that the new publisher's first ones number
		// below the last one seen (a restart, not a gap).
		k := startKVSim(t, 4)
		srv, eps, c, m, kv := k.srv, k.eps, k.c, k.m, k.kv
		tr := treeTraceChains(t, 16, chains)
		at := make(chan chan struct{})
		type outcome struct {
			res *Result
			err error
		}
		done := make(chan outcome, 1)
		// recentFor spans the run: the simulator's events come a flush
		// (1 s) or more after each response, and on a loaded machine may
		// come later than the default 2 s, which would let the correction
		// remove blocks the server holds and fail the test for the
		// machine's load. The removals are TestModelCorrectedFromMirror's;
		// here the restart is tested.
		cfg := Config{Workers: eps, Router: "round_robin", Concurrency: 1, KVMirror: kv, NoModelCorrection: !correct, recentFor: patience,
			Client: ClientConfig{Model: "kvscope-test-model", Timeout: patience, FirstTokenTimeout: patience, StallTimeout: patience},
			wrapRouter: func(r route.Router) route.Router {
				return &pauseRouter{Router: r, pause: map[int]bool{before: true}, at: at}
			}}
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		go func() {
			res, err := Run(ctx, tr, tr.Requests, cfg)
			done <- outcome{res, err}
		}()
		var out outcome
		select {
		case resume := <-at:
			st := m.Stats()
			srv[0].Kill()
			srv[0] = restartSim(t, srv[0])
			// Fences until the new publisher's events come in (its
			// first ones may be lost while it connects).
			fence(t, c, eps[0], m, &k.next)
			if got := m.Stats().Restarts; got != st.Restarts+1 {
				t.Fatalf("the mirror counted %d restarts, want %d", got, st.Restarts+1)
			}
			close(resume)
			out = <-done
		case out = <-done:
			t.Fatalf("%s: the run ended before request %d was routed: %v", tc.name, before, out.err)
		}
		if out.err != nil {
			t.Fatal(out.err)
		}
		res := out.res
		if res.Completed != len(chains) {
			t.Fatalf("%s: %d of %d completed: %v", tc.name, res.Completed, len(chains), res.FailReasons)
		}
		var model, cached, exact int
		for i, r := range res.Records {
			model += r.ModelCachedTokens
			cached += r.CachedTokens
			if r.ModelCachedTokens == r.CachedTokens {
				exact++
			} else if correct {
				t.Errorf("%s: request %d: model %d cached tokens, server %d", tc.name, i, r.ModelCachedTokens, r.CachedTokens)
			}
		}
		// The server's own view, independent of the events: nothing
		// cached for the first request after the restart, then the
		// shared prefix only.
		if res.Records[before].CachedTokens != 0 || res.Records[before+1].CachedTokens != prefix*16 {
			t.Fatalf("%s: the server reported %d and %d cached tokens after its restart", tc.name,
				res.Records[before].CachedTokens, res.Records[before+1].CachedTokens)
		}
		w := res.Workers[0]
		corr := w.Mirror.Correction
		if correct {
			if corr.Clears != 1 || corr.ClearedBlocks != prefix+own*before || corr.RemovedBlocks != 0 || corr.Replayed != 0 {
				t.Fatalf("%s: corrections %+v", tc.name, corr)
			}
		} else {
			// The uncorrected model predicts the old server's blocks:
			// every request after the restart is over-predicted.
			if corr != (ModelCorrection{}) || exact != before || model-cached != prefix*16+(len(chains)-before)*own*16 {
				t.Fatalf("uncorrected: %d of %d exact, model %d against %d cached tokens, corrections %+v", exact, len(chains), model, cached, corr)
			}
		}
		t.Logf("%s: model %d cached tokens against the responses' %d (%d of %d requests exact); hit ratio responses %.4f, model %.4f; corrections %+v; mirror: %d restarts, %d gaps",
			tc.name, model, cached, exact, len(chains), w.HitRatio, w.ModelHitRatio, corr, w.Mirror.Restarts, w.Mirror.Gaps)
	}
}
