package sim

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kvscope/kvscope/internal/atomicfile"
)

// Spill files hold what a streamed run produces per request or per event
// (records, the event log, worker samples), written as it is produced and
// read back lazily: fixed-size little-endian rows, so row i is one ReadAt
// away, between a small header and a JSON footer written at the end.
//
//	header   "KVSCOPE\x00" | kind [4]byte | version uint16 | 0 uint16 | row size uint32 | meta length uint32 | meta JSON
//	rows     rows × row size bytes
//	trailer  footer JSON | footer length uint64 | rows uint64 | "KVSEND\x00\x00"
//
// The file is written through internal/atomicfile: a run that fails or is
// interrupted leaves no spill file, and a file without its trailer (cut
// short by other means) is refused when opened.
//
// Each kind has its own version, raised when its rows or footer change;
// a file of another version is refused (spillVersions).
const (
	spillMagic    = "KVSCOPE\x00"
	spillEnd      = "KVSEND\x00\x00"
	spillHead     = 24
	spillTrailer  = 24
	spillMaxJSON  = 1 << 30
	spillMaxRow   = 1 << 20
	spillBufBytes = 1 << 20
)

// spillVersions is each kind's current version. Records are at 2: their
// footer gained the run's span, capacity, units and preemptions.
var spillVersions = map[string]uint16{
	recordsKind:  2,
	requestsKind: 1,
	eventsKind:   1,
	samplesKind:  1,
	loadsKind:    1,
	detailKind:   1,
}

// spillWriter writes one spill file: rows as they come, the footer at
// Close.
type spillWriter struct {
	f    *atomicfile.File // buffered: rows go straight to it
	path string
	// committed: close put the file in place; abort then removes it.
	committed bool
	rows      uint64
	row       []byte
	err       error
}

// createSpill starts the spill file path of kind (4 bytes) with rows of
// rowSize bytes and meta (any JSON value, written at the head).
func createSpill(path, kind string, rowSize int, meta any) (*spillWriter, error) {
	return createSpillSize(path, kind, rowSize, meta, spillBufBytes)
}

// createSpillSize is createSpill with a write buffer of bufBytes, for a
// writer keeping many spill files open at once.
func createSpillSize(path, kind string, rowSize int, meta any, bufBytes int) (*spillWriter, error) {
	version, ok := spillVersions[kind]
	if len(kind) != 4 || !ok {
		return nil, fmt.Errorf("spill kind %q: want one of 4 bytes with a version", kind)
	}
	mj, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("%s: meta: %w", path, err)
	}
	f, err := atomicfile.CreateSize(path, bufBytes)
	if err != nil {
		return nil, err
	}
	w := &spillWriter{f: f, path: path, row: make([]byte, rowSize)}
	var h [spillHead]byte
	copy(h[:8], spillMagic)
	copy(h[8:12], kind)
	binary.LittleEndian.PutUint16(h[12:], version)
	binary.LittleEndian.PutUint32(h[16:], uint32(rowSize))
	binary.LittleEndian.PutUint32(h[20:], uint32(len(mj)))
	w.f.Write(h[:])
	w.f.Write(mj)
	return w, nil
}

// next returns the zeroed buffer of the next row; put writes it.
func (w *spillWriter) next() []byte {
	clear(w.row)
	return w.row
}

// put writes the row next returned. Errors are kept for close.
func (w *spillWriter) put() {
	if w.err != nil {
		return
	}
	if _, err := w.f.Write(w.row); err != nil {
		w.err = err
	}
	w.rows++
}

// close writes the footer and commits the file into place; abort drops
// it instead.
func (w *spillWriter) close(footer any) error {
	if w.err != nil {
		w.abort()
		return w.err
	}
	fj, err := json.Marshal(footer)
	if err != nil {
		w.abort()
		return fmt.Errorf("spill footer: %w", err)
	}
	var t [spillTrailer]byte
	binary.LittleEndian.PutUint64(t[:], uint64(len(fj)))
	binary.LittleEndian.PutUint64(t[8:], w.rows)
	copy(t[16:], spillEnd)
	w.f.Write(fj)
	if _, err := w.f.Write(t[:]); err != nil {
		w.abort()
		return err
	}
	if err := w.f.Commit(); err != nil { // flushes; aborts itself on error
		return err
	}
	w.committed = true
	return nil
}

// abort drops the file, written in part or committed: a set of spill
// files (a states set, a spilled run) is removed whole when one fails.
func (w *spillWriter) abort() {
	if w.committed {
		os.Remove(w.path)
		w.committed = false
		return
	}
	w.f.Abort()
}

// spillFile is an open spill file: its rows are read on demand.
type spillFile struct {
	f            *os.File
	path         string
	rowSize      int
	rows         int64
	off          int64 // first row's offset
	meta, footer json.RawMessage
	// probes caches the instants of the rows searchTime reads in its first
	// probeDepth steps: every search from the whole file starts with the
	// same rows, so a reader that scrubs (the explorer) reads about half
	// the rows per search, for at most 2^probeDepth cached instants.
	probes map[int64]time.Duration
	// block is the buffer of the rows searchTime reads at once when its
	// range fits searchBlockBytes.
	block []byte
}

const (
	// probeDepth is how many steps of searchTime are cached
	// (spillFile.probes).
	probeDepth = 12
	// searchBlockBytes bounds the rows searchTime reads in one ReadAt to
	// finish its search in memory: one read of up to 64 KiB costs about
	// what one of a row costs, where a probe each would cost up to ten.
	searchBlockBytes = 64 << 10
)

// SpillError is a malformed spill file: which file, where and what.
type SpillError struct {
	Path  string
	Field string
	Err   error
}

func (e *SpillError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Path, e.Field, e.Err) }
func (e *SpillError) Unwrap() error { return e.Err }

// openSpill opens path, checks its framing against kind and rowSize (0:
// the header's, for rows whose size the file says, up to spillMaxRow) and
// reads its meta and footer.
func openSpill(path, kind string, rowSize int) (_ *spillFile, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	bad := func(field, format string, a ...any) error {
		return &SpillError{Path: path, Field: field, Err: fmt.Errorf(format, a...)}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if size < spillHead+spillTrailer {
		return nil, bad("header", "%d bytes: too short for a spill file", size)
	}
	var h [spillHead]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return nil, bad("header", "%v", err)
	}
	switch {
	case string(h[:8]) != spillMagic:
		return nil, bad("header", "not a kvscope spill file")
	case string(h[8:12]) != kind:
		return nil, bad("kind", "%q, want %q", h[8:12], kind)
	case binary.LittleEndian.Uint16(h[12:]) != spillVersions[kind]:
		return nil, bad("version", "%d, want %d: written by another version of kvscope (run it again to read it with this one)",
			binary.LittleEndian.Uint16(h[12:]), spillVersions[kind])
	case binary.LittleEndian.Uint16(h[14:]) != 0:
		return nil, bad("header", "reserved field %d, want 0", binary.LittleEndian.Uint16(h[14:]))
	case rowSize == 0 && (binary.LittleEndian.Uint32(h[16:]) == 0 || binary.LittleEndian.Uint32(h[16:]) > spillMaxRow):
		return nil, bad("row size", "%d, want 1 to %d", binary.LittleEndian.Uint32(h[16:]), spillMaxRow)
	case rowSize != 0 && binary.LittleEndian.Uint32(h[16:]) != uint32(rowSize):
		return nil, bad("row size", "%d, want %d", binary.LittleEndian.Uint32(h[16:]), rowSize)
	}
	rowSize = int(binary.LittleEndian.Uint32(h[16:]))
	metaLen := int64(binary.LittleEndian.Uint32(h[20:]))
	var t [spillTrailer]byte
	if _, err := f.ReadAt(t[:], size-spillTrailer); err != nil {
		return nil, bad("trailer", "%v", err)
	}
	if string(t[16:]) != spillEnd {
		return nil, bad("trailer", "missing: the file was cut short")
	}
	footLen, rows := binary.LittleEndian.Uint64(t[:]), binary.LittleEndian.Uint64(t[8:])
	body := size - spillHead - spillTrailer
	if metaLen > body || footLen > uint64(body-metaLen) || metaLen > spillMaxJSON || footLen > spillMaxJSON {
		return nil, bad("trailer", "meta %d and footer %d bytes do not fit in %d", metaLen, footLen, body)
	}
	rowBytes := body - metaLen - int64(footLen)
	// Divided, not multiplied: rows is the file's word and may be anything.
	if rowBytes%int64(rowSize) != 0 || rows != uint64(rowBytes/int64(rowSize)) {
		return nil, bad("rows", "%d rows of %d bytes, but %d bytes lie between meta and footer", rows, rowSize, rowBytes)
	}
	s := &spillFile{f: f, path: path, rowSize: rowSize, rows: int64(rows), off: spillHead + metaLen}
	s.meta = make([]byte, metaLen)
	if _, err := f.ReadAt(s.meta, spillHead); err != nil {
		return nil, bad("meta", "%v", err)
	}
	s.footer = make([]byte, footLen)
	if _, err := f.ReadAt(s.footer, s.off+rowBytes); err != nil {
		return nil, bad("footer", "%v", err)
	}
	return s, nil
}

// readRow reads row i into buf (rowSize bytes).
func (s *spillFile) readRow(i int64, buf []byte) error {
	if i < 0 || i >= s.rows {
		return fmt.Errorf("%s: row %d of %d", s.path, i, s.rows)
	}
	if _, err := s.f.ReadAt(buf[:s.rowSize], s.off+i*int64(s.rowSize)); err != nil {
		return fmt.Errorf("%s: row %d: %w", s.path, i, err)
	}
	return nil
}

// searchTime returns the number of leading rows whose instant (at reads
// row i's) is before t, or at or before t when inclusive: a binary search
// over rows in time order bounded by first and last, O(log n) calls of
// at, the first probeDepth of them answered from spillFile.probes once
// read, and the steps left once the range fits searchBlockBytes answered
// from one read of its rows. A row whose instant lies outside those of
// the rows around it is reported as out of time order.
func (s *spillFile) searchTime(t time.Duration, inclusive bool, first, last time.Duration, at func(i int64) (time.Duration, error)) (int64, error) {
	lo, hi := int64(0), s.rows
	loT, hiT := first, last
	var block []byte // rows [base, hi) once the range fits searchBlockBytes
	base := int64(0)
	for depth := 0; lo < hi; depth++ {
		if block == nil && hi-lo > 1 && (hi-lo)*int64(s.rowSize) <= searchBlockBytes {
			// Every kind of file a search reads holds a row's instant in
			// its first 8 bytes; the caller reads the row it finds
			// through its own checked reader.
			n := int(hi-lo) * s.rowSize
			if cap(s.block) < n {
				s.block = make([]byte, n)
			}
			block, base = s.block[:n], lo
			if _, err := s.f.ReadAt(block, s.off+lo*int64(s.rowSize)); err != nil {
				return 0, fmt.Errorf("%s: rows %d to %d: %w", s.path, lo, hi-1, err)
			}
		}
		mid := lo + (hi-lo)/2
		rt, err := s.probe(mid, depth, block, base, at)
		if err != nil {
			return 0, err
		}
		if rt < loT || rt > hiT {
			return 0, &SpillError{Path: s.path, Field: fmt.Sprintf("row %d: T", mid), Err: fmt.Errorf("%v out of time order", rt)}
		}
		if rt < t || inclusive && rt == t {
			lo, loT = mid+1, rt
		} else {
			hi, hiT = mid, rt
		}
	}
	return lo, nil
}

// probe is row mid's instant for searchTime, at depth steps in: from the
// block read (rows from base on) when there is one, else from the probe
// cache, else by at (cached when shallow).
func (s *spillFile) probe(mid int64, depth int, block []byte, base int64, at func(i int64) (time.Duration, error)) (time.Duration, error) {
	if block != nil {
		return time.Duration(binary.LittleEndian.Uint64(block[int(mid-base)*s.rowSize:])), nil
	}
	if rt, ok := s.probes[mid]; ok {
		return rt, nil
	}
	rt, err := at(mid)
	if err != nil {
		return 0, err
	}
	if depth < probeDepth {
		if s.probes == nil {
			s.probes = map[int64]time.Duration{}
		}
		s.probes[mid] = rt
	}
	return rt, nil
}

// scan hands every row in order to fn, through a buffered sequential
// read; fn's slice is reused.
func (s *spillFile) scan(fn func(i int64, row []byte) error) error { return s.scanFrom(0, fn) }

// scanFrom is scan from row from on (none past the last row).
func (s *spillFile) scanFrom(from int64, fn func(i int64, row []byte) error) error {
	from = min(max(from, 0), s.rows)
	size := (s.rows - from) * int64(s.rowSize)
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, s.off+from*int64(s.rowSize), size), int(min(size, spillBufBytes)))
	row := make([]byte, s.rowSize)
	for i := from; i < s.rows; i++ {
		if _, err := io.ReadFull(r, row); err != nil {
			return fmt.Errorf("%s: row %d: %w", s.path, i, err)
		}
		if err := fn(i, row); err != nil {
			return err
		}
	}
	return nil
}

func (s *spillFile) close() error { return s.f.Close() }

// decodeJSON reads a spill file's meta or footer into v, naming the field.
func (s *spillFile) decodeJSON(field string, raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return &SpillError{Path: s.path, Field: field, Err: err}
	}
	return nil
}
