package trace

import (
	"bufio"
	"bytes"
	"strconv"
	"time"
)

// azureSource reads the Azure LLM inference 2023 CSV:
// TIMESTAMP,ContextTokens,GeneratedTokens with wall-clock timestamps of up
// to 7 fractional digits, read as UTC. Arrivals are deltas from the first
// row. The trace has no prefix data: every request gets fresh ids, one per
// block of bs tokens (a partial last block gets one too), so no two requests
// share a block.
type azureSource struct {
	lines
	bs     int
	first  time.Time
	hasT0  bool
	nextID uint64
}

const azureLayout = "2006-01-02 15:04:05.9999999"

// maxAzureContext bounds ContextTokens: the reader makes one block per
// BlockSize tokens, so one short row could otherwise ask for hundreds of
// millions of blocks (gigabytes of block table). A row above 2^24 tokens
// (16.8M) is taken for a corrupt one.
const maxAzureContext = 1 << 24

func newAzureSource(name string, br *bufio.Reader, bs int) (*azureSource, error) {
	if bs == 0 {
		bs = 16
	}
	return &azureSource{lines: lines{name: name, br: br}, bs: bs}, nil
}

func (s *azureSource) blockSize() int { return s.bs }

func (s *azureSource) next(r *Request, ids []uint64) ([]uint64, error) {
	b, err := s.lines.next()
	if err != nil {
		return ids, err
	}
	if s.line == 1 && bytes.HasPrefix(bytes.ToUpper(b), []byte("TIMESTAMP,")) {
		if b, err = s.lines.next(); err != nil {
			return ids, err
		}
	}
	r.Source = s.loc()
	bad := func(err error) ([]uint64, error) { return ids, &recordError{r.Source, err} }
	f := bytes.Split(b, []byte{','})
	if len(f) != 3 {
		return bad(fieldErr("csv", "%d fields, want 3 (TIMESTAMP,ContextTokens,GeneratedTokens)", len(f)))
	}
	ts, err := time.ParseInLocation(azureLayout, string(bytes.TrimSpace(f[0])), time.UTC)
	if err != nil {
		return bad(fieldErr("TIMESTAMP", "not a time like 2023-11-16 18:17:03.9799600 (%q)", f[0]))
	}
	in, err := strconv.Atoi(string(bytes.TrimSpace(f[1])))
	if err != nil {
		return bad(fieldErr("ContextTokens", "not an integer (%q)", f[1]))
	}
	out, err := strconv.Atoi(string(bytes.TrimSpace(f[2])))
	if err != nil {
		return bad(fieldErr("GeneratedTokens", "not an integer (%q)", f[2]))
	}
	if in < 0 {
		return bad(fieldErr("ContextTokens", "negative (%d)", in))
	}
	if out < 0 {
		return bad(fieldErr("GeneratedTokens", "negative (%d)", out))
	}
	if in > maxAzureContext {
		return bad(fieldErr("ContextTokens", "too large (%d; at most %d)", in, maxAzureContext))
	}
	if !s.hasT0 {
		s.first, s.hasT0 = ts, true
	}
	d := ts.Sub(s.first)
	if d < 0 {
		// Arrivals are deltas from the first row, so even --sort cannot
		// place a row before it.
		return bad(fieldErr("TIMESTAMP", "%s is before the first row's %s (arrivals are kept as deltas from the first row)", f[0], s.first.Format(azureLayout)))
	}
	if d > MaxTime {
		return bad(fieldErr("TIMESTAMP", "%s after the first row (%s)", fmtDur(d), maxTimeText))
	}
	r.Arrival, r.Input, r.Output = d, in, out
	n := (in + s.bs - 1) / s.bs
	for range n {
		ids = append(ids, s.nextID)
		s.nextID++
	}
	if n > 0 {
		r.LastBlockTokens = in - (n-1)*s.bs
	}
	return ids, nil
}
