package live

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

// genSource yields n requests made as they are read, none kept: request k
// has a root block shared by all and two blocks of its own (4 tokens
// each, the fake's block size).
type genSource struct {
	n, read int
}

func (g *genSource) Info() trace.Info { return trace.Info{Source: "gen", BlockSize: 4} }

func (g *genSource) NextInto(r *trace.Request) error {
	if g.read == g.n {
		return io.EOF
	}
	k := g.read
	g.read++
	blocks := append(r.Blocks[:0], 0, trace.BlockID(1+2*k), trace.BlockID(2+2*k))
	*r = trace.Request{Index: k, ID: int64(k), Session: -1, Parent: trace.NoParent,
		Input: 12, Output: 2, Blocks: blocks, LastBlockTokens: 4}
	return nil
}

// TestStreamedRunHoldsInFlightOnly: a run reads its source as it sends and
// holds the requests in flight, not the trace. A source of a million
// requests, all due at once, through 4 slots; the worker stops the run at
// its 20th request. Whatever the trace's length: every read finds at most
// 4 requests held (the 4 in flight), the run reads one request past the
// last it reached, nothing is held after it, the plan keeps no request
// (no comparison asked) and indexes only the blocks of the requests
// reached, and the requests never reached are counted, not recorded.
func TestStreamedRunHoldsInFlightOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		expect bool // the size known from a first pass (else the rest is read and counted)
	}{
		{"counted by a first pass", 1_000_000, true},
		{"rest read and counted", 5_000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			stop, stopRun := context.WithCancel(ctx)
			defer stopRun()
			f := newFake()
			f.fault = func(n int64, _ http.ResponseWriter, _ *http.Request) bool {
				if n == 20 {
					stopRun()
				}
				return false
			}
			srv := httptest.NewServer(f)
			defer srv.Close()
			src := &genSource{n: tc.n}
			var mu sync.Mutex
			var held []int
			cfg := Config{Workers: []Endpoint{mustEndpoint(t, srv.URL)}, Router: "round_robin", Concurrency: 4,
				Client:   ClientConfig{Model: "m", Timeout: patience},
				heldHook: func(n int) { mu.Lock(); held = append(held, n); mu.Unlock() }}
			if tc.expect {
				cfg.Expect = Expect{Requests: tc.n}
			}
			res, err := RunStream(stop, src, cfg)
			if !errors.Is(err, context.Canceled) || res == nil {
				t.Fatalf("RunStream: %v, %v; want a result and the cancellation", res, err)
			}
			reached := len(res.Records)
			if reached < 20 || reached >= 1000 {
				t.Fatalf("%d requests reached; want at least the 20 the worker saw, and far fewer than the trace", reached)
			}
			wantRead := reached + 1
			if !tc.expect {
				wantRead = tc.n
			}
			if src.read != wantRead {
				t.Errorf("%d requests read; want %d", src.read, wantRead)
			}
			if res.Requests != tc.n || res.NotSent != tc.n-reached || res.Completed+res.Failed+res.TimedOut+res.Cancelled != tc.n {
				t.Errorf("requests %d, not sent %d, completed %d, cancelled %d; want %d in all, %d not sent",
					res.Requests, res.NotSent, res.Completed, res.Cancelled, tc.n, tc.n-reached)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(held) != reached+2 { // a call per read up to the one never reached, one after the run
				t.Fatalf("%d held counts for %d requests reached", len(held), reached)
			}
			for i, h := range held {
				if h > cfg.Concurrency {
					t.Fatalf("read %d: %d requests held; want at most the %d in flight", i, h, cfg.Concurrency)
				}
			}
			if last := held[len(held)-1]; last != 0 {
				t.Errorf("%d requests still held after the run", last)
			}
			if res.Plan.Requests != nil || res.Plan.Model.Requests != nil {
				t.Errorf("the plan kept %d requests (%d in the model) without a comparison", len(res.Plan.Requests), len(res.Plan.Model.Requests))
			}
			if res.DistinctBlocks != 1+2*reached {
				t.Errorf("%d distinct blocks planned; want %d, those of the %d requests reached", res.DistinctBlocks, 1+2*reached, reached)
			}
		})
	}
}

// threeSource yields n requests of 3 blocks, request k's given by blocks
// (they are 4 tokens each).
type threeSource struct {
	n, read int
	name    string
	blocks  func(k int) (a, b, c trace.BlockID)
}

func (g *threeSource) Info() trace.Info { return trace.Info{Source: g.name, BlockSize: 4} }

func (g *threeSource) NextInto(r *trace.Request) error {
	if g.read == g.n {
		return io.EOF
	}
	k := g.read
	g.read++
	a, b, c := g.blocks(k)
	blocks := append(r.Blocks[:0], a, b, c)
	*r = trace.Request{Index: k, ID: int64(k), Session: -1, Parent: trace.NoParent,
		Input: 12, Output: 2, Blocks: blocks, LastBlockTokens: 4}
	return nil
}

// pairSource yields n requests of 3 blocks: a root shared by all, a block
// shared by requests 2j and 2j+1, and one of its own.
func pairSource(n int) *threeSource {
	return &threeSource{n: n, name: "pairs", blocks: func(k int) (a, b, c trace.BlockID) {
		return 0, trace.BlockID(1_000_000 + k/2), trace.BlockID(2_000_000 + k)
	}}
}

// TestModelIDsRecycled: with a router that keeps no per-block state and no
// plan kept, the model's block table recycles dense ids past its limit, so
// its ids (and the model caches' arrays indexed by them) stay bounded
// while the run sends ever new blocks; and the model's prediction for every
// request is the same as without recycling (server_lru never breaks ties
// by id). Concurrency 1, so both runs see the same order of events.
func TestModelIDsRecycled(t *testing.T) {
	const n = 400
	run := func(limit int) *Result {
		t.Helper()
		srv := httptest.NewServer(newFake())
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		res, err := RunStream(ctx, pairSource(n), Config{Workers: []Endpoint{mustEndpoint(t, srv.URL)}, Router: "round_robin",
			Concurrency: 1, CacheBlocks: 8, Client: ClientConfig{Model: "m", Timeout: patience}, idLimit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if res.Completed != n {
			t.Fatalf("%d of %d completed", res.Completed, n)
		}
		return res
	}
	exact, rec := run(-1), run(32)
	if exact.IDs != nil || exact.Plan.Model.Blocks.Len() != 1+n/2+n {
		t.Fatalf("exact run: recycling %+v, %d ids; want none and %d", exact.IDs, exact.Plan.Model.Blocks.Len(), 1+n/2+n)
	}
	if rec.IDs == nil || rec.IDs.Sweeps == 0 || rec.IDs.Recycled == 0 {
		t.Fatalf("no ids recycled: %+v", rec.IDs)
	}
	if l := rec.Plan.Model.Blocks.Len(); l > 2*rec.IDs.Limit {
		t.Fatalf("%d dense ids under a limit of %d", l, rec.IDs.Limit)
	}
	hits := 0
	for i := range exact.Records {
		a, b := exact.Records[i], rec.Records[i]
		if a.ModelCachedTokens != b.ModelCachedTokens || a.ModelEvicted != b.ModelEvicted {
			t.Fatalf("request %d: model cached %d, evicted %d with recycled ids; %d and %d without", i, b.ModelCachedTokens, b.ModelEvicted, a.ModelCachedTokens, a.ModelEvicted)
		}
		if a.ModelCachedTokens > 4 {
			hits++
		}
	}
	if hits < n/4 {
		t.Fatalf("only %d requests hit past the root: the test shows little", hits)
	}
}
