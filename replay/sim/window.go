package sim

import (
	"io"

	"github.com/kvscope/kvscope/replay/trace"
)

// window holds a streamed run's requests from the oldest not yet retired to
// the newest read: a ring indexed by trace index. A request is retired (its
// record handed to StreamOptions.OnRecord and its slot reused) once it and
// every request before it have ended, so records leave in trace order
// whatever order requests end in, and the window's requests are exactly
// those the run may still read: queued, running, or ended behind an older
// one still in flight.
type window struct {
	base  int32 // trace index of slot head
	head  int   // ring position of base
	n     int   // requests held
	reqs  []*trace.Request
	recs  []*Record // by pointer: the simulator keeps them while the ring grows
	ended []bool
	spare []*Record // retired records, reused
}

func (w *window) pos(x int32) int {
	return (w.head + int(x-w.base)) & (len(w.reqs) - 1)
}

// add appends request r (trace index base+n) with its record.
func (w *window) add(r *trace.Request, rec Record) {
	if w.n == len(w.reqs) {
		w.grow()
	}
	p := w.pos(w.base + int32(w.n))
	var x *Record
	if k := len(w.spare); k > 0 {
		x, w.spare = w.spare[k-1], w.spare[:k-1]
	} else {
		x = new(Record)
	}
	*x = rec
	w.reqs[p], w.recs[p], w.ended[p] = r, x, false
	w.n++
}

func (w *window) grow() {
	size := max(64, 2*len(w.reqs))
	reqs, recs, ended := make([]*trace.Request, size), make([]*Record, size), make([]bool, size)
	for i := range w.n {
		p := (w.head + i) & (len(w.reqs) - 1)
		reqs[i], recs[i], ended[i] = w.reqs[p], w.recs[p], w.ended[p]
	}
	w.reqs, w.recs, w.ended, w.head = reqs, recs, ended, 0
}

func (w *window) req(x int32) *trace.Request { return w.reqs[w.pos(x)] }
func (w *window) rec(x int32) *Record        { return w.recs[w.pos(x)] }

// end marks x ended and retires every ended request at the window's start,
// oldest first, through retire.
func (w *window) end(x int32, retire func(*Record, *trace.Request)) {
	w.ended[w.pos(x)] = true
	for w.n > 0 && w.ended[w.head] {
		if retire != nil {
			retire(w.recs[w.head], w.reqs[w.head])
		}
		w.spare = append(w.spare, w.recs[w.head])
		w.reqs[w.head], w.recs[w.head] = nil, nil
		w.head = (w.head + 1) & (len(w.reqs) - 1)
		w.base++
		w.n--
	}
}

// live names every block id of the window's requests (a holder for the
// block table's sweeps).
func (w *window) live(keep func(trace.BlockID)) {
	for i := range w.n {
		for _, b := range w.reqs[(w.head+i)&(len(w.reqs)-1)].Blocks {
			keep(b)
		}
	}
}

// source is a streamed run's input: the stream and what reading it found.
type source struct {
	s *trace.Stream
	// read counts the requests read; eof is set once the stream ended.
	read int
	eof  bool
}

// next reads the next request, or nil at the end of the stream.
func (src *source) next() (*trace.Request, error) {
	if src.eof {
		return nil, nil
	}
	r, err := src.s.Next()
	if err == io.EOF {
		src.eof = true
		return nil, nil
	}
	if err != nil {
		return nil, &InputError{Err: err}
	}
	src.read++
	return r, nil
}

// InputError is a trace reading error met by a streamed run (a bad record,
// a truncated file): the reader's own message.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }
