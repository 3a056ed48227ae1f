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
//
// An ended request's chain is let go at once (end): nothing reads it again,
// and a request that ended behind an older one still in flight would
// otherwise hold its chain and keep its block ids live until that one
// ends. On a cluster that falls behind, or under a router that herds
// requests onto one worker, most of the window is such requests (an
// lbgr+rlt run of 3M multiturn requests on 8 workers that fall behind held
// 5.5 GB, two thirds of it their chains and the block table's entries for
// their ids). What retire hands OnRecord is the request with a chain of
// its length whose ids are all 0 (chains): its consumers read the length
// (the requests file, the comparison's rows), never the ids.
type window struct {
	base   int32 // trace index of slot head
	head   int   // ring position of base
	n      int   // requests held
	reqs   []*trace.Request
	recs   []*Record // by pointer: the simulator keeps them while the ring grows
	ended  []bool
	blocks []int32         // an ended request's chain length
	spare  []*Record       // retired records, reused
	zeros  []trace.BlockID // never written: the chains retire hands over
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
	w.reqs[p], w.recs[p], w.ended[p], w.blocks[p] = r, x, false, 0
	w.n++
}

func (w *window) grow() {
	size := max(64, 2*len(w.reqs))
	reqs, recs, ended, blocks := make([]*trace.Request, size), make([]*Record, size), make([]bool, size), make([]int32, size)
	for i := range w.n {
		p := (w.head + i) & (len(w.reqs) - 1)
		reqs[i], recs[i], ended[i], blocks[i] = w.reqs[p], w.recs[p], w.ended[p], w.blocks[p]
	}
	w.reqs, w.recs, w.ended, w.blocks, w.head = reqs, recs, ended, blocks, 0
}

func (w *window) req(x int32) *trace.Request { return w.reqs[w.pos(x)] }
func (w *window) rec(x int32) *Record        { return w.recs[w.pos(x)] }

// end marks x ended, lets its chain go, and retires every ended request at
// the window's start, oldest first, through retire.
func (w *window) end(x int32, retire func(*Record, *trace.Request)) {
	p := w.pos(x)
	r := w.reqs[p]
	w.ended[p], w.blocks[p] = true, int32(len(r.Blocks))
	r.Blocks = nil
	for w.n > 0 && w.ended[w.head] {
		if retire != nil {
			r := w.reqs[w.head]
			r.Blocks = w.chain(int(w.blocks[w.head]))
			retire(w.recs[w.head], r)
			r.Blocks = nil
		}
		w.spare = append(w.spare, w.recs[w.head])
		w.reqs[w.head], w.recs[w.head] = nil, nil
		w.head = (w.head + 1) & (len(w.reqs) - 1)
		w.base++
		w.n--
	}
}

// chain is a chain of n zero ids (see window).
func (w *window) chain(n int) []trace.BlockID {
	if n > len(w.zeros) {
		w.zeros = make([]trace.BlockID, max(n, 2*len(w.zeros)))
	}
	return w.zeros[:n:n]
}

// live names every block id of the window's requests still in flight (a
// holder for the block table's sweeps); ended ones hold none.
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
