package live

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// holdWorker is an OpenAI-API worker for cancellation tests: its first
// serve completion requests answer at once, every later one is held (the
// even-numbered ones before the response headers, the odd ones after a first
// token) until the client goes away or the test releases it, and is
// announced on held. /metrics reports a cache of 1000 blocks of 4 tokens
// and counters of the prompt tokens served (8 per request), which also grow
// by moving on every reading (0: they move only with requests);
// with hangMetricsAfter > 0, readings after that many hang until the client
// goes away.
type holdWorker struct {
	serve            int64
	moving           int64
	hangMetricsAfter int64
	requests         atomic.Int64
	served           atomic.Int64
	metricsReads     atomic.Int64
	held             chan int64
	releaseOnce      sync.Once
	released         chan struct{}
}

func newHoldWorker(serve int64) *holdWorker {
	return &holdWorker{serve: serve, held: make(chan int64, 64), released: make(chan struct{})}
}

func (h *holdWorker) release() { h.releaseOnce.Do(func() { close(h.released) }) }

func (h *holdWorker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health":
		return
	case "/metrics":
		n := h.metricsReads.Add(1)
		if h.hangMetricsAfter > 0 && n > h.hangMetricsAfter {
			select {
			case <-r.Context().Done():
			case <-h.released:
			}
			return
		}
		c := 8*h.served.Load() + n*h.moving
		fmt.Fprintf(w, "vllm:prefix_cache_queries_total %d\nvllm:prefix_cache_hits_total %d\n", c, c/2)
		fmt.Fprintf(w, "vllm:cache_config_info{block_size=\"4\",num_gpu_blocks=\"1000\"} 1\n")
		return
	}
	n := h.requests.Add(1)
	fl := w.(http.Flusher)
	if n > h.serve {
		if n%2 == 1 {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"a \"}]}\n\n")
			fl.Flush()
		}
		h.held <- n
		select {
		case <-r.Context().Done():
		case <-h.released:
		}
		return
	}
	h.served.Add(1) // counted before the client can see the end
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"a \"}]}\n\n")
	fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":1,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n")
	fmt.Fprintf(w, "data: [DONE]\n\n")
}

// startHold serves h on a fresh 127.0.0.1 port until the test ends (held
// requests are released first, so the server can close).
func startHold(t *testing.T, h *holdWorker) Endpoint {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.release)
	ep, err := ParseEndpoint(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

type runOut struct {
	res *Result
	err error
}

// startRun runs Run in the background.
func startRun(ctx context.Context, tr *trace.Trace, cfg Config) <-chan runOut {
	done := make(chan runOut, 1)
	go func() {
		res, err := Run(ctx, tr, tr.Requests, cfg)
		done <- runOut{res, err}
	}()
	return done
}

// waitHeld waits until the worker holds n requests; the run ending first
// fails the test.
func waitHeld(t *testing.T, h *holdWorker, n int, done <-chan runOut) {
	t.Helper()
	for k := 0; k < n; k++ {
		select {
		case <-h.held:
		case o := <-done:
			t.Fatalf("the run ended before %d requests were held: %+v, %v", n, o.res, o.err)
		}
	}
}

// A cancelled run reports it: the requests it never sent and the ones cut
// in flight are Cancelled (not failed, not timed out), the Result says it
// was interrupted and how much was sent, Run's error wraps the context's,
// the worker is not blamed, /metrics is read once without waiting for it to
// settle, and SentWorkload holds the sent requests only.
func TestCancelledRun(t *testing.T) {
	h := newHoldWorker(3)
	ep := startHold(t, h)
	tr := treeTrace(t, 3, 12, 1, 3, 4, 0.5, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := make(chan Update, 64)
	cfg := Config{Workers: []Endpoint{ep}, Router: "round_robin", Concurrency: 2, Retries: 2, Backoff: time.Millisecond,
		ScrapeInterval: time.Hour, Updates: updates, SnapshotEvery: time.Hour, Client: ClientConfig{Model: "m"}}
	done := startRun(ctx, tr, cfg)
	// Concurrency 2: the 4th and 5th requests are sent only once the first
	// three have ended, and both are then held.
	waitHeld(t, h, 2, done)
	cancel()
	o := <-done
	res, err := o.res, o.err
	if !errors.Is(err, context.Canceled) || res == nil {
		t.Fatalf("Run after cancel: %+v, %v; want the result and an error wrapping context.Canceled", res, err)
	}
	if !strings.Contains(err.Error(), "5 of 12 requests sent") {
		t.Errorf("error %q", err)
	}
	if !res.Interrupted || res.InterruptCause != "context canceled" || res.Sent != 5 || res.Completed != 3 ||
		res.Cancelled != 9 || res.Failed != 0 || res.TimedOut != 0 || len(res.FailReasons) != 0 {
		t.Fatalf("result: interrupted %v (%q), sent %d, completed %d, cancelled %d, failed %d, timed out %d, reasons %v",
			res.Interrupted, res.InterruptCause, res.Sent, res.Completed, res.Cancelled, res.Failed, res.TimedOut, res.FailReasons)
	}
	cut, never := 0, 0
	for _, r := range res.Records {
		switch {
		case r.Status == Completed:
		case r.Status == Cancelled && r.Attempts == 1:
			cut++
			if !slices.Equal(r.Failures, []string{string(KindCancelled)}) || !strings.Contains(r.Reason, "in flight") || r.Worker != 0 {
				t.Errorf("request cut in flight: %+v", r)
			}
		case r.Status == Cancelled && r.Attempts == 0:
			never++
			if r.Reason != "run cancelled before sending" || r.Worker != -1 {
				t.Errorf("request never sent: %+v", r)
			}
		default:
			t.Errorf("request %d: %+v", r.Index, r)
		}
	}
	// The 7 requests never reached are counted, with no record each: a
	// run stopped early holds nothing per request it did not send.
	if cut != 2 || never != 0 || res.NotSent != 7 || len(res.Records) != 5 {
		t.Fatalf("%d cut in flight, %d records never sent, %d counted not sent, %d records; want 2, 0, 7 and 5", cut, never, res.NotSent, len(res.Records))
	}
	w := res.Workers[0]
	if w.Completed != 3 || w.Failed != 0 || len(w.Failures) != 0 || w.Downs != 0 || !w.Healthy {
		t.Fatalf("a cancelled request is not the worker's failure: %+v", w)
	}
	// One reading before the run, one after it, none waiting to settle.
	if n := h.metricsReads.Load(); n != 2 || !w.HasMetrics || w.MetricsSettled {
		t.Fatalf("/metrics read %d times, has %v, settled %v; want 2, true, false", n, w.HasMetrics, w.MetricsSettled)
	}
	// SentWorkload: the 5 requests sent, re-indexed, chains unchanged.
	sent := res.SentWorkload()
	if len(sent.Requests) != 5 || len(res.Plan.Model.Requests) != 5 {
		t.Fatalf("sent workload %d requests (plan %d)", len(sent.Requests), len(res.Plan.Model.Requests))
	}
	k := 0
	for i, r := range res.Records {
		if r.Attempts == 0 {
			continue
		}
		q := sent.Requests[k]
		if q.Index != k || !slices.Equal(q.Blocks, res.Plan.Model.Requests[i].Blocks) || q.Arrival != res.Plan.Model.Requests[i].Arrival {
			t.Fatalf("sent request %d: %+v, plan request %d: %+v", k, q, i, res.Plan.Model.Requests[i])
		}
		k++
	}
	// Every record was streamed, the cancelled ones included.
	close(updates)
	st := map[Status]int{}
	for u := range updates {
		if u.Record != nil {
			st[u.Record.Status]++
		}
	}
	if st[Completed] != 3 || st[Cancelled] != 2 || len(st) != 2 {
		t.Fatalf("streamed records %v", st)
	}
}

// A context already done: nothing is sent, Run says so without a Result.
func TestCancelledBeforeStart(t *testing.T) {
	h := newHoldWorker(100)
	ep := startHold(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr := treeTrace(t, 3, 4, 1, 3, 4, 0.5, 0)
	res, err := Run(ctx, tr, tr.Requests, Config{Workers: []Endpoint{ep}, Router: "round_robin", CacheBlocks: 100, ServerBlockSize: 4})
	if res != nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "before the run started") {
		t.Fatalf("%+v, %v", res, err)
	}
	if n := h.requests.Load(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// The watchdog keeps the first-token deadline through chunks without a
// token (prefill: an empty delta, a usage-only chunk); the stall timeout
// starts with the first token.
func TestFirstTokenDeadlineIgnoresTokenlessChunks(t *testing.T) {
	withToken := make(chan bool, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"\"}]}\n\n")
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":0}}\n\n")
		if <-withToken {
			fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"a \"}]}\n\n")
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then nothing until the client gives up
	}))
	defer srv.Close()
	ep, err := ParseEndpoint(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const first = 50 * time.Millisecond
	cases := []struct {
		token   bool
		cfg     ClientConfig
		msg     string
		atLeast time.Duration
	}{
		// Tokenless chunks at once, then silence: the first-token deadline
		// (50 ms) ends it, not the 1 ns stall timeout.
		{false, ClientConfig{Model: "m", FirstTokenTimeout: first, StallTimeout: time.Nanosecond, Timeout: time.Minute},
			"no first token within the first-token timeout", first},
		// A token, then silence: the stall timeout ends it (the first-token
		// deadline, an hour, no longer applies).
		{true, ClientConfig{Model: "m", FirstTokenTimeout: time.Hour, StallTimeout: time.Millisecond, Timeout: time.Minute},
			"no chunk within the stall timeout", time.Millisecond},
	}
	for _, c := range cases {
		withToken <- c.token
		cl := NewClient(c.cfg, []Endpoint{ep})
		start := time.Now()
		_, err := cl.Send(context.Background(), ep, []uint32{1, 2, 3, 4}, 4)
		took := time.Since(start)
		cl.Close()
		var ae *AttemptError
		if !errors.As(err, &ae) || ae.Kind != KindStall || ae.Msg != c.msg {
			t.Fatalf("token %v: %v; want %s: %s", c.token, err, KindStall, c.msg)
		}
		// A timer never fires early: ending before the deadline that should
		// apply means a shorter one was armed.
		if took < c.atLeast {
			t.Fatalf("token %v: ended after %v, before the %v deadline", c.token, took, c.atLeast)
		}
	}
}

// settle waits for the /metrics counters of all workers together, within
// one bound: a worker whose counters never stop moving is read at most
// 1 + settleFor/settleEvery times, one whose /metrics hangs is given up at
// the bound, and a worker whose counters are still settles beside them.
func TestSettleBounded(t *testing.T) {
	moving := newHoldWorker(100)
	moving.moving = 10
	hung := newHoldWorker(100)
	hung.hangMetricsAfter = 1 // answers the reading before the run only
	still := newHoldWorker(100)
	eps := []Endpoint{startHold(t, moving), startHold(t, hung), startHold(t, still)}
	tr := treeTrace(t, 4, 3, 1, 3, 4, 0.5, 0)
	const settleFor, every = 200 * time.Millisecond, 20 * time.Millisecond
	cfg := Config{Workers: eps, Router: "round_robin", ScrapeInterval: time.Hour, settleFor: settleFor, settleEvery: every,
		Client: ClientConfig{Model: "m"}}
	res, err := Run(context.Background(), tr, tr.Requests, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed != 3 {
		t.Fatalf("completed %d: %v", res.Completed, res.FailReasons)
	}
	// Readings after the one before the run.
	after := moving.metricsReads.Load() - 1
	if max := int64(settleFor/every) + 1; after < 1 || after > max {
		t.Errorf("moving counters read %d times after the run; want 1..%d", after, max)
	}
	if w := res.Workers[0]; !w.HasMetrics || w.MetricsSettled {
		t.Errorf("moving worker: has %v settled %v; want its last reading, not settled", w.HasMetrics, w.MetricsSettled)
	}
	if w := res.Workers[1]; w.HasMetrics || w.MetricsSettled {
		t.Errorf("hung worker: has %v settled %v; want no reading", w.HasMetrics, w.MetricsSettled)
	}
	if n, w := still.metricsReads.Load(), res.Workers[2]; n != 3 || !w.HasMetrics || !w.MetricsSettled {
		t.Errorf("still worker: %d readings, has %v settled %v; want 3 (before, two equal after), true, true", n, w.HasMetrics, w.MetricsSettled)
	}
}

// panicRouter panics when routing, or completing, the request with index at.
type panicRouter struct {
	route.Router
	at         int
	inComplete bool
}

func (p panicRouter) Route(now time.Duration, req *trace.Request) route.Decision {
	if !p.inComplete && req.Index == p.at {
		panic(fmt.Sprintf("test router: route %d", req.Index))
	}
	return p.Router.Route(now, req)
}

func (p panicRouter) Complete(c route.Completion) error {
	if p.inComplete && c.Req.Index == p.at {
		panic(fmt.Sprintf("test router: complete %d", c.Req.Index))
	}
	return p.Router.Complete(c)
}

// A panic in a router called by the driver ends the run with an error
// naming the scenario and the request, instead of crashing the process; the
// driver's lock is not left held (the run returns at all).
func TestRouterPanicBecomesError(t *testing.T) {
	for _, inComplete := range []bool{false, true} {
		h := newHoldWorker(1000)
		ep := startHold(t, h)
		tr := treeTrace(t, 5, 12, 1, 3, 4, 0.5, 0)
		cfg := Config{Workers: []Endpoint{ep, ep}, Router: "cache_aware", Concurrency: 3, ScrapeInterval: time.Hour,
			Client:     ClientConfig{Model: "m"},
			wrapRouter: func(r route.Router) route.Router { return panicRouter{Router: r, at: 5, inComplete: inComplete} }}
		res, err := Run(context.Background(), tr, tr.Requests, cfg)
		var pe *PanicError
		if res != nil || !errors.As(err, &pe) {
			t.Fatalf("complete %v: %+v, %v; want a *PanicError", inComplete, res, err)
		}
		want := fmt.Sprintf("test router: route %d", 5)
		if inComplete {
			want = fmt.Sprintf("test router: complete %d", 5)
		}
		msg := err.Error()
		if pe.Request != 5 || pe.Where != "serving" || !strings.HasPrefix(pe.Router, "cache_aware") || pe.ModelEvict != "server_lru" ||
			!strings.Contains(msg, "serving request 5") || !strings.Contains(msg, want) || !strings.Contains(msg, "router cache_aware") ||
			strings.Contains(msg, "\n") || !strings.Contains(string(pe.Stack), "panicRouter") {
			t.Fatalf("complete %v: %#v\n%s", inComplete, pe, msg)
		}
	}
}
