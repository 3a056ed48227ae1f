package tui

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// conversationConfig opens the whole Mooncake conversation trace (12,031
// requests) with the default scenarios, as `kvscope open` would.
func conversationConfig(b testing.TB) Config {
	b.Helper()
	path := filepath.Join(testenv.SharedTraces(b), "mooncake", "conversation_trace.jsonl")
	cfg, err := fileConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	dark := true
	cfg.Dark = &dark
	return cfg
}

// fileModel builds the root model on the trace at path with the default
// scenarios (fileConfig, then New), not yet started.
func fileModel(b testing.TB, path string) *Model {
	b.Helper()
	cfg, err := fileConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// fileConfig loads the trace at path and the default scenarios, as
// `kvscope open PATH` does.
func fileConfig(path string) (Config, error) {
	base := DefaultBase()
	entries, err := ParseEntries(DefaultSpecs, base)
	if err != nil {
		return Config{}, err
	}
	tr, err := trace.Load(path, trace.ReadOptions{})
	if err != nil {
		return Config{}, err
	}
	return Config{Trace: tr, Stats: TraceStats(tr), Scenarios: entries, Base: base}, nil
}

// BenchmarkFirstFrame: load the conversation trace, build the root model
// with the two default scenarios, start them (Init) and draw the first
// frame at 120×40. Replays go on in the background and are canceled at
// the end of each iteration.
func BenchmarkFirstFrame(b *testing.B) {
	path := filepath.Join(testenv.SharedTraces(b), "mooncake", "conversation_trace.jsonl")
	var worst time.Duration
	for b.Loop() {
		start := time.Now()
		m := fileModel(b, path)
		m.Init()
		m.Update(winSize(120, 40))
		if v := m.View(); v.Content == "" {
			b.Fatal("empty first frame")
		}
		worst = max(worst, time.Since(start))
		m.Close()
	}
	b.ReportMetric(float64(worst)/1e6, "worst-ms")
}

// scrub sends n random scrub keys to m and returns each key's Update+View
// time. Commands the keys start (the metrics table at the new cursor) run
// in goroutines, as under tea.Program, and their messages are delivered
// (and drawn) between keys, off the clock. It returns once every command
// started has answered: each goroutine sends exactly one message, so the
// count of unanswered ones tells when the last has landed.
func scrub(m *Model, rng *rand.Rand, n int) []time.Duration {
	keys := []string{"left", "right", ",", ".", "f", "b", "F", "B", "home", "end", "pgup", "pgdown"}
	results := make(chan tea.Msg, 64)
	pending := 0 // goroutines started whose message was not received yet
	launch := func(c tea.Cmd) {
		if c != nil {
			pending++
			go func() { results <- c() }()
		}
	}
	handle := func(msg tea.Msg, draw bool) {
		pending--
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				launch(c)
			}
		default:
			_, c := m.Update(msg)
			if draw {
				_ = m.View()
			}
			launch(c)
		}
	}
	lat := make([]time.Duration, 0, n)
	for range n {
		for drained := false; !drained; {
			select {
			case msg := <-results:
				handle(msg, true)
			default:
				drained = true
			}
		}
		k := keyMsg(keys[rng.IntN(len(keys))])
		t0 := time.Now()
		_, c := m.Update(k)
		_ = m.View()
		lat = append(lat, time.Since(t0))
		launch(c)
	}
	// Let the background work land, as the program would.
	for pending > 0 {
		handle(<-results, false)
	}
	return lat
}

func quantile(lat []time.Duration, q float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// checkCaughtUp fails unless every scenario's metrics table is the one at
// the cursor: once the keys stop, the table catches up with the cursor.
func checkCaughtUp(t testing.TB, m *Model) {
	t.Helper()
	for _, sl := range m.s.slots {
		if _, exact, ok := m.s.metricsAt(sl); !ok || !exact {
			t.Errorf("%s: metrics table not at the cursor after scrubbing", sl.label())
		}
	}
}

// BenchmarkScrub: after the replays finished, rounds of 1,000 random scrub
// keys at 200×60 on the whole conversation trace; reports the p50, p99 and
// max of Update plus View per key over every key of every round. The
// target (BENCHMARKS.md) is a p99 under 16 ms; a benchmark reports it and
// no test asserts it, since a wall-clock threshold fails on a loaded
// machine whatever the code does.
func BenchmarkScrub(b *testing.B) {
	m := newDone(b, conversationConfig(b), 200, 60)
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	for b.Loop() {
		lat = append(lat, scrub(m, rng, 1000)...)
	}
	checkCaughtUp(b, m)
	b.ReportMetric(float64(quantile(lat, 0.5))/1e6, "p50-ms")
	b.ReportMetric(float64(quantile(lat, 0.99))/1e6, "p99-ms")
	b.ReportMetric(float64(quantile(lat, 1))/1e6, "max-ms")
}

// BenchmarkReplaysReady: from loading the conversation trace to both
// default replays finished (with VsOpt) and their per-run views and first
// metrics tables built: how long the panes say "replaying…".
func BenchmarkReplaysReady(b *testing.B) {
	path := filepath.Join(testenv.SharedTraces(b), "mooncake", "conversation_trace.jsonl")
	for b.Loop() {
		m := fileModel(b, path)
		m.Update(winSize(200, 60))
		drive(b, m, m.Init())
		if !m.Done() {
			b.Fatal("not done")
		}
		m.Close()
	}
}

// BenchmarkScrubStreamed is BenchmarkScrub on the streamed explorer
// (Config.Stream), whose panes read spilled runs from disk a few rows at a
// time. By default it streams the conversation trace with the default
// scenarios into a temporary directory, once. KVSCOPE_BENCH_TRACE=FILE
// streams that trace instead (KVSCOPE_BENCH_SCENARIOS=S1;;S2 for other
// scenarios, ";;"-separated since a scenario holds ';'), and
// KVSCOPE_BENCH_SPILLED=DIR,DIR opens runs spilled before (`kvscope open
// --stream --spill-dir`'s) without replaying: BENCHMARKS.md's 10M-request
// figures. It also reports the first frame: New, Init and the first View,
// which on a streamed trace reads nothing of it.
func BenchmarkScrubStreamed(b *testing.B) {
	m, first := streamedBenchModel(b)
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	for b.Loop() {
		lat = append(lat, scrub(m, rng, 1000)...)
	}
	checkCaughtUp(b, m)
	b.ReportMetric(float64(first)/1e6, "first-frame-ms")
	b.ReportMetric(float64(quantile(lat, 0.5))/1e6, "p50-ms")
	b.ReportMetric(float64(quantile(lat, 0.99))/1e6, "p99-ms")
	b.ReportMetric(float64(quantile(lat, 1))/1e6, "max-ms")
}

// streamedBenchModel is BenchmarkScrubStreamed's explorer at 200×60 with
// its replays done, and how long its first frame took.
func streamedBenchModel(b *testing.B) (*Model, time.Duration) {
	b.Helper()
	path := os.Getenv("KVSCOPE_BENCH_TRACE")
	if path == "" {
		path = filepath.Join(testenv.SharedTraces(b), "mooncake", "conversation_trace.jsonl")
	}
	specs := DefaultSpecs
	if s := os.Getenv("KVSCOPE_BENCH_SCENARIOS"); s != "" {
		specs = strings.Split(s, ";;")
	}
	spilled := os.Getenv("KVSCOPE_BENCH_SPILLED")
	if spilled != "" {
		specs = nil
		for _, dir := range strings.Split(spilled, ",") {
			sp, err := sim.OpenSpill(dir)
			if err != nil {
				b.Fatal(err)
			}
			specs = append(specs, sp.Footer().Scenario)
			sp.Close()
		}
	}
	base := DefaultBase()
	entries, err := ParseEntries(specs, base)
	if err != nil {
		b.Fatal(err)
	}
	dark := true
	sc := &StreamConfig{Name: filepath.Base(path), Dir: b.TempDir(),
		Open: func(_ bool, progress func(read, total int64)) (*trace.Stream, error) {
			return trace.Open(path, trace.ReadOptions{})
		}}
	t0 := time.Now()
	m, err := New(Config{Stream: sc, Scenarios: entries, Base: base, Dark: &dark})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Close)
	m.Update(winSize(200, 60))
	init := m.Init()
	_ = m.View()
	first := time.Since(t0)
	if spilled == "" {
		drive(b, m, init)
	} else {
		m.Close() // the replays Init started: the spilled runs stand in for them
		for i, dir := range strings.Split(spilled, ",") {
			data, err := openSpilledRun(dir, false, true)
			if err != nil {
				b.Fatal(err)
			}
			v, err := spilledView(data.ui)
			if err != nil {
				b.Fatal(err)
			}
			sl := m.s.slots[i]
			sl.gen++ // as an edit would: the cancelled replay's end is dropped
			drive(b, m, func() tea.Msg { return replayDoneMsg{id: sl.id, gen: sl.gen, data: data, view: v} })
		}
	}
	if !m.Done() {
		b.Fatal("replays did not finish")
	}
	for _, sl := range m.s.slots {
		if sl.state != slotDone {
			b.Fatalf("%s: %v", sl.label(), sl.err)
		}
	}
	return m, first
}
