package tui

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// StreamConfig opens the explorer on a trace it does not hold (`kvscope
// open TRACE --stream`): each scenario's replay reads the trace anew
// through Open, writes its run to a directory under Dir as it goes
// (sim.CreateSpill), and the panes read that run back a few rows at a
// time. Memory then follows the simulated caches, routers and requests
// in flight, not the trace: what a streamed `kvscope run` holds, per
// scenario.
//
// What the streamed mode leaves out, because it needs the whole trace in
// memory: the competitive ratios (each worker's whole sequence replayed
// by opt and Belady), the trace statistics over block ids (unique blocks,
// infinite-cache hit ratio) and the cache curve overlay. Every worker's
// router score and true cached prefix per request are spilled with the
// run (sim.SpillWriter.Detail), as a held run keeps them. The report export reads the trace anew for each
// scenario (analysis.CompareStream, as `kvscope compare --stream`). The
// chart of TTFT medians and the metrics table at the cursor take their
// percentiles from sketches (analysis.SketchNote).
type StreamConfig struct {
	// Name is what the trace is called on screen (its file name).
	Name string
	// Open opens the trace for one replay, keeping the trace's own block
	// ids when keepIDs is set (trace.ReadOptions.KeepIDs: for a router
	// that hashes them, route.TraceIDs); progress, if the reader knows its
	// size, is called with the bytes read so far and the total.
	Open func(keepIDs bool, progress func(read, total int64)) (*trace.Stream, error)
	// Dir holds the spilled runs, one directory per replay. Keep leaves
	// them there at exit (a directory the user named); otherwise each is
	// removed when its scenario is edited or removed, or the explorer
	// ends.
	Dir  string
	Keep bool
}

// streamReplayCmd is replayCmd for the streamed mode: slot id's
// generation gen replays a fresh read of the trace into its own directory.
// Progress counts bytes of the trace read, when the reader knows the
// size, and requests read otherwise.
func streamReplayCmd(ctx context.Context, sc *StreamConfig, jobs *streamJobs, e Entry, id, gen int) tea.Cmd {
	ch := make(chan tea.Msg, 1)
	jobs.wg.Add(1)
	go func() {
		defer jobs.wg.Done()
		start := time.Now()
		msg := replayDoneMsg{id: id, gen: gen}
		dir := filepath.Join(sc.Dir, fmt.Sprintf("%c-%d", 'A'+rune(id%26), gen))
		if id >= 26 {
			dir = filepath.Join(sc.Dir, fmt.Sprintf("s%d-%d", id, gen))
		}
		msg.data, msg.view, msg.summary, msg.err = streamReplay(ctx, sc, e, dir, func(done, total int) {
			offer(ch, progressMsg{id: id, gen: gen, done: done, total: total, phase: phaseStream})
		})
		msg.elapsed = time.Since(start)
		jobs.hand(msg.data)
		finish(ch, msg)
	}()
	return listenReplay(ch)
}

// streamJobs are the streamed replays of one explorer: those running, and
// the runs they opened that the event loop has not taken yet (a replay
// that ends as the explorer quits sends its run to a loop that no longer
// reads). Model.Close waits for the first and closes the second, so that
// no spilled run outlives the explorer.
type streamJobs struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	pending map[runData]struct{}
}

// hand notes that data is on its way to the event loop.
func (j *streamJobs) hand(data runData) {
	if data == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.pending == nil {
		j.pending = map[runData]struct{}{}
	}
	j.pending[data] = struct{}{}
}

// take notes that the event loop has data.
func (j *streamJobs) take(data runData) {
	if data == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.pending, data)
}

// stop waits for the replays (their contexts cancelled) and closes the
// runs the event loop never took.
func (j *streamJobs) stop() {
	j.wg.Wait()
	j.mu.Lock()
	defer j.mu.Unlock()
	for data := range j.pending {
		data.close()
	}
	j.pending = nil
}

// phaseStream names the streamed replay's step.
const phaseStream = "streaming"

// streamReplay runs one streamed replay into dir and opens it.
func streamReplay(ctx context.Context, sc *StreamConfig, e Entry, dir string, progress func(done, total int)) (_ runData, _ *runView, _ *traceSummary, err error) {
	owned := !sc.Keep
	defer func() {
		if err != nil && owned {
			os.RemoveAll(dir)
		}
	}()
	var read, size int64
	// consistent_hash hashes the trace's own ids: without them it would
	// hash dense ones and route otherwise than over the held trace.
	s, err := sc.Open(route.TraceIDs(e.Scenario.Router.Name), func(n, total int64) { read, size = n, total })
	if err != nil {
		return nil, nil, nil, err
	}
	defer s.Close()
	w, err := sim.CreateSpill(dir, e.Scenario)
	if err != nil {
		return nil, nil, nil, err
	}
	sum := newTraceSummary()
	ordered, last := true, time.Duration(math.MinInt64)
	opt := sim.StreamOptions{
		OnRecord: func(r *sim.Record, q *trace.Request) {
			sum.add(q)
			if r.Arrival < last {
				ordered = false
			}
			last = r.Arrival
		},
		Progress: func(done, _ int) {
			if size > 0 {
				// in KiB, so that a file of terabytes fits an int on 32-bit platforms
				progress(int(read>>10), int(max(size>>10, 1)))
			} else {
				progress(done, 0)
			}
		},
	}
	w.Hook(&opt)
	// Every worker's router score and true cached prefix per request, for
	// the request pane, as a held run keeps them (sim.Options.RequestDetail).
	if err := w.Detail(&opt); err != nil {
		w.Abort()
		return nil, nil, nil, err
	}
	run, err := sim.SimulateStream(ctx, s, e.Scenario, opt)
	if err == nil {
		// Cancelled as the trace ended: its scenario or the explorer is
		// gone, so skip opening the run and its series.
		err = ctx.Err()
	}
	if err != nil {
		w.Abort()
		return nil, nil, nil, err
	}
	if err := w.Close(run); err != nil {
		return nil, nil, nil, err
	}
	sum.info = run.Trace
	data, err := openSpilledRun(dir, owned, ordered)
	if err != nil {
		return nil, nil, nil, err
	}
	v, err := spilledView(data.ui)
	if err != nil {
		data.close()
		return nil, nil, nil, err
	}
	return data, v, sum, nil
}

// summaryBins is how many bins traceSummary counts arrivals in.
const summaryBins = 4096

// traceSummary is what the trace pane shows of a trace it does not hold,
// gathered as a streamed replay reads it: the count, the arrival span, a
// histogram of arrivals in summaryBins equal bins (each twice as wide
// once an arrival passes the last, so any span fits) and the log2
// histograms of input and output lengths.
type traceSummary struct {
	info            trace.Info
	requests        int
	first, last     time.Duration
	width           time.Duration // of one bin
	bins            []int64
	inHist, outHist []int
}

func newTraceSummary() *traceSummary {
	return &traceSummary{width: time.Millisecond, bins: make([]int64, summaryBins)}
}

func (t *traceSummary) add(q *trace.Request) {
	a := q.Arrival
	if t.requests == 0 {
		t.first, t.last = a, a
	}
	t.requests++
	t.last = max(t.last, a)
	t.inHist = addLog2(t.inHist, q.Input)
	t.outHist = addLog2(t.outHist, q.Output)
	off := max(a-t.first, 0) // a reader yields arrival order; a stray earlier one counts in the first bin
	for off >= t.width*summaryBins {
		for i := range summaryBins / 2 {
			t.bins[i] = t.bins[2*i] + t.bins[2*i+1]
		}
		clear(t.bins[summaryBins/2:])
		t.width *= 2
	}
	t.bins[off/t.width]++
}

// counts spreads the arrivals over w cells of the span [first, last], each
// bin into the cell holding its middle.
func (t *traceSummary) counts(w int) []float64 {
	out := make([]float64, w)
	dur := t.last - t.first
	for i, c := range t.bins {
		if c == 0 {
			continue
		}
		j := 0
		if dur > 0 {
			mid := time.Duration(i)*t.width + t.width/2
			j = int(float64(mid) / float64(dur) * float64(w))
		}
		out[min(max(j, 0), w-1)] += float64(c)
	}
	return out
}
