package tui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/trace"
)

// An sglang worker whose /metrics gives no cache size, with none given:
// the explorer shows the driver's cause in the workers pane and on the
// status line, and LiveFailure (Run's error, so open exits 1) repeats it.
func TestLiveSGLangWithoutCacheSize(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			fmt.Fprint(w, "sglang:token_usage 0\n")
			return
		}
		http.Error(w, "not expected", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	ep, err := live.ParseEndpoint(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(t, 20)
	cfg.Live = func(ctx context.Context, tr *trace.Trace, up chan<- live.Update) (*live.Result, error) {
		return live.Run(ctx, tr, tr.Requests, live.Config{Workers: []live.Endpoint{ep}, Router: "round_robin",
			TimeScale: 1, Concurrency: 1, Updates: up, Client: live.ClientConfig{API: live.SGLang}})
	}
	m := newDone(t, cfg, 120, 40)
	press(m, "3", "z")
	flat := strings.Join(strings.Fields(strings.ReplaceAll(plain(m), "┃", " ")), " ")
	for _, want := range []string{"L live workers · failed:", "cache size unknown (no sglang:max_total_num_tokens in /metrics)",
		"--live-cache-blocks", "live failed"} {
		if !strings.Contains(flat, want) {
			t.Errorf("screen lacks %q:\n%s", want, flat)
		}
	}
	err = m.LiveFailure()
	if err == nil || !strings.Contains(err.Error(), "live run failed: live: worker 0") || !strings.Contains(err.Error(), "cache size unknown") {
		t.Fatalf("LiveFailure = %v", err)
	}
}

// LiveFailure: a run with requests and none completed is a failure; a
// clean or interrupted run, or one still going, is not.
func TestLiveFailureCases(t *testing.T) {
	for _, c := range []struct {
		name string
		l    *liveState
		want string
	}{
		{"none", nil, ""},
		{"running", &liveState{running: true}, ""},
		{"clean", &liveState{res: &live.Result{Counts: live.Counts{Requests: 3, Completed: 1, Failed: 2}}}, ""},
		{"interrupted", &liveState{res: &live.Result{Counts: live.Counts{Requests: 3, Cancelled: 3, Interrupted: true}}}, ""},
		{"none completed", &liveState{res: &live.Result{Counts: live.Counts{Requests: 2, TimedOut: 2},
			FailReasons: map[string]int{"timed out": 2}}}, "live run: no request completed of 2 (2 timed out)"},
	} {
		m := &Model{s: &shared{live: c.l}}
		got := ""
		if err := m.LiveFailure(); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
