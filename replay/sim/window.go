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
// ends. What retire hands OnRecord is the request with a chain of its
// length whose ids are all 0 (chains): its consumers read the length (the
// requests file, the comparison's rows), never the ids.
//
// A request queued far behind its worker's head is parked (park): its
// chain is let go too and only its leaf is kept, which keeps the chain's
// ids live in the block table (a sweep keeps the ancestors of every id it
// is told to keep, and an id's parent never changes while it is live), so
// unpark rebuilds the same chain from the table's parents
// (trace.Table.Chain) when the worker takes the request. On a cluster that
// falls behind its arrivals the queues are most of the window; parked, a
// queued request costs its leaf and length instead of 4 bytes a block.
type window struct {
	base   int32 // trace index of slot head
	head   int   // ring position of base
	n      int   // requests held
	reqs   []*trace.Request
	recs   []*Record // by pointer: the simulator keeps them while the ring grows
	ended  []bool
	blocks []int32         // an ended or parked request's chain length
	leaf   []trace.BlockID // a parked request's leaf
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

// park lets queued request x's chain go, keeping its leaf (see window);
// a request without blocks is left as it is.
func (w *window) park(x int32) {
	p := w.pos(x)
	r := w.reqs[p]
	if n := len(r.Blocks); n > 0 {
		w.blocks[p], w.leaf[p] = int32(n), r.Blocks[n-1]
		r.Blocks = nil
	}
}

// unpark gives parked request x its chain back, from tb's parents; it
// does nothing to a request that was not parked.
func (w *window) unpark(x int32, tb *trace.Table) {
	p := w.pos(x)
	r := w.reqs[p]
	if !w.parked(p) {
		return
	}
	n := int(w.blocks[p])
	r.Blocks = tb.Chain(make([]trace.BlockID, 0, n), w.leaf[p], n)
	w.blocks[p] = 0
}

// parked reports whether the request at ring position p is parked: in
// flight, its chain let go, its length kept.
func (w *window) parked(p int) bool {
	return w.reqs[p].Blocks == nil && !w.ended[p] && w.blocks[p] > 0
}

func (w *window) grow() {
	size := max(64, 2*len(w.reqs))
	reqs, recs, ended := make([]*trace.Request, size), make([]*Record, size), make([]bool, size)
	blocks, leaf := make([]int32, size), make([]trace.BlockID, size)
	for i := range w.n {
		p := (w.head + i) & (len(w.reqs) - 1)
		reqs[i], recs[i], ended[i], blocks[i], leaf[i] = w.reqs[p], w.recs[p], w.ended[p], w.blocks[p], w.leaf[p]
	}
	w.reqs, w.recs, w.ended, w.blocks, w.leaf, w.head = reqs, recs, ended, blocks, leaf, 0
}

func (w *window) req(x int32) *trace.Request { return w.reqs[w.pos(x)] }
func (w *window) rec(x int32) *Record        { return w.recs[w.pos(x)] }

// end marks x ended, lets its chain go, and retires every ended request at
// the window's start, oldest first, through retire.
func (w *window) end(x int32, retire func(*Record, *trace.Request)) {
	p := w.pos(x)
	r := w.reqs[p]
	w.ended[p] = true
	if r.Blocks != nil { // a parked one has its length already
		w.blocks[p] = int32(len(r.Blocks))
	}
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
// holder for the block table's sweeps), for a parked request its leaf,
// whose ancestors the sweep keeps; ended ones hold none.
func (w *window) live(keep func(trace.BlockID)) {
	for i := range w.n {
		p := (w.head + i) & (len(w.reqs) - 1)
		r := w.reqs[p]
		if w.parked(p) {
			keep(w.leaf[p])
			continue
		}
		for _, b := range r.Blocks {
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
