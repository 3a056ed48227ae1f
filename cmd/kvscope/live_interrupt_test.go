package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestLiveInterrupt: Ctrl-C (SIGINT) in kvscope live stops sending, cuts
// the requests in flight, writes the report of what was sent (marked
// interrupted, the unsent and cut requests cancelled, --compare-evict
// simulating only the requests sent) and exits 130. The binary is this test
// binary under the name kvscope (testscript.Main puts it on PATH); the
// signal is sent once the worker holds two requests, no sleep.
func TestLiveInterrupt(t *testing.T) {
	bin, err := exec.LookPath("kvscope")
	if err != nil {
		t.Fatalf("kvscope not on PATH (TestMain sets it up): %v", err)
	}
	// The worker answers its first 3 requests and holds every later one
	// until the client goes away.
	var requests atomic.Int64
	held := make(chan int64, 64)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			return
		case "/metrics":
			fmt.Fprintf(w, "vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"1000\"} 1\n")
			return
		}
		if n := requests.Add(1); n > 3 {
			held <- n
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"a \"}]}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	dir := t.TempDir()
	var tr strings.Builder
	tr.WriteString(`{"format":"kvscope-trace","version":1,"block_size":16,"source":"interrupt-test"}` + "\n")
	for i := range 20 {
		fmt.Fprintf(&tr, `{"arrival_s":0,"input":32,"output":2,"blocks":[%d,%d]}`+"\n", 1+i%4, 100+i)
	}
	tracePath := filepath.Join(dir, "trace.jsonl")
	if err := os.WriteFile(tracePath, []byte(tr.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	cmd := exec.Command(bin, "live", tracePath, "--attach", srv.URL, "--concurrency", "2", "--compare-evict", "lru", "-o", report)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Concurrency 2: the 4th and 5th requests go out once the first three
	// have ended; with both held, send Ctrl-C.
	for range 2 {
		select {
		case <-held:
		case err := <-exited:
			t.Fatalf("kvscope live ended before the interrupt: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v, want status %d\nstdout: %s\nstderr: %s", err, exitInterrupted, stdout.String(), stderr.String())
	}
	for _, want := range []string{"interrupted (interrupt signal received): 5 of 20 requests sent, 3 completed, 17 cancelled", "report of what was sent written to " + report} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q: %s", want, stderr.String())
		}
	}
	if want := "live: 20 requests: 3 completed, 0 failed, 0 timed out, 17 cancelled"; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout lacks %q: %s", want, stdout.String())
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Live struct {
			Requests, Completed, Failed, Cancelled, Sent int
			TimedOut                                     int    `json:"timed_out"`
			Interrupted                                  bool   `json:"interrupted"`
			InterruptCause                               string `json:"interrupt_cause"`
		} `json:"live"`
		Model struct{ Requests, Completed int } `json:"model"`
		Rows  []struct {
			Metric      string
			Live, Model float64
		} `json:"rows"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	l := rep.Live
	if !l.Interrupted || l.InterruptCause != "interrupt signal received" || l.Requests != 20 || l.Sent != 5 || l.Completed != 3 ||
		l.Cancelled != 17 || l.Failed != 0 || l.TimedOut != 0 {
		t.Fatalf("report's run: %+v", l)
	}
	// The model simulated the 5 requests sent, not all 20.
	if rep.Model.Requests != 5 || rep.Model.Completed != 5 {
		t.Fatalf("model: %+v, want the 5 requests sent", rep.Model)
	}
	found := false
	for _, r := range rep.Rows {
		if r.Metric == "cancelled after sending" {
			found = r.Live == 2 && r.Model == 0
		}
	}
	if !found {
		t.Fatalf("rows lack cancelled after sending = 2: %+v", rep.Rows)
	}
}
