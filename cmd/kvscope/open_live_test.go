package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/tui"
	"github.com/spf13/cobra"
)

// liveRun is the explorer's live hook with its trace.
type liveRun struct {
	f  tui.LiveFunc
	tr *trace.Trace
}

// openLive parses args as open's live flags and builds the explorer's live
// hook, with a trace of n requests (all arriving at 0).
func openLive(t *testing.T, n int, args ...string) liveRun {
	t.Helper()
	var lf openLiveFlags
	cmd := &cobra.Command{}
	lf.add(cmd)
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := lf.check(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`{"format":"kvscope-trace","version":1,"block_size":16,"source":"open-live-test"}` + "\n")
	for i := range n {
		fmt.Fprintf(&b, `{"arrival_s":0,"input":32,"output":2,"blocks":[%d,%d]}`+"\n", 1+i%4, 100+i)
	}
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := trace.Load(path, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := tui.ParseEntries([]string{"round_robin+lru"}, tui.DefaultBase())
	if err != nil {
		t.Fatal(err)
	}
	f, err := lf.build(entries[0].Scenario)
	if err != nil {
		t.Fatal(err)
	}
	return liveRun{f, tr}
}

// runLive runs the hook as the explorer does, draining its updates; the
// deadline is a guard against a hang (the bug this tests), never reached
// by a passing run.
func runLive(t *testing.T, r liveRun) (*live.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	up := make(chan live.Update, 64)
	go func() {
		for range up {
		}
	}()
	defer close(up)
	res, err := r.f(ctx, r.tr, up)
	if ctx.Err() != nil {
		t.Fatalf("the live run hung until the test's guard: %v", err)
	}
	return res, err
}

// TestOpenAttachTimeouts: open --attach has live's request timeouts and
// retries (same flags, same defaults), and a worker that takes requests
// and never answers ends the explorer's live run with every request timed
// out and counted, instead of freezing it.
func TestOpenAttachTimeouts(t *testing.T) {
	lc, oc := newLiveCmd(), newOpenCmd()
	for _, name := range []string{"timeout", "first-token-timeout", "stall-timeout", "retries", "server-block-size"} {
		l, o := lc.Flags().Lookup(name), oc.Flags().Lookup(name)
		if l == nil || o == nil || l.DefValue != o.DefValue {
			t.Errorf("--%s: live %v, open %v: want the same flag and default", name, l, o)
		}
	}
	if lc.Flags().Lookup("cache-blocks").DefValue != oc.Flags().Lookup("live-cache-blocks").DefValue {
		t.Error("open --live-cache-blocks's default differs from live --cache-blocks's")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
		case "/metrics":
			fmt.Fprintf(w, "vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"1000\"} 1\n")
		default:
			// Read the body (so the server notices the client leaving),
			// then hang until the client gives up.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	f := openLive(t, 3, "--attach", srv.URL, "--first-token-timeout", "50ms", "--timeout", "1s", "--retries", "0")
	res, err := runLive(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 3 || res.TimedOut != 3 || res.Completed != 0 {
		t.Fatalf("result %d requests: %d completed, %d failed, %d timed out; want all 3 timed out", res.Requests, res.Completed, res.Failed, res.TimedOut)
	}
}

// fakeSGLang is an sglang worker: /generate streams cumulative text with
// meta_info (cached_tokens 0), /metrics serves metrics.
func fakeSGLang(t *testing.T, metrics string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
		case "/metrics":
			fmt.Fprint(w, metrics)
		case "/generate":
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"text\":\"a\",\"meta_info\":{\"prompt_tokens\":32,\"completion_tokens\":1,\"cached_tokens\":0}}\n\n"+
				"data: {\"text\":\"a b\",\"meta_info\":{\"prompt_tokens\":32,\"completion_tokens\":2,\"cached_tokens\":0}}\n\ndata: [DONE]\n\n")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestOpenAttachSGLang: open --attach --api sglang sizes its model of each
// worker from sglang's own gauges (max_total_num_tokens over page_size) or
// --live-cache-blocks, and without either fails with the cause and the
// flag to give, not silently.
func TestOpenAttachSGLang(t *testing.T) {
	const gauges = "sglang:max_total_num_tokens{model_name=\"m\"} 65536\nsglang:page_size{model_name=\"m\"} 16\nsglang:token_usage 0\n"
	for _, c := range []struct {
		name, metrics string
		flags         []string
		blocks        int64
	}{
		{"own metrics", gauges, nil, 4096},
		{"flag", "sglang:token_usage 0\n", []string{"--live-cache-blocks", "500"}, 500},
	} {
		srv := fakeSGLang(t, c.metrics)
		f := openLive(t, 4, append([]string{"--attach", srv.URL, "--api", "sglang"}, c.flags...)...)
		res, err := runLive(t, f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Completed != 4 || res.Workers[0].CacheBlocks != c.blocks {
			t.Errorf("%s: %d of %d completed, cache %d blocks, want 4 and %d", c.name, res.Completed, res.Requests, res.Workers[0].CacheBlocks, c.blocks)
		}
	}
	srv := fakeSGLang(t, "sglang:token_usage 0\n")
	_, err := runLive(t, openLive(t, 4, "--attach", srv.URL, "--api", "sglang"))
	if err == nil || !strings.Contains(err.Error(), "cache size unknown (no sglang:max_total_num_tokens in /metrics)") ||
		!strings.Contains(err.Error(), "--live-cache-blocks") {
		t.Fatalf("sglang without a cache size: %v", err)
	}
}
