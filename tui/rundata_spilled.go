package tui

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/sim"
)

// spilledRun is a replay spilled to disk (the streamed mode): every
// answer is a few reads of its files. It holds two handles on the run:
// ui for the event loop, and the metrics' own, so metricsAt (in a
// command) never shares a reader's buffer with a pane.
type spilledRun struct {
	dir     string
	owned   bool // remove dir on close
	ui      *sim.Spilled
	f       runFacts
	metrics *spilledMetrics
	// mu guards metrics, which a command reads while the event loop may
	// close the run (a scenario edited or removed, the explorer quit):
	// close cancels stop's context, which ends a scan within a few
	// thousand rows, and waits for it before closing the handle.
	mu   *sync.Mutex
	mctx context.Context
	stop context.CancelFunc
	// ordered says the records' arrivals never decrease in trace order
	// (checked as they were written), so arrivals are found by binary
	// search over the records; otherwise the event log's arrivals are
	// scanned, at most eventScanLimit events from the cursor.
	ordered bool
	first   error
	rec     sim.Record
	// state and arrivalReq memoise the last stateAt and arrivalAt (a
	// frame asks for the same instant in several panes: summary and
	// body); probes caches the arrivals firstAfter reads in its first
	// probeDepth steps, as sim's spill searches do.
	state      sim.State
	stateT     time.Duration
	stateOK    bool
	arrivalReq int
	arrivalT   time.Duration
	arrivalOK  bool
	probes     map[int]time.Duration
	// dScores and dMatches are scores' rows.
	dScores  []float32
	dMatches []int32
}

// probeDepth is how many steps of firstAfter's search are cached.
const probeDepth = 12

// openSpilledRun opens the run spilled in dir.
func openSpilledRun(dir string, owned, ordered bool) (_ *spilledRun, err error) {
	r := &spilledRun{dir: dir, owned: owned, ordered: ordered, mu: new(sync.Mutex)}
	r.mctx, r.stop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.ui, err = sim.OpenSpill(dir); err != nil {
		return nil, err
	}
	r.f = spilledFacts(r.ui)
	if r.metrics, err = newSpilledMetrics(dir); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *spilledRun) facts() runFacts { return r.f }

// fail keeps the first read error; the panes show zero values after one,
// and the status line says why (statusLine).
func (r *spilledRun) fail(err error) {
	if err != nil && r.first == nil {
		r.first = err
	}
}

func (r *spilledRun) err() error { return r.first }

func (r *spilledRun) stateAt(t time.Duration) sim.State {
	if r.stateOK && r.stateT == t {
		return r.state
	}
	st, err := r.ui.States.StateAt(t)
	r.fail(err)
	if err != nil {
		return sim.State{T: t, Workers: make([]sim.Sample, r.f.workers)}
	}
	r.state, r.stateT, r.stateOK = st, t, true
	return st
}

func (r *spilledRun) record(i int) sim.Record {
	var rec sim.Record
	if err := r.ui.Records.Read(i, &rec); err != nil {
		r.fail(err)
		return sim.Record{Index: int32(i), Worker: -1, Status: sim.Failed, Fail: "unreadable: " + err.Error()}
	}
	return rec
}

func (r *spilledRun) request(i int) reqInfo {
	q, err := spilledRequest(r.ui, i)
	r.fail(err)
	return q
}

// scores reads request i's router scores and true cached prefixes from
// the run's detail file (sim.SpillWriter.Detail); nil for a run spilled
// without it. The slices are reused by the next call.
func (r *spilledRun) scores(i int) ([]float32, []int32) {
	d := r.ui.Detail
	if d == nil {
		return nil, nil
	}
	if r.dScores == nil {
		r.dScores, r.dMatches = make([]float32, r.f.workers), make([]int32, r.f.workers)
	}
	if err := d.Read(i, r.dScores, r.dMatches); err != nil {
		r.fail(err)
		return nil, nil
	}
	return r.dScores, r.dMatches
}

func (r *spilledRun) numEvents() int { return r.ui.Events.Len() }

func (r *spilledRun) eventIndex(t time.Duration) int {
	i, err := r.ui.Events.Index(t)
	r.fail(err)
	return i
}

func (r *spilledRun) event(i int) sim.Event {
	e, err := r.ui.Events.At(i)
	r.fail(err)
	return e
}

func (r *spilledRun) stepEvent(t time.Duration, d int) time.Duration {
	if d > 0 {
		if i := r.eventIndex(t + 1); i < r.numEvents() {
			return r.event(i).T
		}
		return t
	}
	if i := r.eventIndex(t); i > 0 {
		return r.event(i - 1).T
	}
	return t
}

// isArrival reports whether e is logged at a request's arrival: its
// routing, or its failure before routing (sim's cluster.arrive). The log
// has no entry of kind LogArrival.
func isArrival(e sim.Event) bool {
	return e.Kind == sim.LogRouted || (e.Kind == sim.LogFail && e.Worker < 0)
}

// arrival is request i's arrival.
func (r *spilledRun) arrival(i int) time.Duration {
	if err := r.ui.Records.Read(i, &r.rec); err != nil {
		r.fail(err)
		return 0
	}
	return r.rec.Arrival
}

// firstAfter is the first request in trace order whose arrival is after t
// (records in arrival order).
func (r *spilledRun) firstAfter(t time.Duration) int {
	n := r.ui.Records.Len()
	lo, hi := 0, n
	for depth := 0; lo < hi; depth++ {
		m := int(uint(lo+hi) >> 1)
		a, ok := r.probes[m]
		if !ok {
			a = r.arrival(m)
			if depth < probeDepth && r.first == nil {
				if r.probes == nil {
					r.probes = map[int]time.Duration{}
				}
				r.probes[m] = a
			}
		}
		if a <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (r *spilledRun) arrivalAt(t time.Duration) int {
	if r.arrivalOK && r.arrivalT == t {
		return r.arrivalReq
	}
	i := r.searchArrival(t)
	r.arrivalT, r.arrivalReq, r.arrivalOK = t, i, true
	return i
}

// searchArrival is arrivalAt's search.
func (r *spilledRun) searchArrival(t time.Duration) int {
	if r.ordered {
		return r.firstAfter(t) - 1
	}
	for j, k := r.eventIndex(t+1)-1, 0; j >= 0 && k < eventScanLimit; j, k = j-1, k+1 {
		if e := r.event(j); isArrival(e) {
			return int(e.Req)
		}
	}
	return -1
}

func (r *spilledRun) stepArrival(t time.Duration, d int) time.Duration {
	if r.ordered {
		if d > 0 {
			if i := r.firstAfter(t); i < r.ui.Records.Len() {
				return r.arrival(i)
			}
			return t
		}
		// the last arrival before t: one before the first at or after t.
		if i := r.firstAfter(t-1) - 1; i >= 0 {
			return r.arrival(i)
		}
		return t
	}
	n := r.numEvents()
	if d > 0 {
		for j, k := r.eventIndex(t+1), 0; j < n && k < eventScanLimit; j, k = j+1, k+1 {
			if e := r.event(j); isArrival(e) {
				return e.T
			}
		}
		return t
	}
	for j, k := r.eventIndex(t)-1, 0; j >= 0 && k < eventScanLimit; j, k = j-1, k+1 {
		if e := r.event(j); isArrival(e) {
			return e.T
		}
	}
	return t
}

// errRunClosed is metricsAt's answer once the run is closed.
var errRunClosed = errors.New("spilled run closed")

func (r *spilledRun) metricsAt(seed uint64, t time.Duration) (analysis.RunMetrics, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics == nil {
		return analysis.RunMetrics{}, errRunClosed
	}
	return r.metrics.m.AtContext(r.mctx, seed, t)
}

func (r *spilledRun) close() {
	if r.ui != nil {
		r.ui.Close()
	}
	r.stop()
	r.mu.Lock()
	if r.metrics != nil {
		r.metrics.Close()
		r.metrics = nil
	}
	r.mu.Unlock()
	if r.owned {
		os.RemoveAll(r.dir)
	}
}
