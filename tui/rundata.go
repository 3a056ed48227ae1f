package tui

import (
	"time"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// runData is what the panes read of one finished replay. The whole run
// in memory (memRun) answers from slices; a run spilled to disk
// (spilledRun, the streamed mode for traces larger than memory) answers
// with a few reads of its files, so a pane costs the same on a trace of
// ten thousand requests as on one of ten million.
//
// Every method but metricsAt is called on the event loop only. metricsAt
// runs in a command, one at a time (Model.metricsBusy), and must not
// share a reader with the others.
type runData interface {
	facts() runFacts
	stateAt(t time.Duration) sim.State
	// record is request i's record (trace index).
	record(i int) sim.Record
	// request is request i's own figures from the trace.
	request(i int) reqInfo
	// scores are every worker's router score and true cached prefix of
	// request i; nil when the run keeps only the decision (spilled).
	scores(i int) ([]float32, []int32)
	// numEvents, eventIndex and event read the event log: eventIndex(t)
	// is the index of the first event at or after t.
	numEvents() int
	eventIndex(t time.Duration) int
	event(i int) sim.Event
	// stepEvent is the instant of the first event after t (d > 0) or the
	// last before t (d < 0); t when there is none.
	stepEvent(t time.Duration, d int) time.Duration
	// arrivalAt is the last request that arrived at or before t, or -1;
	// stepArrival is stepEvent over arrivals.
	arrivalAt(t time.Duration) int
	stepArrival(t time.Duration, d int) time.Duration
	metricsAt(seed uint64, t time.Duration) (analysis.RunMetrics, error)
	// err is the first read error (nil for a run in memory).
	err() error
	close()
}

// runFacts are a run's constants.
type runFacts struct {
	start, end time.Duration
	workers    int
	capacity   int64
	unit       string
	loadUnit   string
	requests   int
}

// reqInfo is what the request pane shows of a request itself.
type reqInfo struct {
	source                string
	input, output, blocks int
	session               int64
	turn                  int
}

// memRun is a whole run in memory with its trace.
type memRun struct {
	run *sim.Run
	tr  *trace.Trace
	// arrivals are the arrival instants in time order, reqAt the request
	// index of each.
	arrivals []time.Duration
	reqAt    []int32
}

func (m *memRun) facts() runFacts {
	r := m.run
	return runFacts{start: r.Start, end: r.End, workers: r.Workers, capacity: r.Capacity, unit: r.Unit,
		loadUnit: r.LoadUnit, requests: len(r.Records)}
}

func (m *memRun) stateAt(t time.Duration) sim.State { return m.run.StateAt(t) }
func (m *memRun) record(i int) sim.Record           { return m.run.Records[i] }

func (m *memRun) request(i int) reqInfo { return reqInfoOf(&m.tr.Requests[i]) }

func reqInfoOf(r *trace.Request) reqInfo {
	return reqInfo{source: r.Source, input: r.Input, output: r.Output, blocks: len(r.Blocks), session: r.Session, turn: r.Turn}
}

func (m *memRun) scores(i int) ([]float32, []int32) {
	return m.run.RequestScores(i), m.run.RequestMatches(i)
}

func (m *memRun) numEvents() int                 { return len(m.run.Events) }
func (m *memRun) eventIndex(t time.Duration) int { return m.run.EventIndex(t) }
func (m *memRun) event(i int) sim.Event          { return m.run.Events[i] }
func (m *memRun) err() error                     { return nil }
func (m *memRun) close()                         {}
func (m *memRun) metricsAt(seed uint64, t time.Duration) (analysis.RunMetrics, error) {
	return analysis.MetricsAt(m.run, seed, t), nil
}

func (m *memRun) stepEvent(t time.Duration, d int) time.Duration {
	return stepEvent(m.run.Events, t, d)
}

func (m *memRun) arrivalAt(t time.Duration) int {
	i := lastAtOrBefore(m.arrivals, t)
	if i < 0 {
		return -1
	}
	return int(m.reqAt[i])
}

func (m *memRun) stepArrival(t time.Duration, d int) time.Duration {
	return stepTime(m.arrivals, t, d)
}
