package live

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/live/liverun"
	"github.com/kvscope/kvscope/replay/trace"
)

// fake is a small streaming worker for protocol and fault tests: it serves
// /v1/completions (OpenAI) and /generate (sglang), /health and /metrics,
// reporting cached tokens as "the prompt's whole blocks seen before".
type fake struct {
	mu       sync.Mutex
	seen     map[string]bool
	queried  int64
	hit      int64
	requests atomic.Int64
	auth     []string
	// start is the process_start_time_seconds it reports (none when 0).
	start float64
	// behaviour, per request number (1-based); nil = serve normally
	fault func(n int64, w http.ResponseWriter, r *http.Request) bool
}

func newFake() *fake { return &fake{seen: map[string]bool{}} }

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	switch r.URL.Path {
	case "/health":
		return
	case "/metrics":
		f.mu.Lock()
		defer f.mu.Unlock()
		fmt.Fprintf(w, "# TYPE vllm:prefix_cache_queries_total counter\nvllm:prefix_cache_queries_total{model_name=\"m\"} %d\n", f.queried)
		fmt.Fprintf(w, "# TYPE vllm:prefix_cache_hits_total counter\nvllm:prefix_cache_hits_total{model_name=\"m\"} %d\n", f.hit)
		fmt.Fprintf(w, "# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{block_size=\"4\",num_gpu_blocks=\"1000\"} 1\n")
		if f.start > 0 {
			fmt.Fprintf(w, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %g\n", f.start)
		}
		return
	}
	n := f.requests.Add(1)
	if f.fault != nil && f.fault(n, w, r) {
		return
	}
	var body struct {
		Prompt   json.RawMessage `json:"prompt"`
		InputIDs []uint32        `json:"input_ids"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var toks []string
	if r.URL.Path == "/generate" {
		for _, t := range body.InputIDs {
			toks = append(toks, fmt.Sprint(t))
		}
	} else {
		var ids []uint32
		if json.Unmarshal(body.Prompt, &ids) == nil {
			for _, t := range ids {
				toks = append(toks, fmt.Sprint(t))
			}
		} else {
			var s string
			_ = json.Unmarshal(body.Prompt, &s)
			toks = strings.Fields(s)
		}
	}
	cached := 0
	f.mu.Lock()
	for i := 4; i <= len(toks); i += 4 {
		k := strings.Join(toks[:i], ",")
		if f.seen[k] {
			cached += 4
		}
		f.seen[k] = true
	}
	f.queried += int64(len(toks))
	f.hit += int64(cached)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	if r.URL.Path == "/generate" {
		for i := 1; i <= 2; i++ {
			fmt.Fprintf(w, "data: {\"text\":\"%s\",\"meta_info\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"cached_tokens\":%d}}\n\n",
				strings.Repeat("x", i), len(toks), i, cached)
			fl.Flush()
		}
	} else {
		fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"\"}]}\n\n")
		fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"a \"}]}\n\n")
		fl.Flush()
		fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"b \",\"finish_reason\":\"length\"}]}\n\n")
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":%d}}}\n\n", len(toks), cached)
	}
	fmt.Fprintf(w, "data: [DONE]\n\n")
}

// patience bounds a whole run against fake or real workers: a deadline
// against a hang, generous enough that a loaded machine does not reach it.
// No test here asserts how fast anything is.
const patience = 3 * time.Minute

func smallTrace(t testing.TB, n int) *trace.Trace {
	t.Helper()
	tr := treeTrace(t, 2, n, 1, 6, 4, 0.8, 0)
	return tr
}

func liveRun(t testing.TB, tr *trace.Trace, urls []string, cfg Config) *Result {
	t.Helper()
	for _, u := range urls {
		ep, err := ParseEndpoint(u)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Workers = append(cfg.Workers, ep)
	}
	if cfg.Router == "" {
		cfg.Router = "round_robin"
	}
	if cfg.Client.Timeout == 0 {
		cfg.Client.Timeout = patience
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 5 * time.Millisecond
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = 20 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	res, err := Run(ctx, tr, tr.Requests, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed+res.Failed+res.TimedOut != res.Requests || res.Requests != len(tr.Requests) {
		t.Fatalf("accounting: %d+%d+%d of %d", res.Completed, res.Failed, res.TimedOut, res.Requests)
	}
	return res
}

func TestProtocolsAgainstFake(t *testing.T) {
	for _, api := range []API{OpenAI, SGLang} {
		for _, words := range []bool{false, true} {
			if api == SGLang && words {
				continue
			}
			t.Run(fmt.Sprintf("%s/words=%v", api, words), func(t *testing.T) {
				f := newFake()
				srv := httptest.NewServer(f)
				defer srv.Close()
				tr := smallTrace(t, 40)
				res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, Client: ClientConfig{API: api, Words: words, Model: "m"}})
				if res.Completed != 40 || res.ServerBlockSize != 4 {
					t.Fatalf("completed %d, server block size %d", res.Completed, res.ServerBlockSize)
				}
				for _, r := range res.Records {
					if !r.CachedKnown || r.CachedTokens != r.ModelCachedTokens || r.PromptTokens != r.SentTokens || r.TTFTMs <= 0 || r.E2EMs < r.TTFTMs {
						t.Fatalf("record %+v", r)
					}
				}
				w := res.Workers[0]
				if !w.HasMetrics || float64(w.CachedTokens) != w.MetricsHit || float64(w.PromptTokens) != w.MetricsQueried || w.CachedTokens == 0 {
					t.Fatalf("worker %+v", w)
				}
			})
		}
	}
}

func TestRetryAfter5xxAndStreamCut(t *testing.T) {
	f := newFake()
	f.fault = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		switch n {
		case 1:
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return true
		case 3:
			// One chunk, then the connection drops.
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"a \"}]}\n\n")
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return true
		}
		return false
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	tr := smallTrace(t, 4)
	res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, Retries: 2, Client: ClientConfig{Model: "m"}})
	if res.Completed != 4 {
		t.Fatalf("completed %d: %v", res.Completed, res.FailReasons)
	}
	r0, r1 := res.Records[0], res.Records[1]
	if r0.Attempts != 2 || r0.Failures[0] != string(KindStatus5) {
		t.Fatalf("request 0: %+v", r0)
	}
	if r1.Attempts != 2 || r1.Failures[0] != string(KindCut) {
		t.Fatalf("request 1: %+v", r1)
	}
	// Without retries the same faults fail the requests, with reasons.
	f2 := newFake()
	f2.fault = f.fault
	srv2 := httptest.NewServer(f2)
	defer srv2.Close()
	res = liveRun(t, tr, []string{srv2.URL}, Config{Concurrency: 1, Client: ClientConfig{Model: "m"}})
	if res.Failed != 2 || res.Records[0].Status != Failed || !strings.Contains(res.Records[0].Reason, "503") ||
		res.Records[2].Status != Failed || !strings.Contains(res.Records[2].Reason, string(KindCut)) {
		t.Fatalf("no retries: %d failed; %+v / %+v", res.Failed, res.Records[0], res.Records[2])
	}
}

func TestStalledWorkerTimesOut(t *testing.T) {
	f := newFake()
	release := make(chan struct{})
	f.fault = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n != 2 {
			return false
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"a \"}]}\n\n")
		w.(http.Flusher).Flush()
		select { // stall mid-stream
		case <-release:
		case <-r.Context().Done():
		}
		return true
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	defer close(release)
	tr := smallTrace(t, 3)
	// The stalled request waits out the stall timeout whatever its value;
	// the others stream back to back, and a second leaves room for a
	// loaded machine to pause between their chunks without a false stall.
	res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, ProbeInterval: 10 * time.Millisecond,
		Client: ClientConfig{Model: "m", FirstTokenTimeout: patience, StallTimeout: time.Second}})
	r1 := res.Records[1]
	if r1.Status != TimedOut || !strings.Contains(r1.Reason, string(KindStall)) || res.TimedOut != 1 || res.Completed != 2 {
		t.Fatalf("stalled request: %+v; result %d completed %d timed out", r1, res.Completed, res.TimedOut)
	}
	// The worker answers its health probe: one stalled request does not take
	// it out of routing.
	if res.Workers[0].Downs != 0 || !res.Workers[0].Healthy {
		t.Fatalf("worker after a stall: %+v", res.Workers[0])
	}
}

const testKey = "sk-kvscope-TEST-4f1c9a"

// The key goes to the configured worker only; a redirect to another host
// is refused (and that host never sees a request); the key appears in no
// error, record or report, even when a server echoes it back.
func TestKeyOnlyToConfiguredHostsAndNeverReported(t *testing.T) {
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
	}))
	defer other.Close()
	f := newFake()
	f.fault = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		switch n {
		case 1: // echo the credentials back in an error body
			http.Error(w, "bad credentials: "+r.Header.Get("Authorization"), http.StatusInternalServerError)
			return true
		case 2:
			http.Redirect(w, r, other.URL+"/v1/completions", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	tr := smallTrace(t, 4)
	updates := make(chan Update, 100)
	res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, Updates: updates,
		Client: ClientConfig{Model: "m", Key: NewSecret(testKey + "\n")}})
	close(updates)
	if otherHits.Load() != 0 {
		t.Fatalf("the other host got %d requests", otherHits.Load())
	}
	if r := res.Records[1]; r.Status != Failed || !strings.Contains(r.Reason, "redirect") {
		t.Fatalf("redirected request: %+v", r)
	}
	if r := res.Records[0]; r.Status != Failed || !strings.Contains(r.Reason, "[redacted]") {
		t.Fatalf("echoing request: %+v", r)
	}
	f.mu.Lock()
	for _, a := range f.auth {
		if a != "Bearer "+testKey {
			t.Errorf("worker saw Authorization %q", a)
		}
	}
	f.mu.Unlock()
	// The result is all a report renders (analysis.LiveReport).
	var out strings.Builder
	rb, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(rb)
	fmt.Fprintf(&out, "%+v", *res)
	for u := range updates {
		fmt.Fprintf(&out, "%+v %#v\n", u.Record, u.Record)
	}
	cfg := ClientConfig{Key: NewSecret(testKey)}
	fmt.Fprintf(&out, "%v %+v %#v %s", cfg, cfg, cfg, cfg.Key)
	b, _ := json.Marshal(cfg)
	out.Write(b)
	if strings.Contains(out.String(), "4f1c9a") {
		t.Fatalf("the key leaked into the output:\n%s", out.String())
	}
}

func TestTLSWorker(t *testing.T) {
	srv := httptest.NewUnstartedServer(newFake())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	tr := smallTrace(t, 5)
	// Without the test CA the handshake fails: no cache size from /metrics,
	// and with one given, every request fails naming the certificate.
	if _, err := Run(context.Background(), tr, tr.Requests, Config{Workers: []Endpoint{mustEndpoint(t, srv.URL)}, Router: "round_robin"}); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, CacheBlocks: 100, Client: ClientConfig{Model: "m"}})
	if res.Completed != 0 || !strings.Contains(res.Records[0].Reason, "certificate") {
		t.Fatalf("untrusted certificate: %d completed, %q", res.Completed, res.Records[0].Reason)
	}
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	res = liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, Client: ClientConfig{Model: "m", TLS: cfg}})
	if res.Completed != 5 || !res.Workers[0].HasMetrics {
		t.Fatalf("TLS: %d completed: %v", res.Completed, res.FailReasons)
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, bad := range []string{"ftp://x", "http://user:pw@127.0.0.1:1", "127.0.0.1:8000", "http://127.0.0.1:1/?a=b", "http://"} {
		if _, err := ParseEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: error shows the password: %v", bad, err)
		}
	}
	ep, err := ParseEndpoint("https://127.0.0.1:8443/prefix/")
	if err != nil || ep.join("/metrics") != "https://127.0.0.1:8443/prefix/metrics" {
		t.Fatalf("%v %v", ep, err)
	}
}

func TestParseMetrics(t *testing.T) {
	for _, text := range []string{
		"vllm:prefix_cache_queries 100\nvllm:prefix_cache_hits 40\nvllm:kv_cache_usage_perc 0.25\nvllm:num_requests_waiting 3\nvllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"2048\"} 1\n",
		"# TYPE vllm:prefix_cache_queries_total counter\nvllm:prefix_cache_queries_total{model_name=\"a\"} 60\nvllm:prefix_cache_queries_total{model_name=\"b\"} 40\n" +
			"# TYPE vllm:prefix_cache_hits_total counter\nvllm:prefix_cache_hits_total{model_name=\"a\"} 40\n" +
			"vllm:kv_cache_usage_perc 0.25\nvllm:num_requests_waiting 3\nvllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"2048\"} 1\n",
	} {
		s, err := ParseMetrics(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		if !s.HasCache || s.Queried != 100 || s.Hit != 40 || s.Usage != 0.25 || s.Waiting != 3 || s.CacheBlocks != 2048 || s.BlockSize != 16 {
			t.Fatalf("%+v", s)
		}
	}
	s, err := ParseMetrics(strings.NewReader("sglang:prompt_tokens_total 10\nsglang:cached_tokens_total 4\nsglang:token_usage 0.5\n"))
	if err != nil || !s.HasCache || s.Queried != 10 || s.Hit != 4 || s.Usage != 0.5 {
		t.Fatalf("sglang: %+v %v", s, err)
	}
	if _, err := ParseMetrics(strings.NewReader("not metrics {")); err == nil {
		t.Fatal("garbage parsed")
	}
}

var wordRE = regexp.MustCompile(`^([a-z0-9]+ )+$`)

func TestPlanPrompts(t *testing.T) {
	tr := treeTrace(t, 4, 200, 1, 8, 16, 0.9, 0)
	// Make some last blocks partial.
	for i := range tr.Requests {
		if i%3 == 0 {
			tr.Requests[i].LastBlockTokens = 5
			tr.Requests[i].Input -= 11
		}
	}
	p, err := liverun.NewPlan(tr, tr.Requests, 16)
	if err != nil {
		t.Fatal(err)
	}
	if p.DroppedPartial != 67 || p.DroppedTokens != 67*5 {
		t.Fatalf("dropped %d partial blocks, %d tokens", p.DroppedPartial, p.DroppedTokens)
	}
	// Blocks with equal ids get equal tokens, different ids different
	// tokens; siblings differ from their first token.
	byID := map[trace.BlockID]string{}
	byTokens := map[string]trace.BlockID{}
	firstOf := map[[2]int64]trace.BlockID{}
	for i, pr := range p.Requests {
		r := tr.Requests[i]
		toks := p.Tokens(i, nil)
		if err := p.Chain(i); err != nil {
			t.Fatal(err)
		}
		if len(toks) != pr.TraceBlocks*16 || pr.Len != len(toks) {
			t.Fatalf("request %d: %d tokens (Len %d) for %d blocks", i, len(toks), pr.Len, pr.TraceBlocks)
		}
		parent := int64(-1)
		for k := range pr.TraceBlocks {
			blk := toks[k*16 : (k+1)*16]
			key := fmt.Sprint(blk)
			id := r.Blocks[k]
			if prev, ok := byID[id]; ok && prev != key {
				t.Fatalf("block %d rendered two ways", id)
			}
			if prev, ok := byTokens[key]; ok && prev != id {
				t.Fatalf("blocks %d and %d render the same", prev, id)
			}
			byID[id], byTokens[key] = key, id
			fk := [2]int64{parent, int64(blk[0])}
			if prev, ok := firstOf[fk]; ok && prev != id {
				t.Fatalf("siblings %d and %d share their first token", prev, id)
			}
			firstOf[fk] = id
			for _, x := range blk {
				if x < liverun.TokenBase || x >= liverun.TokenBase+liverun.TokenRange {
					t.Fatalf("token %d out of range", x)
				}
			}
			parent = int64(id)
		}
		if w := liverun.Words(toks); len(toks) > 0 && (!wordRE.MatchString(w) || len(strings.Fields(w)) != len(toks)) {
			t.Fatalf("words %q", w[:min(len(w), 60)])
		}
		if m := p.Model.Requests[i]; len(m.Blocks) != pr.TraceBlocks || m.Input != len(toks) {
			t.Fatalf("model request %d: %d blocks, input %d", i, len(m.Blocks), m.Input)
		}
	}
	// Server pages of 4 tokens: four per trace block, shared exactly when
	// the trace blocks are.
	p4, err := liverun.NewPlan(tr, tr.Requests, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p4.Requests {
		if err := p4.Chain(i); err != nil {
			t.Fatal(err)
		}
		if len(p4.Model.Requests[i].Blocks) != 4*p4.Requests[i].TraceBlocks {
			t.Fatalf("request %d: %d pages", i, len(p4.Model.Requests[i].Blocks))
		}
	}
	if p4.Model.Blocks.Len() != 4*p.Model.Blocks.Len() {
		t.Fatalf("%d pages for %d blocks", p4.Model.Blocks.Len(), p.Model.Blocks.Len())
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(" " + testKey + "\n")
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s)} {
		if strings.Contains(out, "4f1c9a") {
			t.Fatalf("printed %q", out)
		}
	}
	b, _ := json.Marshal(struct{ K Secret }{s})
	if strings.Contains(string(b), "4f1c9a") {
		t.Fatal(string(b))
	}
	if s.scrub("x "+testKey+" y") != "x [redacted] y" {
		t.Fatal(s.scrub(testKey))
	}
}

func mustEndpoint(t testing.TB, u string) Endpoint {
	t.Helper()
	ep, err := ParseEndpoint(u)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}
