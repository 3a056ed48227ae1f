package sim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
)

// A spilled run is a directory holding what Run holds in memory, written
// as a streamed run produces it (`kvscope run --spill DIR`) and read back
// lazily (OpenSpill, `kvscope inspect DIR`):
//
//	records.kvr   every request's record, trace order, and in its footer
//	              the run's span, capacity and units (OpenRecords)
//	requests.kvq  every request's own fields from the trace (tokens,
//	              blocks, session, turn, line), trace order (OpenRequests)
//	events.kve    the event log, time order (OpenEvents)
//	states/       each worker's samples and the router's loads (OpenStates)
//	detail.kvd    optional (SpillWriter.Detail): every request's per-worker
//	              router scores and true cached prefixes (OpenDetail)
//
// The records file is committed last: a directory whose records file is
// missing was not finished.
const (
	spillRecordsName  = "records.kvr"
	spillRequestsName = "requests.kvq"
	spillEventsName   = "events.kve"
	spillStatesName   = "states"
	spillDetailName   = "detail.kvd"
)

// SpillWriter writes a spilled run (CreateSpill).
type SpillWriter struct {
	dir     string
	records *RecordWriter
	reqs    *RequestWriter
	events  *EventWriter
	states  *StateWriter
	detail  *DetailWriter // nil unless Detail
	workers int
	err     error
}

// CreateSpill starts the spilled run of sc in dir, which is created if
// needed and must not hold another spilled run.
func CreateSpill(dir string, sc scenario.Scenario) (_ *SpillWriter, err error) {
	if _, err := os.Stat(filepath.Join(dir, spillRecordsName)); err == nil {
		return nil, fmt.Errorf("%s: already holds a spilled run (%s)", dir, spillRecordsName)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	w := &SpillWriter{dir: dir, workers: sc.Workers}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	if w.records, err = CreateRecords(filepath.Join(dir, spillRecordsName), sc.Router.Name, sc.Workers); err != nil {
		return nil, err
	}
	if w.reqs, err = CreateRequests(filepath.Join(dir, spillRequestsName)); err != nil {
		return nil, err
	}
	if w.events, err = CreateEvents(filepath.Join(dir, spillEventsName)); err != nil {
		return nil, err
	}
	if w.states, err = CreateStates(filepath.Join(dir, spillStatesName), sc.Workers, sc.String()); err != nil {
		return nil, err
	}
	return w, nil
}

// Hook sets opt's sinks to write the run; a caller's OnRecord, if set, is
// called after the record and its request are written.
func (w *SpillWriter) Hook(opt *StreamOptions) {
	also := opt.OnRecord
	opt.OnRecord = func(r *Record, q *trace.Request) {
		w.addRecord(r, q)
		if also != nil {
			also(r, q)
		}
	}
	opt.OnEvent = w.events.Add
	opt.OnSample = w.states.Add
	opt.OnLoads = w.states.AddLoads
}

// Detail adds the detail file to the run (every request's router scores
// and true cached prefixes, at the cost of one cache match per worker per
// request) and sets opt.OnDetail to write it; WriteRun writes a
// whole-trace run's Run.Scores and Run.Matches when it has them.
func (w *SpillWriter) Detail(opt *StreamOptions) error {
	d, err := CreateDetail(filepath.Join(w.dir, spillDetailName), w.workers)
	if err != nil {
		return err
	}
	w.detail = d
	if opt != nil {
		opt.OnDetail = d.Add
	}
	return nil
}

func (w *SpillWriter) addRecord(r *Record, q *trace.Request) {
	if w.err == nil {
		w.err = w.records.Add(r)
	}
	if w.err == nil {
		w.err = w.reqs.Add(q)
	}
}

// WriteRun writes a whole-trace run (Simulate's of tr, with its event log
// and series) as a streamed run's sinks would have.
func (w *SpillWriter) WriteRun(run *Run, tr *trace.Trace) {
	if len(tr.Requests) != len(run.Records) {
		if w.err == nil {
			w.err = fmt.Errorf("spilled run: a run of %d records, a trace of %d requests", len(run.Records), len(tr.Requests))
		}
		return
	}
	for i := range run.Records {
		w.addRecord(&run.Records[i], &tr.Requests[i])
		if w.detail != nil && run.Matches != nil {
			w.detail.Add(i, run.RequestScores(i), run.RequestMatches(i))
		}
	}
	for _, e := range run.Events {
		w.events.Add(e)
	}
	for k, ss := range run.Samples {
		for i := range ss {
			w.states.Add(k, &ss[i])
		}
	}
	for i, t := range run.LoadT {
		w.states.AddLoads(t, run.Loads[i*run.Workers:(i+1)*run.Workers])
	}
}

// Close commits the files, the records last, with the facts of run known
// at its end (RecordWriter.Close: a streamed run's Run, as
// StreamOptions.OnEnd hands it over, or the whole-trace run WriteRun
// wrote); on any error nothing of the run is left in the directory.
func (w *SpillWriter) Close(run *Run) error {
	if w.err == nil && run == nil {
		w.err = errors.New("spilled run: closed without the finished run")
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	if err := w.events.Close(); err != nil {
		w.Abort()
		return err
	}
	if err := w.states.Close(); err != nil {
		w.Abort()
		return err
	}
	if err := w.reqs.Close(); err != nil {
		w.Abort()
		return err
	}
	if w.detail != nil {
		// A streamed run counts its requests; a whole-trace run has records.
		n := max(run.Requests, len(run.Records))
		if err := w.detail.Close(n); err != nil {
			w.Abort()
			return err
		}
	}
	if err := w.records.Close(run); err != nil {
		w.Abort()
		return err
	}
	return nil
}

// Abort drops whatever was written.
func (w *SpillWriter) Abort() {
	if w.records != nil {
		w.records.Abort()
	}
	if w.reqs != nil {
		w.reqs.Abort()
	}
	if w.events != nil {
		w.events.Abort()
	}
	if w.states != nil {
		w.states.Abort()
	}
	if w.detail != nil {
		w.detail.Abort()
	}
}

// Spilled is an open spilled run: its records, requests, event log and
// states, each read on demand. Each reader reuses one row buffer, so one
// goroutine at a time may read a file (open it again for another).
type Spilled struct {
	Records  *RecordFile
	Requests *RequestFile
	Events   *EventFile
	States   *StateFile
	// Detail is nil for a run spilled without it (SpillWriter.Detail).
	Detail *DetailFile
}

// OpenSpill opens the spilled run in dir.
func OpenSpill(dir string) (_ *Spilled, err error) {
	s := &Spilled{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Records, err = OpenRecords(filepath.Join(dir, spillRecordsName)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no spilled run (%s is missing: not written by kvscope run --spill, or not finished)", dir, spillRecordsName)
		}
		return nil, err
	}
	if s.Requests, err = OpenRequests(filepath.Join(dir, spillRequestsName)); err != nil {
		return nil, err
	}
	if s.Requests.Len() != s.Records.Len() {
		return nil, &SpillError{Path: dir, Field: "requests", Err: fmt.Errorf("%d requests, %d records", s.Requests.Len(), s.Records.Len())}
	}
	if s.Events, err = OpenEvents(filepath.Join(dir, spillEventsName)); err != nil {
		return nil, err
	}
	if s.States, err = OpenStates(filepath.Join(dir, spillStatesName)); err != nil {
		return nil, err
	}
	if s.States.Workers() != s.Records.Footer().Workers {
		return nil, &SpillError{Path: dir, Field: "workers", Err: fmt.Errorf("states of %d workers, records of %d", s.States.Workers(), s.Records.Footer().Workers)}
	}
	switch s.Detail, err = OpenDetail(filepath.Join(dir, spillDetailName), s.Records.Footer().Workers); {
	case errors.Is(err, os.ErrNotExist):
		s.Detail, err = nil, nil
	case err != nil:
		return nil, err
	case s.Detail.Len() != s.Records.Len():
		return nil, &SpillError{Path: dir, Field: "detail", Err: fmt.Errorf("%d rows, %d records", s.Detail.Len(), s.Records.Len())}
	}
	return s, nil
}

// Footer returns the records file's footer: the run's scenario, trace,
// span, capacity and units.
func (s *Spilled) Footer() RecordsFooter { return s.Records.Footer() }

// Close closes the files.
func (s *Spilled) Close() error {
	var errs []error
	if s.Records != nil {
		errs = append(errs, s.Records.Close())
	}
	if s.Requests != nil {
		errs = append(errs, s.Requests.Close())
	}
	if s.Events != nil {
		errs = append(errs, s.Events.Close())
	}
	if s.States != nil {
		errs = append(errs, s.States.Close())
	}
	if s.Detail != nil {
		errs = append(errs, s.Detail.Close())
	}
	return errors.Join(errs...)
}
