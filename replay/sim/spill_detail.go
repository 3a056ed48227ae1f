package sim

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A detail file holds, per request in trace order, every worker's router
// score and true cached prefix at its arrival: the rows a whole-trace run
// keeps in Run.Scores and Run.Matches (Options.RequestDetail), which the
// explorer's request pane shows. One row of 8·workers bytes a request,
// written as a streamed run routes (StreamOptions.OnDetail →
// DetailWriter.Add):
//
//	workers × score float32 bits | workers × match int32
//
// A request never routed (failed at its arrival) has a row of zeros, as
// in Run.Scores and Run.Matches. The meta holds the worker count, the
// footer the number of rows (the run's requests).
const (
	detailKind = "DETL"
)

type detailMeta struct {
	Workers int `json:"workers"`
}

// DetailWriter writes a detail file (CreateDetail).
type DetailWriter struct {
	w       *spillWriter
	workers int
	foot    RequestsFooter // a requests file's: the rows
	err     error
}

// CreateDetail starts the detail file path of a run of workers workers.
// Nothing appears at path before Close.
func CreateDetail(path string, workers int) (*DetailWriter, error) {
	if workers < 1 || workers > math.MaxInt16 {
		return nil, fmt.Errorf("detail file %s: %d workers", path, workers)
	}
	w, err := createSpill(path, detailKind, 8*workers, detailMeta{Workers: workers})
	if err != nil {
		return nil, err
	}
	return &DetailWriter{w: w, workers: workers}, nil
}

// Add writes request x's row (StreamOptions.OnDetail's arguments), after
// zero rows for the requests before it that were never routed; x must
// come after the last request added. An error is kept for Close.
func (dw *DetailWriter) Add(x int, scores []float32, matches []int32) {
	if dw.err != nil {
		return
	}
	if int64(x) < dw.foot.Requests || len(scores) != dw.workers || len(matches) != dw.workers {
		dw.err = fmt.Errorf("detail file %s: request %d with %d scores and %d matches, after %d rows of %d workers",
			dw.w.path, x, len(scores), len(matches), dw.foot.Requests, dw.workers)
		return
	}
	dw.pad(int64(x))
	b := dw.w.next()
	le := binary.LittleEndian
	for i, s := range scores {
		le.PutUint32(b[4*i:], math.Float32bits(s))
	}
	off := 4 * dw.workers
	for i, m := range matches {
		le.PutUint32(b[off+4*i:], uint32(m))
	}
	dw.w.put()
	dw.foot.Requests++
}

// pad writes zero rows up to request n.
func (dw *DetailWriter) pad(n int64) {
	for dw.foot.Requests < n {
		dw.w.next() // zeroed
		dw.w.put()
		dw.foot.Requests++
	}
}

// Close pads the file to the run's requests and puts it in place.
func (dw *DetailWriter) Close(requests int) error {
	if dw.err == nil && int64(requests) < dw.foot.Requests {
		dw.err = fmt.Errorf("detail file %s: %d rows for a run of %d requests", dw.w.path, dw.foot.Requests, requests)
	}
	if dw.err != nil {
		dw.w.abort()
		return dw.err
	}
	dw.pad(int64(requests))
	return dw.w.close(dw.foot)
}

// Abort drops the file, also once Close has put it in place.
func (dw *DetailWriter) Abort() { dw.w.abort() }

// DetailFile is an open detail file: rows are read on demand.
type DetailFile struct {
	s       *spillFile
	workers int
	buf     []byte
}

// OpenDetail opens a detail file of a run of workers workers and checks
// its framing, meta and footer; rows are checked as they are read.
func OpenDetail(path string, workers int) (*DetailFile, error) {
	if workers < 1 || workers > math.MaxInt16 {
		return nil, fmt.Errorf("detail file %s: %d workers", path, workers)
	}
	s, err := openSpill(path, detailKind, 8*workers)
	if err != nil {
		return nil, err
	}
	var meta detailMeta
	if err := s.decodeJSON("meta", s.meta, &meta); err != nil {
		s.close()
		return nil, err
	}
	if meta.Workers != workers {
		s.close()
		return nil, &SpillError{Path: path, Field: "meta: workers", Err: fmt.Errorf("%d, the run has %d", meta.Workers, workers)}
	}
	if err := s.checkRequestsFooter(); err != nil {
		s.close()
		return nil, err
	}
	return &DetailFile{s: s, workers: workers, buf: make([]byte, 8*workers)}, nil
}

// Len is the number of requests.
func (f *DetailFile) Len() int { return int(f.s.rows) }

// Read reads request i's row into scores and matches (workers entries
// each). A match below zero is an error naming the file, the request and
// the worker.
func (f *DetailFile) Read(i int, scores []float32, matches []int32) error {
	if len(scores) != f.workers || len(matches) != f.workers {
		return fmt.Errorf("detail file %s: read into %d scores and %d matches, want %d", f.s.path, len(scores), len(matches), f.workers)
	}
	if err := f.s.readRow(int64(i), f.buf); err != nil {
		return err
	}
	le := binary.LittleEndian
	off := 4 * f.workers
	for w := range f.workers {
		scores[w] = math.Float32frombits(le.Uint32(f.buf[4*w:]))
		if matches[w] = int32(le.Uint32(f.buf[off+4*w:])); matches[w] < 0 {
			return &SpillError{Path: f.s.path, Field: fmt.Sprintf("request %d: match of worker %d", i, w), Err: fmt.Errorf("%d: negative", matches[w])}
		}
	}
	return nil
}

// Close closes the file.
func (f *DetailFile) Close() error { return f.s.close() }
