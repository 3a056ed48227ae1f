package sim

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/trace"
)

// A requests file holds each request's own fields from the trace, in
// trace order, one 40-byte row each (the row of a records file's record
// of the same index), written beside the records as a streamed run
// retires them (StreamOptions.OnRecord → RequestWriter.Add): what the
// explorer's request pane shows besides the record.
//
//	Index uint32 | Input, Output, Blocks, Turn int32 | 0 uint32 |
//	Session int64 | Line int64
//
// Line is the request's line in the trace file, the number after the
// last ':' of trace.Request.Source ("FILE:LINE"; the file is the records
// footer's Trace.Source), 0 where Source ends in no line number (a
// request read from an archive member). The rest of Source, the request's
// own id, parent, think time, type and tags are not kept.
const (
	requestsKind    = "REQS"
	requestRowBytes = 40
)

// RequestInfo is one request's own fields (trace.Request's) as a
// requests file holds them.
type RequestInfo struct {
	// Index is the request's trace index.
	Index int32
	// Input and Output are token counts; Blocks the length of its block
	// chain.
	Input, Output, Blocks int32
	// Session is the request's session, -1 none; Turn its 1-based turn
	// in it, 0 unknown (also for a trace's turn below 1 or past int32).
	Session int64
	Turn    int32
	// Line is its line in the trace file, 0 unknown.
	Line int64
}

// RequestsFooter is a requests file's footer.
type RequestsFooter struct {
	Requests int64 `json:"requests"`
}

// sourceLine returns the line number after the last ':' of a request's
// Source, 0 if there is none.
func sourceLine(src string) int64 {
	i := strings.LastIndexByte(src, ':')
	if i < 0 {
		return 0
	}
	n, err := strconv.ParseInt(src[i+1:], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// RequestWriter writes a requests file (CreateRequests).
type RequestWriter struct {
	w    *spillWriter
	foot RequestsFooter
}

// CreateRequests starts the requests file path. Nothing appears at path
// before Close.
func CreateRequests(path string) (*RequestWriter, error) {
	w, err := createSpill(path, requestsKind, requestRowBytes, struct{}{})
	if err != nil {
		return nil, err
	}
	return &RequestWriter{w: w}, nil
}

// Add writes q, which must be the next request in trace order.
func (rw *RequestWriter) Add(q *trace.Request) error {
	if int64(q.Index) != rw.foot.Requests {
		return fmt.Errorf("requests file %s: request %d where %d comes next", rw.w.path, q.Index, rw.foot.Requests)
	}
	for _, f := range [...]struct {
		name string
		v    int
	}{{"input", q.Input}, {"output", q.Output}, {"blocks", len(q.Blocks)}} {
		if f.v < 0 || f.v > math.MaxInt32 {
			return fmt.Errorf("requests file %s: request %d (%s): %s %d outside 0 to %d", rw.w.path, q.Index, q.Source, f.name, f.v, math.MaxInt32)
		}
	}
	b := rw.w.next()
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(q.Index))
	le.PutUint32(b[4:], uint32(q.Input))
	le.PutUint32(b[8:], uint32(q.Output))
	le.PutUint32(b[12:], uint32(len(q.Blocks)))
	if q.Turn > 0 && q.Turn <= math.MaxInt32 { // a native trace's turn is not bounded: any other is unknown
		le.PutUint32(b[16:], uint32(q.Turn))
	}
	le.PutUint64(b[24:], uint64(max(q.Session, -1))) // any negative is none, as the readers have it
	le.PutUint64(b[32:], uint64(sourceLine(q.Source)))
	rw.w.put()
	rw.foot.Requests++
	return nil
}

// Close writes the footer and puts the file in place.
func (rw *RequestWriter) Close() error { return rw.w.close(rw.foot) }

// Abort drops the file, also once Close has put it in place.
func (rw *RequestWriter) Abort() { rw.w.abort() }

// RequestFile is an open requests file: rows are read on demand.
type RequestFile struct {
	s   *spillFile
	buf []byte
}

// OpenRequests opens a requests file and checks its framing and footer;
// rows are checked as they are read.
func OpenRequests(path string) (*RequestFile, error) {
	s, err := openSpill(path, requestsKind, requestRowBytes)
	if err != nil {
		return nil, err
	}
	if err := s.checkRequestsFooter(); err != nil {
		s.close()
		return nil, err
	}
	return &RequestFile{s: s, buf: make([]byte, requestRowBytes)}, nil
}

// checkRequestsFooter checks a file whose footer is a RequestsFooter (a
// requests or detail file): one row a request.
func (s *spillFile) checkRequestsFooter() error {
	var foot RequestsFooter
	if err := s.decodeJSON("footer", s.footer, &foot); err != nil {
		return err
	}
	if foot.Requests != s.rows {
		return &SpillError{Path: s.path, Field: "footer: requests", Err: fmt.Errorf("%d, but the file holds %d rows", foot.Requests, s.rows)}
	}
	return nil
}

// Len is the number of requests.
func (f *RequestFile) Len() int { return int(f.s.rows) }

// Read reads request i's row into q.
func (f *RequestFile) Read(i int, q *RequestInfo) error {
	if err := f.s.readRow(int64(i), f.buf); err != nil {
		return err
	}
	return f.decode(int64(i), f.buf, q)
}

// Scan hands every row in trace order to fn through one sequential read;
// the row is reused.
func (f *RequestFile) Scan(fn func(*RequestInfo) error) error {
	var q RequestInfo
	return f.s.scan(func(i int64, row []byte) error {
		if err := f.decode(i, row, &q); err != nil {
			return err
		}
		return fn(&q)
	})
}

// Close closes the file.
func (f *RequestFile) Close() error { return f.s.close() }

// decode fills q from row i, checking every field.
func (f *RequestFile) decode(i int64, b []byte, q *RequestInfo) error {
	le := binary.LittleEndian
	bad := func(field, format string, a ...any) error {
		return &SpillError{Path: f.s.path, Field: fmt.Sprintf("request %d: %s", i, field), Err: fmt.Errorf(format, a...)}
	}
	*q = RequestInfo{
		Index: int32(le.Uint32(b[0:])), Input: int32(le.Uint32(b[4:])), Output: int32(le.Uint32(b[8:])),
		Blocks: int32(le.Uint32(b[12:])), Turn: int32(le.Uint32(b[16:])),
		Session: int64(le.Uint64(b[24:])), Line: int64(le.Uint64(b[32:])),
	}
	switch {
	case int64(q.Index) != i:
		return bad("index", "%d, want %d", q.Index, i)
	case q.Input < 0:
		return bad("input", "%d: negative", q.Input)
	case q.Output < 0:
		return bad("output", "%d: negative", q.Output)
	case q.Blocks < 0:
		return bad("blocks", "%d: negative", q.Blocks)
	case q.Turn < 0:
		return bad("turn", "%d: negative", q.Turn)
	case le.Uint32(b[20:]) != 0:
		return bad("padding", "% x, want zeros", b[20:24])
	case q.Session < -1:
		return bad("session", "%d, want -1 (none) or more", q.Session)
	case q.Line < 0:
		return bad("line", "%d: negative", q.Line)
	}
	return nil
}
