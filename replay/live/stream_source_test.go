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
