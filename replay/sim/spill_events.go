package sim

import (
	"encoding/binary"
	"fmt"
	"time"
)

// An events spill file (kind "EVNT") holds a run's event log as
// StreamOptions.OnEvent hands it over, one 16-byte row per event:
//
//	T int64 (ns) | Req int32 | Worker int16 | Kind uint8 | 0 uint8
//
// Its meta is {"format":"kvscope-events"}, its footer the count and the
// first and last instants, {"events":N,"first":T0,"last":Tn}, which
// bound every row's T. Event i is one ReadAt; Index is a binary search,
// O(log n) ReadAt calls.
const (
	eventsKind    = "EVNT"
	eventRowBytes = 16
)

type eventsMeta struct {
	Format string `json:"format"`
}

type eventsFooter struct {
	Events int64         `json:"events"`
	First  time.Duration `json:"first"`
	Last   time.Duration `json:"last"`
}

// EventWriter writes an events spill file (CreateEvents).
type EventWriter struct {
	w     *spillWriter
	n     int64
	first time.Duration
	last  time.Duration
	err   error
}

// CreateEvents starts the events spill file path. Nothing is at path
// until Close succeeds.
func CreateEvents(path string) (*EventWriter, error) {
	w, err := createSpill(path, eventsKind, eventRowBytes, eventsMeta{Format: "kvscope-events"})
	if err != nil {
		return nil, err
	}
	return &EventWriter{w: w}, nil
}

// Add writes event e. Events must come in time order; an error (out of
// order, a field out of range, a write) is kept for Close.
func (ew *EventWriter) Add(e Event) {
	if ew.err != nil {
		return
	}
	if ew.n > 0 && e.T < ew.last {
		ew.err = fmt.Errorf("events file %s: event %d at %v: before event %d at %v", ew.w.path, ew.n, e.T, ew.n-1, ew.last)
		return
	}
	if e.Kind > LogPreempt || e.Worker < -1 || e.Req < 0 {
		ew.err = fmt.Errorf("events file %s: event %d: invalid %+v", ew.w.path, ew.n, e)
		return
	}
	if ew.n == 0 {
		ew.first = e.T
	}
	ew.last = e.T
	row := ew.w.next()
	binary.LittleEndian.PutUint64(row[0:], uint64(e.T))
	binary.LittleEndian.PutUint32(row[8:], uint32(e.Req))
	binary.LittleEndian.PutUint16(row[12:], uint16(e.Worker))
	row[14] = byte(e.Kind)
	ew.w.put()
	ew.n++
}

// Close writes the footer and puts the file in place; on error (one Add
// kept included) nothing is.
func (ew *EventWriter) Close() error {
	if ew.err != nil {
		ew.w.abort()
		return ew.err
	}
	return ew.w.close(eventsFooter{Events: ew.n, First: ew.first, Last: ew.last})
}

// Abort drops the file, also once Close has put it in place.
func (ew *EventWriter) Abort() { ew.w.abort() }

// EventFile is an open events spill file, read on demand.
type EventFile struct {
	s    *spillFile
	foot eventsFooter
	row  [eventRowBytes]byte
}

// OpenEvents opens an events spill file, checking its framing and footer.
func OpenEvents(path string) (*EventFile, error) {
	s, err := openSpill(path, eventsKind, eventRowBytes)
	if err != nil {
		return nil, err
	}
	f := &EventFile{s: s}
	var m eventsMeta
	err = s.decodeJSON("meta", s.meta, &m)
	if err == nil && m.Format != "kvscope-events" {
		err = &SpillError{Path: path, Field: "meta", Err: fmt.Errorf("format %q, want kvscope-events", m.Format)}
	}
	if err == nil {
		err = s.decodeJSON("footer", s.footer, &f.foot)
	}
	if err == nil && (f.foot.Events != s.rows || f.foot.First > f.foot.Last) {
		err = &SpillError{Path: path, Field: "footer", Err: fmt.Errorf("%d events from %v to %v, but %d rows", f.foot.Events, f.foot.First, f.foot.Last, s.rows)}
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return f, nil
}

// Len is the number of events.
func (f *EventFile) Len() int { return int(f.s.rows) }

// Span is the first and last events' instants (0, 0 for none), from the
// footer.
func (f *EventFile) Span() (first, last time.Duration) { return f.foot.First, f.foot.Last }

// At reads event i.
func (f *EventFile) At(i int) (Event, error) {
	if err := f.s.readRow(int64(i), f.row[:]); err != nil {
		return Event{}, err
	}
	return f.decode(int64(i), f.row[:])
}

// decode reads and checks row i.
func (f *EventFile) decode(i int64, row []byte) (Event, error) {
	e := Event{
		T:      time.Duration(binary.LittleEndian.Uint64(row[0:])),
		Req:    int32(binary.LittleEndian.Uint32(row[8:])),
		Worker: int16(binary.LittleEndian.Uint16(row[12:])),
		Kind:   EventKind(row[14]),
	}
	bad := func(field string, format string, a ...any) error {
		return &SpillError{Path: f.s.path, Field: fmt.Sprintf("row %d: %s", i, field), Err: fmt.Errorf(format, a...)}
	}
	switch {
	case e.T < f.foot.First || e.T > f.foot.Last:
		return Event{}, bad("T", "%v outside the file's [%v, %v]", e.T, f.foot.First, f.foot.Last)
	case e.Req < 0:
		return Event{}, bad("req", "%d", e.Req)
	case e.Worker < -1:
		return Event{}, bad("worker", "%d", e.Worker)
	case e.Kind > LogPreempt:
		return Event{}, bad("kind", "%d", e.Kind)
	case row[15] != 0:
		return Event{}, bad("padding", "%d, want 0", row[15])
	}
	return e, nil
}

// Index returns the index of the first event at or after t (Run.EventIndex),
// by a binary search: O(log n) ReadAt calls. Rows the search reads out of
// time order are reported.
func (f *EventFile) Index(t time.Duration) (int, error) {
	i, err := f.s.searchTime(t, false, f.foot.First, f.foot.Last, func(i int64) (time.Duration, error) {
		e, err := f.At(int(i))
		return e.T, err
	})
	return int(i), err
}

// Scan hands every event to fn in order through one sequential read,
// checking the time order of all of them.
func (f *EventFile) Scan(fn func(i int, e Event) error) error {
	prev := f.foot.First
	return f.s.scan(func(i int64, row []byte) error {
		e, err := f.decode(i, row)
		if err != nil {
			return err
		}
		if e.T < prev {
			return &SpillError{Path: f.s.path, Field: fmt.Sprintf("row %d: T", i), Err: fmt.Errorf("%v before the previous event's %v", e.T, prev)}
		}
		prev = e.T
		return fn(int(i), e)
	})
}

// Close closes the file.
func (f *EventFile) Close() error { return f.s.close() }
