package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// slotState is where a scenario's replay stands.
type slotState int

const (
	slotRunning slotState = iota
	slotDone
	slotFailed
)

// slot is one scenario of the comparison.
type slot struct {
	// id never changes; gen bumps on every edit, so results of an older
	// replay of the same slot are dropped.
	id, gen int
	entry   Entry
	state   slotState
	// done of total is the replay's progress in units of work (see
	// replayCmd); phase names the step it is in.
	done, total int
	phase       string
	err         error
	elapsed     time.Duration
	cancel      context.CancelFunc
	data        runData
	view        *runView
	// memo of the metrics table at the cursor.
	memoT  time.Duration
	memoOK bool
	memo   analysis.RunMetrics
}

// dropData closes the slot's run (a spilled run's files) and forgets it.
func (s *slot) dropData() {
	if s.data != nil {
		s.data.close()
		s.data = nil
	}
}

// readErr is the first error reading the slot's run (a spilled run's
// files), nil when there is none or no run (running, failed, dropped).
func (s *slot) readErr() error {
	if s.data == nil {
		return nil
	}
	return s.data.err()
}

// label is the short name shown in headers: the scenario as typed.
func (s *slot) label() string { return s.entry.Label }

// seriesPoints is the resolution of the precomputed chart series.
const seriesPoints = 240

// runView is everything the panes need from a finished run that is not an
// O(log n) lookup: computed once, in the replay's goroutine.
type runView struct {
	hit      analysis.Series
	queue    analysis.Series // cluster total
	ttft     analysis.Series
	inflight analysis.Series // cluster total, queued + running
	// queueMax is the largest total queue (chart scale).
	queueMax float64
	// ratios are the per-worker competitive ratios (analysis.Ratios); nil
	// for a spilled run, whose workers' sequences are not held.
	ratios []seq.WorkerRatios
}

// newMemRun indexes a whole run's arrivals for stepping.
func newMemRun(run *sim.Run, tr *trace.Trace) *memRun {
	m := &memRun{run: run, tr: tr}
	n := len(run.Records)
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		return cmp.Compare(run.Records[a].Arrival, run.Records[b].Arrival)
	})
	m.reqAt = order
	m.arrivals = make([]time.Duration, n)
	for i, x := range order {
		m.arrivals[i] = run.Records[x].Arrival
	}
	return m
}

func newRunView(run *sim.Run) *runView {
	v := &runView{}
	if run.End > run.Start {
		v.hit = analysis.HitRatioSeries(run, seriesPoints)
		v.queue, v.queueMax = analysis.SumSeries(analysis.QueueSeries(run, seriesPoints))
		v.ttft = analysis.TTFTSeries(run, seriesPoints)
		v.inflight = analysis.InFlightSeries(run, seriesPoints)
	}
	return v
}

// metricsRes is one slot's table, tagged with its id and generation.
type metricsRes struct {
	id, gen int
	m       analysis.RunMetrics
	err     error
}

// Messages of the background work. Replay messages carry the slot's id
// and generation.
type (
	progressMsg struct {
		id, gen     int
		done, total int
		phase       string
		next        tea.Cmd
	}
	replayDoneMsg struct {
		id, gen int
		data    runData
		view    *runView
		summary *traceSummary // a streamed replay's view of the trace
		err     error
		elapsed time.Duration
	}
	statsMsg struct {
		stats *trace.Stats
		err   error
	}
	exportDoneMsg struct {
		path string
		size int64 // -1: unknown
		err  error
		// live is the live run's report written beside it (LiveReportPath),
		// liveErr why it was not, liveNote why there was none to write.
		live     string
		liveErr  error
		liveNote string
	}
	playTickMsg struct{ seq int }
	// metricsMsg carries the metrics tables at instant t.
	metricsMsg struct {
		t   time.Duration
		res []metricsRes
	}
	// liveMsg is one update of the live driver; liveDoneMsg its end.
	liveMsg struct {
		u    live.Update
		next tea.Cmd
	}
	liveDoneMsg struct {
		res *live.Result
		err error
	}
)

// Phases of a replay, as the panes name them.
const (
	phaseReplay = "replaying"
	phaseRatios = "opt & Belady"
)

// replayCmd starts slot s's replay and returns the command that streams
// its messages: progress (each carrying the command for the next message)
// and finally replayDoneMsg.
//
// Progress counts the whole job, not just the simulation: the simulation
// is the first half (requests finished of the trace's), the competitive
// ratios (each worker's sequence replayed by its policy and by opt, every
// 16 requests, then the Belady bound, at its end) the second. Measured on
// the kv-cache-tester archive (49,334 requests, 4 workers), the ratios
// took 20–30 s against the simulation's 13–37 s: counting only the
// simulation left the screen at 99% for the ratios' whole time. The series
// after them take milliseconds.
func replayCmd(ctx context.Context, tr *trace.Trace, e Entry, id, gen int) tea.Cmd {
	ch := make(chan tea.Msg, 1)
	go func() {
		start := time.Now()
		n := max(len(tr.Requests), 1)
		send := func(done int, phase string) {
			offer(ch, progressMsg{id: id, gen: gen, done: done, total: 2 * n, phase: phase})
		}
		run, err := sim.Simulate(ctx, tr, e.Scenario, sim.Options{RequestDetail: true, Progress: func(done, _ int) { send(done, phaseReplay) }})
		var rs []seq.WorkerRatios
		if err == nil {
			send(n, phaseRatios)
			rs, err = analysis.RatiosProgress(ctx, tr, run, e.Scenario, func(done, total int) {
				send(n+done*n/max(total, 1), phaseRatios)
			})
		}
		msg := replayDoneMsg{id: id, gen: gen, err: err}
		if err == nil {
			msg.data, msg.view = newMemRun(run, tr), newRunView(run)
			msg.view.ratios = rs
		}
		msg.elapsed = time.Since(start)
		finish(ch, msg)
	}()
	return listenReplay(ch)
}

// listenReplay is listen for a replay's messages: each progress message
// carries the command for the next.
func listenReplay(ch <-chan tea.Msg) tea.Cmd {
	return listen(ch, func(m tea.Msg, next tea.Cmd) tea.Msg {
		if p, isP := m.(progressMsg); isP {
			p.next = next
			return p
		}
		return m
	})
}

// offer sends a progress message unless the screen has not taken the
// previous one yet (then it is dropped: the next will say more).
func offer(ch chan tea.Msg, m tea.Msg) {
	select {
	case ch <- m:
	default:
	}
}

// finish drains a pending progress message so the final one gets
// through, sends it and closes ch.
func finish(ch chan tea.Msg, m tea.Msg) {
	select {
	case <-ch:
	default:
	}
	ch <- m
	close(ch)
}

// listen is the command reading a background job's messages from ch
// until it is closed; attach gives each progress message the command for
// the next one.
func listen(ch <-chan tea.Msg, attach func(m tea.Msg, next tea.Cmd) tea.Msg) tea.Cmd {
	var next tea.Cmd
	next = func() tea.Msg {
		m, ok := <-ch
		if !ok {
			return nil
		}
		return attach(m, next)
	}
	return next
}

// failureText is how a failed replay reads on screen. The slot's label
// already names the scenario, so a panic the simulator recovered
// (*sim.InternalError) shows without its long canonical scenario string,
// which would push the request and the panic value off the line.
func failureText(err error) string {
	var ie *sim.InternalError
	if errors.As(err, &ie) {
		return ie.Brief()
	}
	if oe := oversizeOf(err); oe != nil {
		return oe.Brief() // the ways to go on are offered beside it (oversizeHint)
	}
	return err.Error()
}

// statsCmd computes the trace statistics in the background.
func statsCmd(f func() (*trace.Stats, error)) tea.Cmd {
	return func() tea.Msg {
		st, err := f()
		return statsMsg{stats: st, err: err}
	}
}

// liveCmd starts the live driver and returns the command streaming its
// updates (each carrying the command for the next) and then its end.
func liveCmd(ctx context.Context, tr *trace.Trace, run LiveFunc) tea.Cmd {
	updates := make(chan live.Update, 64)
	done := make(chan liveDoneMsg, 1)
	go func() {
		defer func() {
			// The driver turns its own panics into errors; this catches the
			// rest of the hook, so the explorer shows a failure, not a crash.
			if p := recover(); p != nil {
				done <- liveDoneMsg{err: fmt.Errorf("live: internal error (panic): %v", p)}
			}
		}()
		res, err := run(ctx, tr, updates)
		done <- liveDoneMsg{res: res, err: err}
	}()
	var next tea.Cmd
	next = func() tea.Msg {
		select {
		case u := <-updates:
			return liveMsg{u: u, next: next}
		case d := <-done:
			// Deliver what the driver sent before it returned.
			select {
			case u := <-updates:
				done <- d
				return liveMsg{u: u, next: next}
			default:
			}
			return d
		}
	}
	return next
}
