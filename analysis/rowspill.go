package analysis

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// SpilledRows are a streamed run's request rows, for the CSV report
// (CompareStream with KeepRecords): each RequestRow in trace order, in an
// unlinked temporary file (nothing is left behind however the process
// ends), 64 bytes a row plus its failure reason. WriteCSV reads them back
// through the same formatting as held rows, so the CSV's bytes are the
// same. Comparison.Close releases them.
type SpilledRows struct {
	f    *os.File
	bw   *bufio.Writer
	n    int64
	size int64
	err  error
	once sync.Once
}

// rowFixed is a spilled row's size before its failure reason: Index
// int32 | Worker int16 | Status uint8 | 0 | Arrival, Start, FirstToken,
// Done int64 | HitTokens, HitBlocks, Input, Output, Blocks int32 | len(Fail)
// uint32.
const rowFixed = 4 + 2 + 1 + 1 + 4*8 + 5*4 + 4

// newSpilledRows creates the file in dir ("": the system's temporary
// directory) and unlinks it (where the system refuses, as Windows does,
// Close removes it).
func newSpilledRows(dir string) (*SpilledRows, error) {
	f, err := os.CreateTemp(dir, "kvscope-rows-*")
	if err != nil {
		return nil, fmt.Errorf("spilling request rows: %w", err)
	}
	_ = unlinkOpen(f.Name()) // where it fails, Close removes the file
	return &SpilledRows{f: f, bw: bufio.NewWriterSize(f, 1<<20)}, nil
}

// add appends r's row (its request q).
func (s *SpilledRows) add(r *sim.Record, q *trace.Request) {
	if s.err != nil {
		return
	}
	row := requestRow(r, q)
	var b [rowFixed]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(row.Index))
	le.PutUint16(b[4:], uint16(row.Worker))
	b[6] = byte(row.Status)
	for i, d := range [...]time.Duration{row.Arrival, row.Start, row.FirstToken, row.Done} {
		le.PutUint64(b[8+8*i:], uint64(d))
	}
	for i, v := range [...]int32{row.HitTokens, row.HitBlocks, row.Input, row.Output, row.Blocks} {
		le.PutUint32(b[40+4*i:], uint32(v))
	}
	le.PutUint32(b[60:], uint32(len(row.Fail)))
	if _, err := s.bw.Write(b[:]); err != nil {
		s.err = fmt.Errorf("spilling request rows: %w", err)
		return
	}
	if _, err := s.bw.WriteString(row.Fail); err != nil {
		s.err = fmt.Errorf("spilling request rows: %w", err)
		return
	}
	s.n++
	s.size += rowFixed + int64(len(row.Fail))
}

// finish flushes the rows written; an error met writing is returned.
func (s *SpilledRows) finish() error {
	if s.err == nil {
		if err := s.bw.Flush(); err != nil {
			s.err = fmt.Errorf("spilling request rows: %w", err)
		}
	}
	return s.err
}

// Len is the number of rows.
func (s *SpilledRows) Len() int64 { return s.n }

// each calls fn with every row in order, read back from the file.
func (s *SpilledRows) each(fn func(*RequestRow) error) error {
	br := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.size), 1<<20)
	var (
		b   [rowFixed]byte
		row RequestRow
	)
	le := binary.LittleEndian
	for i := range s.n {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return fmt.Errorf("reading spilled request rows: row %d: %w", i, err)
		}
		row = RequestRow{Index: int32(le.Uint32(b[0:])), Worker: int16(le.Uint16(b[4:])), Status: sim.Status(b[6]),
			Arrival: time.Duration(le.Uint64(b[8:])), Start: time.Duration(le.Uint64(b[16:])),
			FirstToken: time.Duration(le.Uint64(b[24:])), Done: time.Duration(le.Uint64(b[32:])),
			HitTokens: int32(le.Uint32(b[40:])), HitBlocks: int32(le.Uint32(b[44:])),
			Input: int32(le.Uint32(b[48:])), Output: int32(le.Uint32(b[52:])), Blocks: int32(le.Uint32(b[56:]))}
		n := le.Uint32(b[60:])
		if n > math.MaxInt32 {
			return fmt.Errorf("reading spilled request rows: row %d: failure of %d bytes", i, n)
		}
		if n > 0 {
			fail := make([]byte, n)
			if _, err := io.ReadFull(br, fail); err != nil {
				return fmt.Errorf("reading spilled request rows: row %d: %w", i, err)
			}
			row.Fail = string(fail)
		}
		if err := fn(&row); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the file (and removes it where it could not be
// unlinked). It may be called more than once.
func (s *SpilledRows) Close() error {
	var err error
	s.once.Do(func() {
		err = s.f.Close()
		if _, serr := os.Stat(s.f.Name()); serr == nil {
			err = errors.Join(err, os.Remove(s.f.Name()))
		}
	})
	return err
}

// requestRow is the CSV report's row of r (its request q).
func requestRow(r *sim.Record, q *trace.Request) RequestRow {
	return RequestRow{
		Index: r.Index, Worker: r.Worker, Status: r.Status,
		Arrival: r.Arrival, Start: r.Start, FirstToken: r.FirstToken, Done: r.Done,
		HitTokens: r.HitTokens, HitBlocks: r.HitBlocks,
		Input: int32(q.Input), Output: int32(q.Output), Blocks: int32(len(q.Blocks)),
		Fail: r.Fail,
	}
}
