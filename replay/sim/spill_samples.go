package sim

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"time"
)

// A states spill set is the checkpoints Run.StateAt reads, spilled by a
// streamed run (StreamOptions.OnSample and OnLoads): a directory holding
// one spill file per worker and one for the router's loads.
//
//	samples-W.kvs  kind "SMPL": worker W's samples (Run.Samples[W]) in time
//	               order, one 96-byte row each: T, Pinned, Marked,
//	               Unmarked int64 | Queue, Running int32 | HitTokens,
//	               InputTokens, HitBlocks, Blocks, Evicted int64 | Phases,
//	               Completed int32 | Busy int64
//	loads.kvs      kind "LOAD": the load rows (Run.LoadT, Run.Loads), one
//	               row of 8 + 4·workers bytes each: T int64 | workers ×
//	               float32 bits
//
// Every file's meta names the set (an FNV-1a hash of the run's description
// the writer was given, so the same run writes the same bytes), the worker
// count and,
// for a samples file, its worker; footers hold the row count and the
// first and last instants. The loads file is committed last and its
// footer lists every worker's sample count: it is the set's manifest, so
// a set whose writing failed part-way (each file is atomic, the set is
// not) or that mixes two runs' files is refused by OpenStates.
//
// One file per series, rather than one file in time order with periodic
// full-state checkpoints, because each series is then a sorted array of
// fixed rows: StateAt is one binary search per worker and one for the
// loads, O(workers · log n) ReadAt calls of one row each (Run.StateAt's
// cost, on disk) and nothing else read; sample i of worker w is one
// ReadAt; and the writer holds only a buffer per file (64 KiB each, plus
// atomicfile's), while a load row's size follows the worker count. The
// cost is workers + 1 open files, to write and to read.
const (
	samplesKind    = "SMPL"
	loadsKind      = "LOAD"
	sampleRowBytes = 96
	statesBuf      = 1 << 16
	loadsName      = "loads.kvs"
)

func samplesName(w int) string { return fmt.Sprintf("samples-%d.kvs", w) }

type statesMeta struct {
	Format  string `json:"format"`
	Set     string `json:"set"`
	Workers int    `json:"workers"`
	Worker  int    `json:"worker"` // -1 in the loads file
}

type statesFooter struct {
	Rows  int64         `json:"rows"`
	First time.Duration `json:"first"`
	Last  time.Duration `json:"last"`
	// Samples is every worker's sample count (the loads file only).
	Samples []int64 `json:"samples,omitempty"`
}

// series is one file of the set being written.
type series struct {
	w           *spillWriter
	n           int64
	first, last time.Duration
}

func (s *series) add(t time.Duration) []byte {
	if s.n == 0 {
		s.first = t
	}
	s.last = t
	s.n++
	return s.w.next()
}

func (s *series) footer() statesFooter { return statesFooter{Rows: s.n, First: s.first, Last: s.last} }

// StateWriter writes a states spill set (CreateStates).
type StateWriter struct {
	dir     string
	samples []series
	loads   series
	workers int
	err     error
	done    bool
}

// CreateStates starts the states spill set of a run of workers workers in
// dir (created if needed); run describes the run (its canonical scenario),
// and its hash names the set. Files appear in dir as Close commits them.
func CreateStates(dir string, workers int, run string) (*StateWriter, error) {
	if workers < 1 || workers > math.MaxInt16 {
		return nil, fmt.Errorf("states spill: %d workers", workers)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(run))
	meta := statesMeta{Format: "kvscope-states", Set: hex.EncodeToString(h.Sum(nil)), Workers: workers}
	sw := &StateWriter{dir: dir, samples: make([]series, workers), workers: workers}
	var err error
	for w := range workers {
		meta.Worker = w
		if sw.samples[w].w, err = createSpillSize(filepath.Join(dir, samplesName(w)), samplesKind, sampleRowBytes, meta, statesBuf); err != nil {
			sw.Abort()
			return nil, err
		}
	}
	meta.Worker = -1
	if sw.loads.w, err = createSpillSize(filepath.Join(dir, loadsName), loadsKind, 8+4*workers, meta, statesBuf); err != nil {
		sw.Abort()
		return nil, err
	}
	return sw, nil
}

// Add writes worker w's next sample (StreamOptions.OnSample's argument).
// Samples of a worker must come in time order; an error is kept for
// Close.
func (sw *StateWriter) Add(w int, s *Sample) {
	if sw.err != nil {
		return
	}
	if w < 0 || w >= sw.workers {
		sw.err = fmt.Errorf("states spill %s: sample of worker %d of %d", sw.dir, w, sw.workers)
		return
	}
	ss := &sw.samples[w]
	if ss.n > 0 && s.T < ss.last {
		sw.err = fmt.Errorf("states spill %s: worker %d's sample %d at %v: before its previous at %v", sw.dir, w, ss.n, s.T, ss.last)
		return
	}
	putSample(ss.add(s.T), s)
	ss.w.put()
}

// AddLoads writes the router's loads at t (StreamOptions.OnLoads's
// arguments), one number per worker (never NaN or infinite), in time
// order.
func (sw *StateWriter) AddLoads(t time.Duration, loads []float32) {
	if sw.err != nil {
		return
	}
	if len(loads) != sw.workers {
		sw.err = fmt.Errorf("states spill %s: %d loads at %v, want %d", sw.dir, len(loads), t, sw.workers)
		return
	}
	if sw.loads.n > 0 && t < sw.loads.last {
		sw.err = fmt.Errorf("states spill %s: load row %d at %v: before the previous at %v", sw.dir, sw.loads.n, t, sw.loads.last)
		return
	}
	for i, l := range loads {
		if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			sw.err = fmt.Errorf("states spill %s: load of worker %d at %v: %v", sw.dir, i, t, l)
			return
		}
	}
	row := sw.loads.add(t)
	binary.LittleEndian.PutUint64(row, uint64(t))
	for i, l := range loads {
		binary.LittleEndian.PutUint32(row[8+4*i:], math.Float32bits(l))
	}
	sw.loads.w.put()
}

// Close commits every worker's file, then the loads file (the manifest).
// On error the files not yet committed are dropped and the set is not
// readable.
func (sw *StateWriter) Close() error {
	if sw.done {
		return fmt.Errorf("states spill %s: already closed", sw.dir)
	}
	if sw.err != nil {
		sw.Abort()
		return sw.err
	}
	sw.done = true
	counts := make([]int64, sw.workers)
	for w := range sw.samples {
		ss := &sw.samples[w]
		counts[w] = ss.n
		if err := ss.w.close(ss.footer()); err != nil {
			sw.Abort()
			return err
		}
	}
	f := sw.loads.footer()
	f.Samples = counts
	if err := sw.loads.w.close(f); err != nil {
		sw.Abort()
		return err
	}
	return nil
}

// Abort drops every file of the set, committed or not, and the directory
// if that leaves it empty.
func (sw *StateWriter) Abort() {
	sw.done = true
	for _, ss := range sw.samples {
		if ss.w != nil {
			ss.w.abort()
		}
	}
	if sw.loads.w != nil {
		sw.loads.w.abort()
	}
	os.Remove(sw.dir) // only if empty
}

func putSample(row []byte, s *Sample) {
	le := binary.LittleEndian
	le.PutUint64(row[0:], uint64(s.T))
	le.PutUint64(row[8:], uint64(s.Pinned))
	le.PutUint64(row[16:], uint64(s.Marked))
	le.PutUint64(row[24:], uint64(s.Unmarked))
	le.PutUint32(row[32:], uint32(s.Queue))
	le.PutUint32(row[36:], uint32(s.Running))
	le.PutUint64(row[40:], uint64(s.HitTokens))
	le.PutUint64(row[48:], uint64(s.InputTokens))
	le.PutUint64(row[56:], uint64(s.HitBlocks))
	le.PutUint64(row[64:], uint64(s.Blocks))
	le.PutUint64(row[72:], uint64(s.Evicted))
	le.PutUint32(row[80:], uint32(s.Phases))
	le.PutUint32(row[84:], uint32(s.Completed))
	le.PutUint64(row[88:], uint64(s.Busy))
}

// StateFile is an open states spill set, read on demand.
type StateFile struct {
	dir     string
	workers int
	samples []seriesFile
	loads   seriesFile
	row     []byte
}

// seriesFile is one open file of the set.
type seriesFile struct {
	s    *spillFile
	foot statesFooter
}

// bad is a malformed row i's field.
func (f *seriesFile) bad(i int64, field, format string, a ...any) error {
	return &SpillError{Path: f.s.path, Field: fmt.Sprintf("row %d: %s", i, field), Err: fmt.Errorf(format, a...)}
}

// rowT reads row i into buf and returns its instant, checked against the
// file's bounds.
func (f *seriesFile) rowT(i int64, buf []byte) (time.Duration, error) {
	if err := f.s.readRow(i, buf); err != nil {
		return 0, err
	}
	t := time.Duration(binary.LittleEndian.Uint64(buf))
	if t < f.foot.First || t > f.foot.Last {
		return 0, f.bad(i, "T", "%v outside the file's [%v, %v]", t, f.foot.First, f.foot.Last)
	}
	return t, nil
}

// upper returns the number of rows at or before t (the index of the first
// row after t) by a binary search (spillFile.searchTime), reading rows
// into buf.
func (f *seriesFile) upper(t time.Duration, buf []byte) (int64, error) {
	return f.s.searchTime(t, true, f.foot.First, f.foot.Last, func(i int64) (time.Duration, error) { return f.rowT(i, buf) })
}

// OpenStates opens the states spill set in dir: the loads file (the
// manifest) and every worker's samples file, checking that they belong
// together.
func OpenStates(dir string) (_ *StateFile, err error) {
	sf := &StateFile{dir: dir}
	defer func() {
		if err != nil {
			sf.Close()
		}
	}()
	lp := filepath.Join(dir, loadsName)
	s, err := openSpill(lp, loadsKind, 0) // its rows are 8 + 4 × workers bytes
	if err != nil {
		return nil, err
	}
	sf.loads.s = s
	rs := s.rowSize
	if rs < 12 || (rs-8)%4 != 0 || (rs-8)/4 > math.MaxInt16 {
		return nil, &SpillError{Path: lp, Field: "row size", Err: fmt.Errorf("%d: not 8 + 4 × workers", rs)}
	}
	var meta statesMeta
	if err := s.decodeJSON("meta", s.meta, &meta); err != nil {
		return nil, err
	}
	if err := s.decodeJSON("footer", s.footer, &sf.loads.foot); err != nil {
		return nil, err
	}
	workers := (rs - 8) / 4
	if err := checkStates(lp, &meta, -1, workers, "", &sf.loads.foot, s.rows); err != nil {
		return nil, err
	}
	if len(sf.loads.foot.Samples) != workers {
		return nil, &SpillError{Path: lp, Field: "footer", Err: fmt.Errorf("%d sample counts for %d workers", len(sf.loads.foot.Samples), workers)}
	}
	sf.workers = workers
	sf.row = make([]byte, max(rs, sampleRowBytes))
	for w := range workers {
		p := filepath.Join(dir, samplesName(w))
		s, err := openSpill(p, samplesKind, sampleRowBytes)
		if err != nil {
			return nil, err
		}
		sf.samples = append(sf.samples, seriesFile{s: s})
		f := &sf.samples[w]
		var m statesMeta
		if err := s.decodeJSON("meta", s.meta, &m); err != nil {
			return nil, err
		}
		if err := s.decodeJSON("footer", s.footer, &f.foot); err != nil {
			return nil, err
		}
		if err := checkStates(p, &m, w, workers, meta.Set, &f.foot, s.rows); err != nil {
			return nil, err
		}
		if f.foot.Rows != sf.loads.foot.Samples[w] {
			return nil, &SpillError{Path: p, Field: "rows", Err: fmt.Errorf("%d samples, the set's manifest %s says %d", f.foot.Rows, lp, sf.loads.foot.Samples[w])}
		}
	}
	return sf, nil
}

// checkStates checks one file's meta and footer against the set.
func checkStates(path string, m *statesMeta, worker, workers int, set string, f *statesFooter, rows int64) error {
	bad := func(field, format string, a ...any) error {
		return &SpillError{Path: path, Field: field, Err: fmt.Errorf(format, a...)}
	}
	switch {
	case m.Format != "kvscope-states":
		return bad("meta", "format %q, want kvscope-states", m.Format)
	case m.Workers != workers || m.Worker != worker:
		return bad("meta", "worker %d of %d, want %d of %d", m.Worker, m.Workers, worker, workers)
	case set != "" && m.Set != set:
		return bad("meta", "set %q, but the manifest's is %q: files of two runs", m.Set, set)
	case f.Rows != rows || f.First > f.Last:
		return bad("footer", "%d rows from %v to %v, but %d rows", f.Rows, f.First, f.Last, rows)
	}
	return nil
}

// Workers is the run's worker count.
func (sf *StateFile) Workers() int { return sf.workers }

// Samples is worker w's sample count (len(Run.Samples[w])); w must be
// in [0, Workers()).
func (sf *StateFile) Samples(w int) int { return int(sf.samples[w].s.rows) }

// LoadRows is the number of load rows (len(Run.LoadT)).
func (sf *StateFile) LoadRows() int { return int(sf.loads.s.rows) }

// Sample reads worker w's sample i (Run.Samples[w][i]): one ReadAt.
func (sf *StateFile) Sample(w, i int) (Sample, error) {
	if w < 0 || w >= sf.workers {
		return Sample{}, fmt.Errorf("%s: worker %d of %d", sf.dir, w, sf.workers)
	}
	f := &sf.samples[w]
	buf := sf.row[:sampleRowBytes]
	if _, err := f.rowT(int64(i), buf); err != nil {
		return Sample{}, err
	}
	return f.decodeSample(int64(i), buf)
}

// Loads reads load row i: its instant and loads (Run.LoadT[i] and
// Run.Loads[i·workers:(i+1)·workers]), into a new slice.
func (sf *StateFile) Loads(i int) (time.Duration, []float32, error) {
	buf := sf.row[:sf.loads.s.rowSize]
	t, err := sf.loads.rowT(int64(i), buf)
	if err != nil {
		return 0, nil, err
	}
	out := make([]float32, sf.workers)
	if err := sf.loads.decodeLoads(int64(i), buf, out); err != nil {
		return 0, nil, err
	}
	return t, out, nil
}

// decodeLoads decodes load row i into out, checking that every load is a
// number (a router's load is a count or a time, never NaN or infinite).
func (f *seriesFile) decodeLoads(i int64, row []byte, out []float32) error {
	for w := range out {
		l := math.Float32frombits(binary.LittleEndian.Uint32(row[8+4*w:]))
		if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			return f.bad(i, fmt.Sprintf("load of worker %d", w), "%v", l)
		}
		out[w] = l
	}
	return nil
}

// decodeSample decodes and checks sample row i: every figure but T is a
// count or a duration, never negative.
func (f *seriesFile) decodeSample(i int64, row []byte) (Sample, error) {
	le := binary.LittleEndian
	i64 := func(o int) int64 { return int64(le.Uint64(row[o:])) }
	i32 := func(o int) int32 { return int32(le.Uint32(row[o:])) }
	s := Sample{
		T: time.Duration(i64(0)), Pinned: i64(8), Marked: i64(16), Unmarked: i64(24),
		Queue: i32(32), Running: i32(36),
		HitTokens: i64(40), InputTokens: i64(48), HitBlocks: i64(56), Blocks: i64(64), Evicted: i64(72),
		Phases: i32(80), Completed: i32(84), Busy: time.Duration(i64(88)),
	}
	for _, c := range []struct {
		name string
		v    int64
	}{
		{"pinned", s.Pinned}, {"marked", s.Marked}, {"unmarked", s.Unmarked}, {"queue", int64(s.Queue)},
		{"running", int64(s.Running)}, {"hit tokens", s.HitTokens}, {"input tokens", s.InputTokens},
		{"hit blocks", s.HitBlocks}, {"blocks", s.Blocks}, {"evicted", s.Evicted}, {"phases", int64(s.Phases)},
		{"completed", int64(s.Completed)}, {"busy", int64(s.Busy)},
	} {
		if c.v < 0 {
			return Sample{}, f.bad(i, c.name, "%d: negative", c.v)
		}
	}
	return s, nil
}

// StateAt returns what Run.StateAt(t) returns on the whole-trace run:
// each worker's latest sample at or before t (the zero state before its
// first) with T set to t, and the router's loads at t (nil for a run
// without load rows). It reads one row per binary search step, O(workers
// · log n) ReadAt calls and one more per series, and allocates the
// returned slices only.
func (sf *StateFile) StateAt(t time.Duration) (State, error) {
	st := State{T: t, Workers: make([]Sample, sf.workers)}
	for w := range sf.samples {
		f := &sf.samples[w]
		buf := sf.row[:sampleRowBytes]
		i, err := f.upper(t, buf)
		if err == nil && i > 0 {
			// The search read other rows last: read the one it found.
			if _, err = f.rowT(i-1, buf); err == nil {
				st.Workers[w], err = f.decodeSample(i-1, buf)
			}
		}
		if err != nil {
			return State{}, err
		}
		st.Workers[w].T = t
	}
	if f := &sf.loads; f.s.rows > 0 {
		buf := sf.row[:f.s.rowSize]
		i, err := f.upper(t, buf)
		st.RouterLoads = make([]float32, sf.workers)
		if err == nil && i > 0 {
			if _, err = f.rowT(i-1, buf); err == nil {
				err = f.decodeLoads(i-1, buf, st.RouterLoads)
			}
		}
		if err != nil {
			return State{}, err
		}
	}
	return st, nil
}

// Close closes every file of the set.
func (sf *StateFile) Close() error {
	var err error
	for _, f := range sf.samples {
		err = errors.Join(err, f.s.close())
	}
	if sf.loads.s != nil {
		err = errors.Join(err, sf.loads.s.close())
	}
	sf.samples, sf.loads.s = nil, nil
	return err
}
