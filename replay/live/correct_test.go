package live

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/live/liverun"
	"github.com/kvscope/kvscope/replay/route"
)

// The correction's two paths, with a fake worker whose cache the test
// changes and a mirror the test feeds the matching events (what a real
// server and its publisher do is in correct_server_test.go):
//   - before request 1 the worker evicts request 0's leaf block: the
//     corrected model drops it (the mirror says it is gone) and predicts
//     the worker's cached tokens; the uncorrected one predicts it;
//   - before request 2 the worker restarts, and the mirror learns of it
//     only from the new publisher's first message, after request 2: at
//     request 3 the corrected model is renewed with request 2 put back;
//     the uncorrected one still predicts the old server's blocks.
//
// Request 2's prediction is wrong either way: nothing had told the driver.
func TestModelCorrectedFromMirror(t *testing.T) {
	chains := [][]uint64{{1, 2, 3}, {1, 2, 3, 9}, {1, 2}, {1, 2, 3, 9, 7}}
	tr := treeTraceChains(t, 4, chains)
	plan, err := liverun.NewPlan(tr, tr.Requests, 4)
	if err != nil {
		t.Fatal(err)
	}
	blockToks := func(i, k int) []any { // request i's block k's tokens
		var out []any
		for _, x := range plan.Tokens(i, nil)[4*k : 4*k+4] {
			out = append(out, x)
		}
		return out
	}
	stored := func(seq uint64, parent any, i int, ids ...int) [][]byte {
		var hs, toks []any
		for _, k := range ids {
			hs = append(hs, 100+chains[i][k])
			toks = append(toks, blockToks(i, k)...)
		}
		return storedMsg(t, seq, parent, hs, toks, 4)
	}
	prefixKey := func(i, blocks int) string {
		var s []string
		for _, x := range plan.Tokens(i, nil)[:4*blocks] {
			s = append(s, fmt.Sprint(x))
		}
		return strings.Join(s, ",")
	}
	for _, correct := range []bool{false, true} {
		f := newFake()
		srv := httptest.NewServer(f)
		m := newMirror()
		m.accepted()
		kv := &KVEvents{Endpoints: []KVEndpoint{{Bind: true, Addr: "tcp://127.0.0.1:1"}}, Mirrors: []*Mirror{m}}
		at := make(chan chan struct{})
		done := make(chan *Result, 1)
		errc := make(chan error, 1)
		go func() {
			cfg := Config{Concurrency: 1, KVMirror: kv, NoModelCorrection: !correct, recentFor: -1, Router: "round_robin",
				Client: ClientConfig{Model: "m", Timeout: patience, FirstTokenTimeout: patience, StallTimeout: patience},
				wrapRouter: func(r route.Router) route.Router {
					return &pauseRouter{Router: r, pause: map[int]bool{1: true, 2: true, 3: true}, at: at}
				}}
			ep, _ := ParseEndpoint(srv.URL)
			cfg.Workers = []Endpoint{ep}
			res, err := Run(context.Background(), tr, tr.Requests, cfg)
			errc <- err
			done <- res
		}()
		// Before request 1: request 0's blocks stored, then its leaf
		// evicted, on the worker and in the events.
		resume := <-at
		m.receive(stored(1, nil, 0, 0, 1, 2))
		f.mu.Lock()
		delete(f.seen, prefixKey(0, 3))
		f.mu.Unlock()
		m.receive([][]byte{[]byte("kv@x@m"), seqFrame(2), mp(t, []any{1.0, []any{[]any{"BlockRemoved", []any{100 + chains[0][2]}}}})})
		close(resume)
		// Before request 2: request 1's new blocks stored; the worker
		// restarts (its publisher reconnects, and says nothing yet).
		resume = <-at
		m.receive(stored(3, 100+chains[1][1], 1, 2, 3))
		f.mu.Lock()
		clear(f.seen)
		f.mu.Unlock()
		m.accepted()
		close(resume)
		// Before request 3: the new publisher's first message (request
		// 2's blocks) tells the restart.
		resume = <-at
		m.receive(stored(1, nil, 2, 0, 1))
		close(resume)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		res := <-done
		srv.Close()
		if res.Completed != len(chains) {
			t.Fatalf("correct=%v: %d completed: %v", correct, res.Completed, res.FailReasons)
		}
		var model, cached []int
		for _, r := range res.Records {
			model, cached = append(model, r.ModelCachedTokens), append(cached, r.CachedTokens)
		}
		corr := res.Workers[0].Mirror.Correction
		// The worker's own counts: nothing; request 0's first two blocks
		// (its leaf evicted); nothing after the restart; request 2's two.
		wantCached := []int{0, 8, 0, 8}
		wantModel := []int{0, 12, 8, 16}
		wantCorr := ModelCorrection{}
		if correct {
			wantModel = []int{0, 8, 8, 8}
			wantCorr = ModelCorrection{RemovedBlocks: 1, Clears: 1, ClearedBlocks: 4, Replayed: 1, Unsynced: 1}
		}
		if !slices.Equal(cached, wantCached) || !slices.Equal(model, wantModel) || corr != wantCorr {
			t.Fatalf("correct=%v: cached %v (want %v), model %v (want %v), corrections %+v (want %+v)", correct, cached, wantCached, model, wantModel, corr, wantCorr)
		}
	}
}
