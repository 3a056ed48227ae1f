package tui

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/trace"
)

var recordLive = flag.Bool("record-live", false, "re-record testdata/live_run.json against fake workers on 127.0.0.1 (takes the run's length, about 15 s)")

// cacheWorker is an OpenAI completions worker on 127.0.0.1 with a prefix
// cache of 16-token blocks: a request's cached tokens are its leading
// blocks seen before (prompts share prefixes as their trace chains do).
// It holds each request for hold (so requests overlap, as on a real
// server: latency to record, not synchronisation), reports the requests
// beyond two as waiting in /metrics, and answers 500 to the requests
// numbered in fail (1-based).
func cacheWorker(t *testing.T, hold time.Duration, fail map[int64]bool) live.Endpoint {
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var n, flying atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			return
		case "/metrics":
			fmt.Fprintf(w, "vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"1000\"} 1\nvllm:num_requests_waiting %d\n", max(flying.Load()-2, 0))
			return
		case "/v1/completions":
		default:
			http.NotFound(w, r)
			return
		}
		if fail[n.Add(1)] {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		flying.Add(1)
		defer flying.Add(-1)
		var body struct {
			Prompt []uint32 `json:"prompt"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// Block j is named by a hash of the prompt up to its end.
		cached, hit := 0, true
		h := fnv.New64a()
		var buf [4]byte
		mu.Lock()
		for j, tok := range body.Prompt {
			binary.LittleEndian.PutUint32(buf[:], tok)
			h.Write(buf[:])
			if (j+1)%16 != 0 {
				continue
			}
			k := h.Sum64()
			if hit && seen[k] {
				cached = j + 1
			} else {
				hit = false
			}
			seen[k] = true
		}
		mu.Unlock()
		time.Sleep(hold)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"text\":\"a \"}]}\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(hold / 2)
		fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"b \"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":2,"+
			"\"prompt_tokens_details\":{\"cached_tokens\":%d}}}\n\ndata: [DONE]\n\n", len(body.Prompt), cached)
	}))
	t.Cleanup(srv.Close)
	ep, err := live.ParseEndpoint(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// liveRecording is a live run as the explorer receives it: every update
// in order, then the driver's result.
type liveRecording struct {
	Updates []live.Update `json:"updates"`
	Result  *live.Result  `json:"result"`
}

const liveRecordingFile = "testdata/live_run.json"

// liveRecordCfg is the recorded run's explorer: the first 40 requests of
// the sample.
func liveRecordCfg(t *testing.T) Config { return smallConfig(t, 40) }

// TestRecordLiveRun records liveRecordingFile with -record-live: the
// first 40 sample requests at time scale 1 (the scenarios', so the live
// run lies on the model's clock) against two fake workers, the second of
// which fails its first four requests (its breaker opens, then it comes
// back), with a snapshot every 250 ms. The goldens replay the recording,
// so they do not depend on this machine's timing.
func TestRecordLiveRun(t *testing.T) {
	if !*recordLive {
		t.Skip("-record-live re-records the live run the goldens replay")
	}
	cfg := liveRecordCfg(t)
	w0 := cacheWorker(t, 150*time.Millisecond, nil)
	w1 := cacheWorker(t, 150*time.Millisecond, map[int64]bool{1: true, 2: true, 3: true, 4: true})
	up := make(chan live.Update, 1024)
	var rec liveRecording
	done := make(chan struct{})
	go func() {
		for u := range up {
			rec.Updates = append(rec.Updates, u)
		}
		close(done)
	}()
	res, err := live.Run(context.Background(), cfg.Trace, cfg.Trace.Requests, live.Config{Workers: []live.Endpoint{w0, w1},
		Router: "round_robin", TimeScale: 1, Concurrency: 8, Retries: 1, Updates: up, SnapshotEvery: 250 * time.Millisecond,
		ProbeInterval: 500 * time.Millisecond})
	close(up)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	res.Plan = nil
	rec.Result = res
	b, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(liveRecordingFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d updates, %d completed, %d failed in %.2f s", len(rec.Updates), res.Completed, res.Failed+res.TimedOut, res.DurationS)
}

func loadLiveRecording(t *testing.T) liveRecording {
	t.Helper()
	b, err := os.ReadFile(liveRecordingFile)
	if err != nil {
		t.Fatal(err)
	}
	var rec liveRecording
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", liveRecordingFile, err)
	}
	return rec
}

// replayLive builds the explorer over the recorded run and feeds it the
// first n updates (all when n < 0), then, when n < 0, the run's end.
func replayLive(t *testing.T, w, h, n int, noColor bool) *Model {
	t.Helper()
	rec := loadLiveRecording(t)
	// No hook runs: the explorer is told a live run started, and the
	// recorded updates are fed to it by hand, in order.
	cfg := liveRecordCfg(t)
	cfg.NoColor = noColor
	m := newDone(t, cfg, w, h)
	m.s.live = &liveState{running: true}
	ups := rec.Updates
	if n >= 0 {
		ups = ups[:n]
	}
	for _, u := range ups {
		m.Update(liveMsg{u: u})
	}
	if n < 0 {
		m.Update(liveDoneMsg{res: rec.Result})
	}
	return m
}

// The recorded run's live series are drawn in the compare pane's charts
// beside the scenarios' (hit ratio, queue, TTFT, requests in flight),
// labelled L, up to the cursor while the run goes and over the whole run
// after; its events are listed in the timeline (L) and the event keys
// step through them. Goldens at 80 and 120 columns; refresh with -update.
func TestLiveChartsGolden(t *testing.T) {
	rec := loadLiveRecording(t)
	half := len(rec.Updates) / 2
	for _, sz := range [][2]int{{80, 50}, {120, 50}} {
		for _, during := range []bool{true, false} {
			name := fmt.Sprintf("%dx%d_%s", sz[0], sz[1], map[bool]string{true: "during", false: "after"}[during])
			t.Run(name, func(t *testing.T) {
				n := -1
				if during {
					n = half
				}
				// Without color, so each line's glyph shows which it is (L
				// the live run's).
				m := replayLive(t, sz[0], sz[1], n, true)
				// The cursor at 40% of the span, inside the recorded time.
				press(m, fmt.Sprint(paneCompare+1), "z", "home", "F", "F", "F", "F")
				charts := plain(m)
				checkFrame(t, charts, sz[0], sz[1])
				// c four times: the in-flight chart alone, with a row per
				// live worker.
				press(m, "c", "c", "c", "c")
				inflight := plain(m)
				checkFrame(t, inflight, sz[0], sz[1])
				press(m, "c")
				// The timeline lists the live events; → steps through them
				// from the start.
				press(m, "z", fmt.Sprint(paneTimeline+1), "L", "z", "home", "right", "right", "right")
				timeline := plain(m)
				checkFrame(t, timeline, sz[0], sz[1])
				golden.RequireEqual(t, charts+"\n\n"+inflight+"\n\n"+timeline)
			})
		}
	}
}

// The charts carry the live line (L) and its legend; the live events in
// the timeline match the recording (a terminal event per record, the
// worker whose first requests failed has its breaker opened and closed),
// and → steps the cursor from one live event to the next.
func TestLiveChartsAndEvents(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	rec := loadLiveRecording(t)
	m := replayLive(t, 120, 50, -1, false)
	press(m, fmt.Sprint(paneCompare+1), "z")
	out := plain(m)
	for _, want := range []string{"L live: responses' cached_tokens, by completion", "L live: waiting, from the workers' /metrics",
		"L live: TTFT from arrival, by first token", "requests in flight (all workers)", "L live: sent, not ended"} {
		if !strings.Contains(out, want) {
			t.Errorf("charts lack %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "L") || strings.Count(out, "┼") == 0 {
		t.Errorf("no chart drawn:\n%s", out)
	}
	e := m.s.live.eventList()
	terminal := map[int]int{}
	kinds := map[string]int{}
	for i, ev := range e.evs {
		if i > 0 && ev.T < e.evs[i-1].T {
			t.Fatalf("events out of order at %d", i)
		}
		kinds[ev.Kind.String()]++
		if ev.Kind.String() == "complete" || ev.Kind.String() == "fail" {
			terminal[ev.Req]++
		}
	}
	if len(terminal) != len(rec.Result.Records) {
		t.Errorf("%d requests end in the events, %d records", len(terminal), len(rec.Result.Records))
	}
	for req, c := range terminal {
		if c != 1 {
			t.Errorf("request %d ends %d times", req, c)
		}
	}
	if kinds["breaker open"] == 0 || kinds["breaker closed"] == 0 || kinds["retry"] == 0 || kinds["complete"] != rec.Result.Completed {
		t.Errorf("event kinds %v (completed %d)", kinds, rec.Result.Completed)
	}
	// The timeline lists them, and → walks them.
	press(m, "z", fmt.Sprint(paneTimeline+1), "L")
	m.s.cursor = m.s.span.Start
	for i := range 5 {
		press(m, "right")
		if m.s.cursor != e.ts[lastAtOrBefore(e.ts, m.s.cursor)] || m.s.cursor != stepTime(e.ts, m.s.span.Start, 1) && i == 0 {
			t.Fatalf("step %d: cursor %v is no live event's instant", i, m.s.cursor)
		}
	}
	if out := plain(m); !strings.Contains(out, "L live · event") || !strings.Contains(out, "▸") {
		t.Errorf("timeline:\n%s", out)
	}
	// v filters them; L goes back to the scenario's log.
	press(m, "v", "v", "v", "v")
	if out := plain(m); !strings.Contains(out, "fail only") {
		t.Errorf("filter:\n%s", out)
	}
	press(m, "L")
	if out := plain(m); strings.Contains(out, "L live · event") {
		t.Errorf("L did not switch back:\n%s", out)
	}
}

// Update stays cheap while the cursor moves: the live series and events
// are computed once per recording version and span, not per frame.
func TestLiveSeriesComputedOnce(t *testing.T) {
	m := replayLive(t, 120, 50, -1, false)
	press(m, fmt.Sprint(paneCompare+1))
	plain(m)
	c := &m.s.live.charts
	ser := &c.ser.Hit[0]
	for _, k := range []string{"f", "f", "b", "F"} {
		press(m, k)
		plain(m)
	}
	if &c.ser.Hit[0] != ser {
		t.Error("the live series were recomputed when only the cursor moved")
	}
	m.Update(liveMsg{u: live.Update{Record: &live.Record{Index: 0, Status: live.Completed}}})
	plain(m)
	if &c.ser.Hit[0] != ser {
		t.Error("the live series were recomputed for a record between snapshots")
	}
	m.Update(liveMsg{u: live.Update{Snapshot: &live.Snapshot{Elapsed: time.Hour}}})
	plain(m)
	if &c.ser.Hit[0] == ser {
		t.Error("a snapshot did not refresh the live series")
	}
}

// The recording file is what the goldens rest on: it holds a real run's
// stream (snapshots and records, in order) and its result.
func TestLiveRecordingFile(t *testing.T) {
	rec := loadLiveRecording(t)
	snaps, recs := 0, 0
	for _, u := range rec.Updates {
		if u.Snapshot != nil {
			snaps++
		}
		if u.Record != nil {
			recs++
		}
	}
	if rec.Result == nil || recs != rec.Result.Requests || snaps < 10 || rec.Result.Failed+rec.Result.TimedOut+rec.Result.Completed != recs {
		t.Fatalf("%s: %d snapshots, %d records, result %+v", filepath.Base(liveRecordingFile), snaps, recs, rec.Result.Counts)
	}
}

// Under teatest, a live run against fake workers on 127.0.0.1 (the second
// failing its first requests) is recorded as it goes; once it ended, L
// lists its events in the timeline, → steps the cursor onto them, and the
// compare pane draws its line (L) in the charts.
func TestSmokeLiveEvents(t *testing.T) {
	w0 := cacheWorker(t, 0, nil)
	w1 := cacheWorker(t, 0, map[int64]bool{1: true, 2: true, 3: true})
	cfg := smallConfig(t, 40)
	cfg.NoColor = true
	cfg.Live = func(ctx context.Context, tr *trace.Trace, up chan<- live.Update) (*live.Result, error) {
		return live.Run(ctx, tr, tr.Requests, live.Config{Workers: []live.Endpoint{w0, w1}, Router: "round_robin",
			TimeScale: 0.001, Concurrency: 4, Retries: 1, Updates: up, SnapshotEvery: time.Millisecond})
	}
	tm, _ := startTea(t, cfg, 120, 50)
	// The workers pane's line once the run ended (the status line's
	// "live ✓" is drawn in pieces).
	waitText(t, tm, "40 completed, 0 failed")
	send(tm, fmt.Sprint(paneTimeline+1), "L", "home", "right", "right", fmt.Sprint(paneCompare+1), "z")
	m := finalModel(t, tm)
	if !m.s.showsLive() {
		t.Fatal("the timeline does not list the live events")
	}
	e := m.s.live.eventList()
	if len(e.evs) < 3*40 || m.s.cursor != e.ts[lastAtOrBefore(e.ts, m.s.cursor)] || m.s.cursor == m.s.span.Start {
		t.Fatalf("%d live events; cursor %v", len(e.evs), m.s.cursor)
	}
	out := plain(m)
	if !strings.Contains(out, "L live: responses' cached_tokens, by completion") || !strings.Contains(out, "LL") {
		t.Errorf("no live line in the charts:\n%s", out)
	}
}

// A worker's events come from the snapshots: its breaker opening and
// closing (out of routing and back) and a restart its KV-event mirror saw;
// v keeps them alone. c cycles through the in-flight chart too.
func TestLiveWorkerEvents(t *testing.T) {
	m := newDone(t, smallConfig(t, 40), 120, 50)
	m.s.live = &liveState{running: true}
	for i, ws := range []live.WorkerSnapshot{{Healthy: true}, {Healthy: false}, {Healthy: true, HasMirror: true, MirrorRestarts: 1}} {
		m.Update(liveMsg{u: live.Update{Snapshot: &live.Snapshot{Elapsed: time.Duration(i+1) * time.Second, Workers: []live.WorkerSnapshot{ws}}}})
	}
	// The result says the worker ended out of routing: the run's end shows
	// its breaker open again, after the last snapshot.
	m.Update(liveDoneMsg{res: &live.Result{DurationS: 4, Workers: []live.WorkerResult{{Healthy: false}}}})
	press(m, fmt.Sprint(paneTimeline+1), "z", "L", "v", "v", "v", "v", "v", "end")
	out := strings.Join(strings.Fields(strings.ReplaceAll(plain(m), "┃", " ")), " ")
	for _, want := range []string{"workers only (breaker, restart)", "≤2.000 s req – w0 breaker open", "≤3.000 s req – w0 breaker closed",
		"≤3.000 s req – w0 KV restart: restart 1", "≤4.000 s req – w0 breaker open"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
	press(m, "home", "right")
	if m.s.cursor != 2*time.Second {
		t.Errorf("→ from the start: cursor %v, want the breaker's 2 s", m.s.cursor)
	}
	press(m, "z", fmt.Sprint(paneCompare+1))
	p := m.panes[paneCompare].(*comparePane)
	var seen []int
	for range 5 {
		press(m, "c")
		seen = append(seen, p.chart)
	}
	if fmt.Sprint(seen) != "[1 2 3 4 0]" {
		t.Errorf("c cycles %v with a live run", seen)
	}
}

// bigLive feeds m a finished 12k-request live run (a record every 5 ms, a
// snapshot a second, two workers): the size of the Mooncake conversation
// trace.
func bigLive(m *Model) {
	m.s.live = &liveState{running: true}
	for i := range 12000 {
		sent := float64(i) * 5
		m.Update(liveMsg{u: live.Update{Record: &live.Record{Index: i % len(m.s.tr.Requests), Status: live.Completed, Worker: i % 2, Attempts: 1,
			FirstSentMs: sent, SentMs: sent, TTFTMs: 100, E2EMs: 400, TTFTFromArrivalMs: 120, PromptTokens: 1000, CachedTokens: 100 * (i % 5), CachedKnown: true}}})
		if i%200 == 199 {
			m.Update(liveMsg{u: live.Update{Snapshot: &live.Snapshot{Elapsed: time.Duration(sent) * time.Millisecond, Finished: i + 1,
				Workers: []live.WorkerSnapshot{{Healthy: true}, {Healthy: true}}}}})
		}
	}
	m.Update(liveDoneMsg{res: &live.Result{DurationS: 61}})
}

// A frame while the cursor moves over a finished 12k-request live run,
// the compare pane's charts and the timeline's live events on screen: the
// series and the events are not recomputed (the first frame computes
// them), so a frame costs what it costs without the live run plus the
// 240-point cut.
// The "none" case is the same explorer without a live run, for the
// comparison.
func BenchmarkLiveFrame(b *testing.B) {
	for _, withLive := range []bool{false, true} {
		b.Run(map[bool]string{false: "none", true: "live"}[withLive], func(b *testing.B) {
			m := newDone(b, smallConfig(b, 40), 120, 50)
			if withLive {
				bigLive(m)
				press(m, fmt.Sprint(paneTimeline+1), "L")
			}
			m.View()
			i := 0
			for b.Loop() {
				m.s.cursor = m.s.span.jump(m.s.span.Start, float64(i%100)/100)
				i++
				m.View()
			}
		})
	}
}

// The same, as a test that fails when a frame recomputes them.
func TestLiveFrameReusesSeriesAndEvents(t *testing.T) {
	m := newDone(t, smallConfig(t, 40), 120, 50)
	bigLive(m)
	press(m, fmt.Sprint(paneTimeline+1), "L")
	m.View()
	ser, evs := &m.s.live.charts.ser.Hit[0], &m.s.live.events.evs[0]
	for i := range 20 {
		m.s.cursor = m.s.span.jump(m.s.span.Start, float64(i)/20)
		press(m, "right")
		m.View()
	}
	if &m.s.live.charts.ser.Hit[0] != ser || &m.s.live.events.evs[0] != evs {
		t.Error("a frame recomputed the live series or events")
	}
}
