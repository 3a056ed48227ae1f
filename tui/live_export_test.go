package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/trace"
)

// fakeVLLM is an OpenAI completions worker on 127.0.0.1 that reports a
// 1000-block cache and answers every request with two tokens, 16 of the
// prompt's tokens cached.
func fakeVLLM(t *testing.T) live.Endpoint {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
		case "/metrics":
			fmt.Fprint(w, "vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"1000\"} 1\n")
		case "/v1/completions":
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"choices\":[{\"text\":\"a \"}]}\n\ndata: {\"choices\":[{\"text\":\"b \"}]}\n\n"+
				"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":64,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":16}}}\n\ndata: [DONE]\n\n")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	ep, err := live.ParseEndpoint(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// exportWith runs the explorer with cfg (its live run to the end), writes
// the report to path with the w key's export, and returns the status.
func exportWith(t *testing.T, cfg Config, path string) (*Model, string) {
	t.Helper()
	m := newDone(t, cfg, 120, 40)
	drive(t, m, m.export(path))
	if m.exported == "" {
		t.Fatalf("no report written; status %q", m.status)
	}
	return m, m.status
}

// w with a finished live run writes, beside the comparison report, the
// live run beside kvscope's model of the requests it sent (the first
// scenario's eviction at the live cache size): NAME-live.md, or
// NAME-live.json for a .json report.
func TestExportWritesLiveReport(t *testing.T) {
	ep := fakeVLLM(t)
	cfg := smallConfig(t, 12)
	cfg.Command = "kvscope open sample --attach " + ep.String()
	cfg.Live = func(ctx context.Context, tr *trace.Trace, up chan<- live.Update) (*live.Result, error) {
		return live.Run(ctx, tr, tr.Requests, live.Config{Workers: []live.Endpoint{ep}, Router: "round_robin",
			TimeScale: 0.001, Concurrency: 4, Updates: up})
	}
	dir := t.TempDir()
	md := filepath.Join(dir, "cmp.md")
	_, status := exportWith(t, cfg, md)
	livePath := filepath.Join(dir, "cmp-live.md")
	if !strings.Contains(status, "wrote "+md) || !strings.Contains(status, "· live report cmp-live.md") {
		t.Errorf("status %q", status)
	}
	b, err := os.ReadFile(livePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{cfg.Command, "12 requests", "lru", "token hit ratio"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("live report lacks %q:\n%s", want, b)
		}
	}
	// JSON: the run, its summary and the model of the 12 requests sent.
	_, _ = exportWith(t, cfg, filepath.Join(dir, "cmp.json"))
	b, err = os.ReadFile(filepath.Join(dir, "cmp-live.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Live  struct{ Requests, Completed int } `json:"live"`
		Model *struct {
			Scenario  string
			Requests  int
			Completed int
		} `json:"model"`
		Rows []struct{ Metric string } `json:"rows"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Live.Requests != 12 || rep.Live.Completed != 12 || rep.Model == nil || rep.Model.Requests != 12 ||
		!strings.Contains(rep.Model.Scenario, "lru") || len(rep.Rows) == 0 {
		t.Fatalf("live report: %s", b)
	}
}

// A live run that failed has no report to write: the comparison is
// written and the status says why there is no live report.
func TestExportLiveFailedNote(t *testing.T) {
	cfg := smallConfig(t, 12)
	cfg.Live = func(context.Context, *trace.Trace, chan<- live.Update) (*live.Result, error) {
		return nil, fmt.Errorf("no worker answered")
	}
	dir := t.TempDir()
	_, status := exportWith(t, cfg, filepath.Join(dir, "cmp.md"))
	if !strings.Contains(status, "the live run failed: no live report") {
		t.Errorf("status %q", status)
	}
	if _, err := os.Stat(filepath.Join(dir, "cmp-live.md")); err == nil {
		t.Error("a live report was written for a failed run")
	}
}

func TestLiveReportPath(t *testing.T) {
	for in, want := range map[string]string{"r.md": "r-live.md", "a/r.JSON": "a/r-live.json", "r.html": "r-live.md", "r.csv": "r-live.md", "r": "r-live.md"} {
		if got := LiveReportPath(in); got != want {
			t.Errorf("LiveReportPath(%q) = %q, want %q", in, got, want)
		}
	}
}
