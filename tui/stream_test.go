package tui

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/internal/tracetest"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// streamPair opens the first n requests of the embedded sample twice: held
// in memory, and streamed with its runs spilled under a test directory.
func streamPair(t *testing.T, n int, specs ...string) (held, streamed *Model, dir string) {
	t.Helper()
	data, err := samples.ReadFile(samples.Mooncake)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfterN(data, []byte("\n"), n+1)
	small := tracetest.ScrambleIDs(bytes.Join(lines[:min(n, len(lines))], nil))
	tr, err := trace.LoadBytes("sample-head", small, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := DefaultBase()
	if len(specs) == 0 {
		specs = DefaultSpecs
	}
	entries, err := ParseEntries(specs, base)
	if err != nil {
		t.Fatal(err)
	}
	dark := true
	held = newDone(t, Config{Trace: tr, Scenarios: entries, Base: base, Dark: &dark}, 140, 50)
	dir = filepath.Join(t.TempDir(), "runs")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	sc := &StreamConfig{Name: "sample-head", Dir: dir,
		Open: func(keepIDs bool, _ func(read, total int64)) (*trace.Stream, error) {
			return trace.OpenReader("sample-head", bytes.NewReader(small), trace.ReadOptions{KeepIDs: keepIDs})
		}}
	streamed = newDone(t, Config{Stream: sc, Scenarios: entries, Base: base, Dark: &dark}, 140, 50)
	for i, sl := range streamed.s.slots {
		if sl.state != slotDone {
			t.Fatalf("streamed %c: %v", 'A'+i, sl.err)
		}
		if _, ok := sl.data.(*spilledRun); !ok {
			t.Fatalf("streamed %c holds %T, want a spilled run", 'A'+i, sl.data)
		}
	}
	return held, streamed, dir
}

// paneView renders pane i of m, focused.
func paneView(m *Model, i int) string {
	m.s.focus = i
	return stripANSI(m.panes[i].View())
}

// TestStreamedMatchesHeld opens one trace both ways and checks that every
// pane reading a run shows the same at the same cursors (the request pane
// with every worker's router score and true cached prefix), that the keys
// move the cursor the same way, and that the metrics table at the cursor
// counts the same requests.
func TestStreamedMatchesHeld(t *testing.T) {
	for _, specs := range [][]string{
		DefaultSpecs,
		// Failures (a tiny cache, oversize=fail) and bypasses.
		{"cache_aware+lru;workers=4;cache_blocks=100;oversize=fail", "lbgr+rlt;workers=4;cache_blocks=150;oversize=bypass"},
		// A router that hashes the trace's own block ids (the replay asks
		// for them).
		{"consistent_hash+lru;workers=4", "consistent_hash:n=2+lru;workers=4"},
	} {
		t.Run(strings.Join(specs, " vs "), func(t *testing.T) { checkStreamedMatchesHeld(t, specs) })
	}
}

func checkStreamedMatchesHeld(t *testing.T, specs []string) {
	held, streamed, _ := streamPair(t, 400, specs...)
	for i, sl := range held.s.slots {
		// The scenarios that should fail or bypass requests do.
		n := map[sim.Status]int{}
		for _, r := range runOf(sl).Records {
			n[r.Status]++
		}
		if strings.Contains(specs[i], "oversize=fail") && n[sim.Failed] == 0 ||
			strings.Contains(specs[i], "oversize=bypass") && n[sim.Bypassed] == 0 {
			t.Fatalf("%s: %v: not the case the test is for", specs[i], n)
		}
	}
	if held.s.span != streamed.s.span {
		t.Fatalf("span: streamed %v, held %v", streamed.s.span, held.s.span)
	}
	sp := held.s.span
	scored := 0
	for _, f := range []float64{0, 0.01, 0.1, 0.37, 0.5, 0.9, 1} {
		at := sp.jump(sp.Start, f)
		for _, m := range []*Model{held, streamed} {
			m.s.cursor = at
		}
		for _, p := range []int{paneWorkers, paneTimeline} {
			if a, b := paneView(held, p), paneView(streamed, p); a != b {
				t.Errorf("at %.0f%%, pane %d differs:\nheld:\n%s\nstreamed:\n%s", 100*f, p, a, b)
			}
		}
		a, b := requestLines(held), requestLines(streamed)
		if !slices.Equal(a, b) {
			t.Errorf("at %.0f%%, the request pane differs:\nheld:\n%s\nstreamed:\n%s", 100*f, strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
		if slices.ContainsFunc(b, func(l string) bool {
			return strings.HasPrefix(l, "  router scores: ") && strings.Contains(l, "true cached prefix")
		}) {
			scored++
		}
		for i := range held.s.slots {
			hm, err1 := held.s.slots[i].data.metricsAt(1, at)
			sm, err2 := streamed.s.slots[i].data.metricsAt(1, at)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			hc := fmt.Sprint(hm.Requests, hm.Completed, hm.Failed, hm.InFlight, hm.Bypassed, hm.HitTokens, hm.InputTokens, hm.MaxLoadS, hm.Imbalance)
			sc := fmt.Sprint(sm.Requests, sm.Completed, sm.Failed, sm.InFlight, sm.Bypassed, sm.HitTokens, sm.InputTokens, sm.MaxLoadS, sm.Imbalance)
			if hc != sc {
				t.Errorf("at %.0f%%, %c's metrics: streamed %s, held %s", 100*f, 'A'+i, sc, hc)
			}
		}
	}
	// Arrivals found by scanning the event log (a run whose arrivals are
	// not in trace order) are those the records' binary search finds.
	for i, sl := range streamed.s.slots {
		ord := sl.data.(*spilledRun)
		scan := *ord
		scan.ordered, scan.arrivalOK = false, false // and no answer remembered from the search
		for _, f := range []float64{0, 0.001, 0.2, 0.5, 0.75, 1} {
			at := sp.jump(sp.Start, f)
			if a, b := ord.arrivalAt(at), scan.arrivalAt(at); a != b {
				t.Errorf("%c at %.1f%%: arrival %d by search, %d by the event log", 'A'+i, 100*f, a, b)
			}
			for _, d := range []int{1, -1} {
				if a, b := ord.stepArrival(at, d), scan.stepArrival(at, d); a != b {
					t.Errorf("%c at %.1f%% step %d: %v by search, %v by the event log", 'A'+i, 100*f, d, a, b)
				}
			}
		}
	}
	// The same keys lead to the same cursors: events (←/→), requests
	// (,/.), and jumps.
	held.s.cursor, streamed.s.cursor = sp.Start, sp.Start
	if scored == 0 {
		t.Error("no cursor showed a request's router scores: the test compares none")
	}
	for _, k := range []string{"right", "right", ".", ".", "f", "right", ",", "left", "G", ",", "left", "g"} {
		press(held, k)
		press(streamed, k)
		if held.s.cursor != streamed.s.cursor {
			t.Fatalf("after %s: streamed cursor %v, held %v", k, streamed.s.cursor, held.s.cursor)
		}
	}
	// The trace pane's figures come from the replay that read the trace.
	ht, st := held.panes[paneTrace].(*tracePane), streamed.panes[paneTrace].(*tracePane)
	paneView(streamed, paneTrace)
	if !slices.Equal(ht.inHist, st.inHist) || !slices.Equal(ht.outHist, st.outHist) || ht.dur != st.dur {
		t.Errorf("trace pane: streamed in %v out %v dur %v, held in %v out %v dur %v", st.inHist, st.outHist, st.dur, ht.inHist, ht.outHist, ht.dur)
	}
	if got := streamed.s.summary.requests; got != len(held.s.tr.Requests) {
		t.Errorf("summary counts %d requests, the trace has %d", got, len(held.s.tr.Requests))
	}
}

// requestLines is the request pane's lines, the router-score table
// included (a streamed run reads it from its detail file).
func requestLines(m *Model) []string {
	p := m.panes[paneRequest].(*requestPane)
	var out []string
	for _, l := range p.lines() {
		out = append(out, stripANSI(l))
	}
	return out
}

// TestStreamedExport: the export key of a streamed explorer writes the
// streamed comparison of the scenarios on screen (the trace read anew for
// each): the held explorer's report but for what it leaves out and says
// so, and the held one's CSV to the byte.
func TestStreamedExport(t *testing.T) {
	specs := []string{"cache_aware+lru;workers=4", "consistent_hash+lru;workers=4"}
	held, streamed, _ := streamPair(t, 300, specs...)
	dir := t.TempDir()
	reports := map[*Model]string{}
	for _, m := range []*Model{held, streamed} {
		path := filepath.Join(dir, fmt.Sprintf("r%d.md", len(reports)))
		press(m, "w", "ctrl+u")
		typeText(m, path)
		reports[m] = string(finishExport(t, m))
	}
	h, s := reports[held], reports[streamed]
	for _, want := range []string{"> **Note:** " + analysis.StreamedNote, analysis.StreamStatsNote, " --seeds 1 --stream -o "} {
		if !strings.Contains(s, want) {
			t.Errorf("streamed report lacks %q", want)
		}
	}
	if strings.Contains(h, "Note:") {
		t.Error("held report carries a note")
	}
	rows := func(r string) []string {
		var out []string
		for _, l := range strings.Split(r, "\n") {
			for _, p := range []string{"| token hit ratio |", "| TTFT p50 ms |", "| TTFT p99 ms |", "| imbalance CV |", "| completed |"} {
				if strings.HasPrefix(l, p) {
					out = append(out, l)
				}
			}
		}
		return out
	}
	if a, b := rows(h), rows(s); len(a) < 4 || !slices.Equal(a, b) {
		t.Errorf("the reports' rows differ:\nheld:\n%s\nstreamed:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	var csvs []string
	for i, m := range []*Model{held, streamed} {
		press(m, "w", "ctrl+u")
		typeText(m, filepath.Join(dir, fmt.Sprintf("r%d.csv", i)))
		csvs = append(csvs, string(finishExport(t, m)))
	}
	if csvs[0] != csvs[1] || strings.Count(csvs[0], "\n") != 1+2*300 {
		t.Errorf("CSV exports: held %d lines, streamed %d, equal %v; want 601 and equal",
			strings.Count(csvs[0], "\n"), strings.Count(csvs[1], "\n"), csvs[0] == csvs[1])
	}
}

// TestStreamedDropsItsRuns checks that an edited or removed scenario's
// spilled run is removed with it, and that Close leaves the directory
// empty; and that what the streamed mode cannot do says why.
func TestStreamedDropsItsRuns(t *testing.T) {
	_, m, dir := streamPair(t, 200)
	names := func() []string {
		es, _ := os.ReadDir(dir)
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"A-0", "B-0"}) {
		t.Fatalf("runs %v, want A-0 and B-0", got)
	}
	press(m, "x", "y") // removes the selected scenario, A
	if got := names(); !slices.Equal(got, []string{"B-0"}) {
		t.Errorf("after removing A: %v", got)
	}
	press(m, "C")
	if !strings.Contains(m.status, "streamed trace") {
		t.Errorf("curve on a streamed trace: status %q", m.status)
	}
	m.Close()
	if got := names(); len(got) != 0 {
		t.Errorf("after Close: %v left", got)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after Close the runs' directory is still there (%v)", err)
	}

	// Closed while its replays run (their messages never read): Close
	// waits for them, and nothing is left.
	cfg := m.cfg
	cfg.Stream = &StreamConfig{Name: "x", Dir: t.TempDir(), Open: m.cfg.Stream.Open}
	busy, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	busy.Close()
	if _, err := os.Stat(cfg.Stream.Dir); !os.IsNotExist(err) {
		t.Errorf("Close during the replays left %s (%v)", cfg.Stream.Dir, err)
	}
}

// TestStreamedMetricsWhileClosing closes a spilled run while its metrics
// are being computed in another goroutine, as removing or editing a
// scenario (or quitting) does while a metrics command runs: the command
// must end with a result or an error, never read a closed handle's
// freed state, and the directory must go once both are done.
func TestStreamedMetricsWhileClosing(t *testing.T) {
	_, m, dir := streamPair(t, 400)
	for round := range 20 {
		sub := filepath.Join(dir, "A-0")
		src := filepath.Join(dir, fmt.Sprintf("copy-%d", round))
		if err := os.CopyFS(src, os.DirFS(sub)); err != nil {
			t.Fatal(err)
		}
		r, err := openSpilledRun(src, true, true)
		if err != nil {
			t.Fatal(err)
		}
		end := m.s.span.End
		started := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- fmt.Errorf("metricsAt panicked: %v", p)
				}
			}()
			close(started)
			for range 50 {
				if _, err := r.metricsAt(1, end); err != nil {
					break
				}
			}
			done <- nil
		}()
		<-started
		r.close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(src); !os.IsNotExist(err) {
			t.Fatalf("%s left after close and the metrics ended: %v", src, err)
		}
	}
}

// stallingReader yields all its data but the last KiB, then says so on
// reading and holds the rest until done is closed (then fails with
// err()): a replay still reading, well into the trace, when the explorer
// quits, whatever the machine's speed.
type stallingReader struct {
	data    []byte
	reading chan<- struct{}
	done    <-chan struct{}
	err     func() error
	// stalled counts the readers stalled now.
	stalled *atomic.Int32
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if len(r.data) <= 1024 {
		r.stalled.Add(1)
		defer r.stalled.Add(-1)
		r.reading <- struct{}{}
		<-r.done
		return 0, r.err()
	}
	n := copy(p[:min(len(p), len(r.data)-1024)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestStreamedCloseWhileReplaying quits while the streamed replays still
// read the trace: Close leaves no spilled run and no root directory
// behind (the program exits right after it).
func TestStreamedCloseWhileReplaying(t *testing.T) {
	data, err := samples.ReadFile(samples.Mooncake)
	if err != nil {
		t.Fatal(err)
	}
	base := DefaultBase()
	entries, err := ParseEntries(DefaultSpecs, base)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "runs")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	// The readers stall until the model's context ends (Close), which
	// they learn once the model exists.
	reading := make(chan struct{}, len(entries))
	made := make(chan struct{})
	var mctx context.Context
	var stalled atomic.Int32
	done := make(chan struct{})
	go func() {
		<-made
		<-mctx.Done()
		close(done)
	}()
	sc := &StreamConfig{Name: "slow", Dir: dir,
		Open: func(bool, func(read, total int64)) (*trace.Stream, error) {
			r := &stallingReader{data: data, reading: reading, done: done, err: func() error { return mctx.Err() }, stalled: &stalled}
			return trace.OpenReader("slow", r, trace.ReadOptions{})
		}}
	dark := true
	m, err := newModel(Config{Stream: sc, Scenarios: entries, Base: base, Dark: &dark}, builtinPanes())
	if err != nil {
		t.Fatal(err)
	}
	mctx = m.ctx
	close(made)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	cmd := m.Init()
	go func() { // the program's loop, which stops reading at quit
		if cmd != nil {
			cmd()
		}
	}()
	for range entries {
		<-reading // every replay is writing its run, stalled near the trace's end
	}
	if es, _ := os.ReadDir(dir); len(es) != len(entries) {
		t.Fatalf("%d runs being written, want %d", len(es), len(entries))
	}
	m.Close()
	if n := stalled.Load(); n != 0 {
		t.Errorf("Close returned with %d replays still reading", n)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		es, _ := os.ReadDir(dir)
		t.Fatalf("after Close: %s still there (%d entries, err %v)", dir, len(es), err)
	}
}

// TestStreamedBoundsIndent: the bounds pane's reason for the missing
// ratios sits under its scenario, indented as the other lines are.
func TestStreamedBoundsIndent(t *testing.T) {
	_, m, _ := streamPair(t, 100)
	p := m.panes[paneNamed("Bounds")].(*boundsPane)
	var got []string
	for _, l := range p.lines() {
		if l = stripANSI(l); strings.Contains(l, "ratios") && !strings.HasPrefix(l, "log scale") || strings.Contains(l, "does not hold") {
			got = append(got, l)
		}
	}
	if len(got) == 0 {
		t.Fatal("no reason for the missing ratios")
	}
	for _, l := range got {
		if !strings.HasPrefix(l, "  ") {
			t.Errorf("line %q is not indented", l)
		}
	}
}

// TestStreamedReadErrorShows: a spilled run's file cut short under the
// explorer is said in the status line (which scenario, which file), not
// drawn as zeros without a word.
func TestStreamedReadErrorShows(t *testing.T) {
	_, m, dir := streamPair(t, 200)
	if s := plain(m); strings.Contains(s, "unreadable") {
		t.Fatalf("an error before any was made:\n%s", s)
	}
	events := filepath.Join(dir, "A-0", "events.kve")
	if err := os.Truncate(events, 64); err != nil {
		t.Fatal(err)
	}
	press(m, "end") // the timeline reads events near the end
	s := plain(m)
	if !strings.Contains(s, "[A] unreadable") || !strings.Contains(s, "A: "+events) {
		t.Errorf("no read error in the status line:\n%s", s)
	}
}
