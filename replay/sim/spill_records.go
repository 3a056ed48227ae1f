package sim

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// A records file holds a run's records in trace order, one 120-byte row
// each, written as a streamed run retires them
// (StreamOptions.OnRecord → RecordWriter.Add): 1.2 GB for 10 M requests,
// where the records in memory would take about twice that.
//
//	Index uint32 | Worker int16 | Status uint8 | 0 uint8 |
//	Arrival, Start, FirstToken, Done int64 (ns) | HitBlocks, HitTokens int32 |
//	rule uint16 | 0 uint16 | fail uint32 | Why.Alt int64 |
//	Why.A … Why.F float64 bits | Why.Key uint64
//
// Strings are not in the rows: a decision's rule and a failure's reason
// are indices into the footer's tables, 0 for none (a reason is stored
// once however many requests fail with it). The footer also holds what
// Run holds beyond its records and series (span, capacity, units,
// preemptions): version 2 on; a version 1 file, which lacks them, is
// refused (openSpill's version check) rather than read with zeros.
const (
	recordsKind    = "RECS"
	recordRowBytes = 120
)

// RecordsFooter is a records file's footer: the run's shape and the
// string tables the rows index.
type RecordsFooter struct {
	Scenario string     `json:"scenario"`
	Router   string     `json:"router"`
	Workers  int        `json:"workers"`
	Trace    trace.Info `json:"trace"`
	Requests int64      `json:"requests"`
	// Start and End bound the run (Run.Start, Run.End: first arrival,
	// last completion, 0 when nothing completed).
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	// Capacity is each worker's cache in Unit (Run.Capacity, Run.Unit);
	// LoadUnit the router's load unit (Run.LoadUnit).
	Capacity int64  `json:"capacity"`
	Unit     string `json:"unit"`
	LoadUnit string `json:"load_unit"`
	// Preemptions counts the vllm model's preemptions (Run.Preemptions).
	Preemptions int64 `json:"preemptions"`
	// Rules are the decision rules' names (row value i+1 is Rules[i], 0
	// none); Fails the failure reasons, likewise.
	Rules []string `json:"rules"`
	Fails []string `json:"fails"`
}

// RecordWriter writes a records file (CreateRecords).
type RecordWriter struct {
	w       *spillWriter
	foot    RecordsFooter
	rules   map[*route.Rule]uint16
	fails   map[string]uint32
	workers int
}

// CreateRecords starts the records file path of a run under router (its
// name) with workers workers. Nothing appears at path before Close.
func CreateRecords(path, router string, workers int) (*RecordWriter, error) {
	w, err := createSpill(path, recordsKind, recordRowBytes, struct{}{})
	if err != nil {
		return nil, err
	}
	return &RecordWriter{w: w, workers: workers,
		foot:  RecordsFooter{Router: router, Workers: workers, Rules: []string{}, Fails: []string{}},
		rules: map[*route.Rule]uint16{}, fails: map[string]uint32{}}, nil
}

// Add writes r, which must be the record of the next request in trace
// order.
func (rw *RecordWriter) Add(r *Record) error {
	if int64(r.Index) != rw.foot.Requests {
		return fmt.Errorf("records file %s: record of request %d where %d comes next", rw.w.path, r.Index, rw.foot.Requests)
	}
	b := rw.w.next()
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(r.Index))
	le.PutUint16(b[4:], uint16(r.Worker))
	b[6] = byte(r.Status)
	le.PutUint64(b[8:], uint64(r.Arrival))
	le.PutUint64(b[16:], uint64(r.Start))
	le.PutUint64(b[24:], uint64(r.FirstToken))
	le.PutUint64(b[32:], uint64(r.Done))
	le.PutUint32(b[40:], uint32(r.HitBlocks))
	le.PutUint32(b[44:], uint32(r.HitTokens))
	if y := r.Why.Rule; y != nil {
		k, ok := rw.rules[y]
		if !ok {
			if len(rw.foot.Rules) >= math.MaxUint16-1 {
				return fmt.Errorf("records file %s: more than %d decision rules", rw.w.path, math.MaxUint16-1)
			}
			rw.foot.Rules = append(rw.foot.Rules, y.Name)
			k = uint16(len(rw.foot.Rules))
			rw.rules[y] = k
		}
		le.PutUint16(b[48:], k)
	}
	if r.Fail != "" {
		k, ok := rw.fails[r.Fail]
		if !ok {
			rw.foot.Fails = append(rw.foot.Fails, r.Fail)
			k = uint32(len(rw.foot.Fails))
			rw.fails[r.Fail] = k
		}
		le.PutUint32(b[52:], k)
	}
	le.PutUint64(b[56:], uint64(int64(r.Why.Alt)))
	for i, f := range [...]float64{r.Why.A, r.Why.B, r.Why.C, r.Why.D, r.Why.E, r.Why.F} {
		le.PutUint64(b[64+8*i:], math.Float64bits(f))
	}
	le.PutUint64(b[112:], r.Why.Key)
	rw.w.put()
	rw.foot.Requests++
	return nil
}

// Close writes the footer, with the facts of run known only at its end
// (canonical scenario, trace information, span, capacity, units,
// preemptions: a streamed run's Run, without records, has them), and puts
// the file in place. A run of another worker count is refused and the
// file dropped.
func (rw *RecordWriter) Close(run *Run) error {
	if run.Workers != rw.workers {
		rw.w.abort()
		return fmt.Errorf("records file %s: a run of %d workers, the file's %d", rw.w.path, run.Workers, rw.workers)
	}
	f := &rw.foot
	f.Scenario, f.Trace = run.Scenario, run.Trace
	f.Start, f.End = run.Start, run.End
	f.Capacity, f.Unit, f.LoadUnit = run.Capacity, run.Unit, run.LoadUnit
	f.Preemptions = run.Preemptions
	return rw.w.close(rw.foot)
}

// Abort drops the file, also once Close has put it in place.
func (rw *RecordWriter) Abort() { rw.w.abort() }

// RecordFile is an open records file: records are read on demand.
type RecordFile struct {
	s     *spillFile
	foot  RecordsFooter
	rules []*route.Rule
	buf   []byte
}

// OpenRecords opens a records file and checks its framing and footer;
// rows are checked as they are read.
func OpenRecords(path string) (*RecordFile, error) {
	s, err := openSpill(path, recordsKind, recordRowBytes)
	if err != nil {
		return nil, err
	}
	f := &RecordFile{s: s, buf: make([]byte, recordRowBytes)}
	if err := f.init(); err != nil {
		s.close()
		return nil, err
	}
	return f, nil
}

func (f *RecordFile) init() error {
	s := f.s
	if err := s.decodeJSON("footer", s.footer, &f.foot); err != nil {
		return err
	}
	bad := func(field, format string, a ...any) error {
		return &SpillError{Path: s.path, Field: "footer: " + field, Err: fmt.Errorf(format, a...)}
	}
	if f.foot.Requests != s.rows {
		return bad("requests", "%d, but the file holds %d rows", f.foot.Requests, s.rows)
	}
	if f.foot.Workers < 1 || f.foot.Workers > math.MaxInt16 {
		return bad("workers", "%d", f.foot.Workers)
	}
	switch ft := &f.foot; {
	case ft.Start < 0 || ft.Start > MaxTime:
		return bad("start", "%d ns: outside 0 to %v", int64(ft.Start), MaxTime)
	case ft.End < 0 || ft.End > MaxTime:
		return bad("end", "%d ns: outside 0 to %v", int64(ft.End), MaxTime)
	case ft.End != 0 && ft.End < ft.Start:
		return bad("end", "%v before the start, %v", ft.End, ft.Start)
	case ft.Capacity < 1:
		return bad("capacity", "%d", ft.Capacity)
	case ft.Unit != kvcache.Blocks.String() && ft.Unit != kvcache.Tokens.String():
		return bad("unit", "%q, want blocks or tokens", ft.Unit)
	case ft.Preemptions < 0:
		return bad("preemptions", "%d", ft.Preemptions)
	}
	if len(f.foot.Rules) > 0 {
		info, ok := route.Lookup(f.foot.Router)
		if !ok {
			return bad("router", "%q is not a known router", f.foot.Router)
		}
		for _, name := range f.foot.Rules {
			var r *route.Rule
			for _, x := range info.Rules {
				if x.Name == name {
					r = x
				}
			}
			if r == nil {
				return bad("rules", "%q is not a rule of router %s", name, f.foot.Router)
			}
			f.rules = append(f.rules, r)
		}
	}
	return nil
}

// Footer returns the file's footer.
func (f *RecordFile) Footer() RecordsFooter { return f.foot }

// Len is the number of records.
func (f *RecordFile) Len() int { return int(f.s.rows) }

// Read reads record i into r.
func (f *RecordFile) Read(i int, r *Record) error {
	if err := f.s.readRow(int64(i), f.buf); err != nil {
		return err
	}
	return f.decode(int64(i), f.buf, r)
}

// Scan hands every record in trace order to fn through one sequential
// read; the record is reused.
func (f *RecordFile) Scan(fn func(*Record) error) error { return f.ScanFrom(0, fn) }

// ScanFrom is Scan from record i on: one sequential read of the rows
// after it, where Read would cost a ReadAt each.
func (f *RecordFile) ScanFrom(i int, fn func(*Record) error) error {
	var r Record
	return f.s.scanFrom(int64(i), func(i int64, row []byte) error {
		if err := f.decode(i, row, &r); err != nil {
			return err
		}
		return fn(&r)
	})
}

// Close closes the file.
func (f *RecordFile) Close() error { return f.s.close() }

// decode fills r from row i, checking every field a reader relies on.
func (f *RecordFile) decode(i int64, b []byte, r *Record) error {
	le := binary.LittleEndian
	bad := func(field, format string, a ...any) error {
		return &SpillError{Path: f.s.path, Field: fmt.Sprintf("record %d: %s", i, field), Err: fmt.Errorf(format, a...)}
	}
	*r = Record{
		Index: int32(le.Uint32(b[0:])), Worker: int16(le.Uint16(b[4:])), Status: Status(b[6]),
		Arrival: time.Duration(le.Uint64(b[8:])), Start: time.Duration(le.Uint64(b[16:])),
		FirstToken: time.Duration(le.Uint64(b[24:])), Done: time.Duration(le.Uint64(b[32:])),
		HitBlocks: int32(le.Uint32(b[40:])), HitTokens: int32(le.Uint32(b[44:])),
	}
	switch {
	case int64(r.Index) != i:
		return bad("index", "%d, want %d", r.Index, i)
	case r.Worker < -1 || int(r.Worker) >= f.foot.Workers:
		return bad("worker", "%d of %d", r.Worker, f.foot.Workers)
	case r.Status > Failed:
		return bad("status", "%d", r.Status)
	case r.Worker < 0 && r.Status != Failed:
		return bad("worker", "-1 for a %s request", r.Status)
	case b[7] != 0 || b[50] != 0 || b[51] != 0:
		return bad("padding", "% x, want zeros", [...]byte{b[7], b[50], b[51]})
	case r.HitBlocks < 0:
		return bad("hit blocks", "%d: negative", r.HitBlocks)
	case r.HitTokens < 0:
		return bad("hit tokens", "%d: negative", r.HitTokens)
	}
	// Alt is -1 or a worker; checked as int64 before it becomes an int,
	// which has 32 bits on some platforms.
	if alt := int64(le.Uint64(b[56:])); alt < -1 || alt >= int64(f.foot.Workers) {
		return bad("alt", "%d of %d", alt, f.foot.Workers)
	}
	if k := le.Uint16(b[48:]); k != 0 {
		if int(k) > len(f.rules) {
			return bad("rule", "%d of %d", k, len(f.rules))
		}
		r.Why.Rule = f.rules[k-1]
	}
	if k := le.Uint32(b[52:]); k != 0 {
		if uint64(k) > uint64(len(f.foot.Fails)) {
			return bad("fail", "%d of %d", k, len(f.foot.Fails))
		}
		r.Fail = f.foot.Fails[k-1]
	}
	if r.Status == Failed && r.Fail == "" {
		return bad("fail", "a failed request without a reason")
	}
	r.Why.Alt = int(int64(le.Uint64(b[56:])))
	for j, p := range [...]*float64{&r.Why.A, &r.Why.B, &r.Why.C, &r.Why.D, &r.Why.E, &r.Why.F} {
		*p = math.Float64frombits(le.Uint64(b[64+8*j:]))
	}
	r.Why.Key = le.Uint64(b[112:])
	return nil
}
