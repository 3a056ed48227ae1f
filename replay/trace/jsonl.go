package trace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// lines reads a text file line by line, counting lines and skipping blank
// ones. Lines may be of any length.
type lines struct {
	name string
	br   *bufio.Reader
	line int
	long []byte
	// locs holds "NAME:L" for lines locFrom, locFrom+1, …, back to back,
	// and locEnd[i] where line locFrom+i's ends (see loc).
	locs    string
	locFrom int
	locEnd  []int
	locBuf  []byte
}

// locBatch is how many lines' locations loc makes at once.
const locBatch = 64

// next returns the next non-blank line (without its newline) and its number;
// the slice is valid until the next call.
func (l *lines) next() ([]byte, error) {
	for {
		b, err := l.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			l.long = append(l.long[:0], b...)
			for errors.Is(err, bufio.ErrBufferFull) {
				b, err = l.br.ReadSlice('\n')
				l.long = append(l.long, b...)
			}
			b = l.long
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s:%d: %w", l.name, l.line+1, readErr(err))
		}
		if len(b) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		l.line++
		if l.line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			return t, nil
		}
		if err == io.EOF {
			return nil, io.EOF
		}
	}
}

// loc is "NAME:LINE". Lines are read in order, so the locations of the
// next locBatch lines are made as one string and each is a substring of it:
// one allocation per locBatch requests instead of one per request (a
// Request keeps its Source, and with it the batch's string, about
// locBatch × 24 bytes, alive).
func (l *lines) loc() string {
	i := l.line - l.locFrom
	if i < 0 || i >= len(l.locEnd) {
		l.locFrom, i = l.line, 0
		l.locBuf, l.locEnd = l.locBuf[:0], l.locEnd[:0]
		for k := range locBatch {
			l.locBuf = append(append(l.locBuf, l.name...), ':')
			l.locBuf = strconv.AppendInt(l.locBuf, int64(l.line+k), 10)
			l.locEnd = append(l.locEnd, len(l.locBuf))
		}
		l.locs = string(l.locBuf)
	}
	start := 0
	if i > 0 {
		start = l.locEnd[i-1]
	}
	return l.locs[start:l.locEnd[i]]
}

// jsonlSource reads Mooncake and Qwen-Bailian JSONL.
type jsonlSource struct {
	lines
	format Format
	bs     int
	sc     scanner
	// Bailian: chat id → session root, to give every turn its session.
	roots map[int64]int64
}

// smallerBlocks is the hint for a record with more ids than its length
// allows at block size bs: the file may hold smaller blocks (Mooncake and
// Qwen-Bailian files do not record theirs). It names the power of two
// that fits the record when exactly one does.
func smallerBlocks(n, input, bs int) string {
	fit := 0
	for p := bs / 2; p >= 1; p /= 2 {
		if (input+p-1)/p == n {
			if fit != 0 {
				fit = -1
				break
			}
			fit = p
		}
	}
	if fit > 0 {
		return fmt.Sprintf(" (blocks of %d tokens? the file does not record its block size: read it with --block-size %d)", fit, fit)
	}
	return " (smaller blocks? the file does not record its block size: read it with --block-size N)"
}

// MooncakeBlockSize is the block size of Mooncake traces: the files do not
// record it, and every Mooncake reader assumes it.
const MooncakeBlockSize = 512

// bailianBlockSize is the block size Qwen-Bailian traces are read with
// unless --block-size says otherwise (the files do not record it).
const bailianBlockSize = 16

// newJSONLSource reads Mooncake or Bailian JSONL in blocks of bs tokens
// (the caller applies the format's default).
func newJSONLSource(name string, br *bufio.Reader, f Format, bs int) (*jsonlSource, error) {
	s := &jsonlSource{lines: lines{name: name, br: br}, format: f, bs: bs}
	if f == FormatBailian {
		s.roots = make(map[int64]int64)
	}
	return s, nil
}

func (s *jsonlSource) blockSize() int { return s.bs }

// asField turns a scanner error into a field error.
func asField(field string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return err
	}
	return &FieldError{Field: field, Reason: err.Error()}
}

func (s *jsonlSource) next(r *Request, ids []uint64) ([]uint64, error) {
	b, err := s.lines.next()
	if err != nil {
		return ids, err
	}
	r.Source = s.loc()
	s.sc = scanner{b: b}
	bad := func(err error) ([]uint64, error) { return ids, &recordError{r.Source, err} }
	var seen [4]bool // timestamp, input_length, output_length, hash_ids
	var chat, parent int64 = -1, -1
	err = s.sc.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "timestamp":
			seen[0] = true
			var raw []byte
			if raw, err = s.sc.number(); err == nil {
				unit := time.Millisecond
				if s.format == FormatBailian {
					unit = time.Second
				}
				r.Arrival, err = parseDuration(raw, unit)
			}
			err = wrapIf("timestamp", err)
		case "input_length":
			seen[1] = true
			r.Input, err = s.intField("input_length")
		case "output_length":
			seen[2] = true
			r.Output, err = s.intField("output_length")
		case "hash_ids":
			seen[3] = true
			ids, err = s.sc.ids("hash_ids", ids[:0])
			if err != nil {
				err = asField("hash_ids", err)
			}
		case "chat_id":
			chat, err = s.sc.int()
			err = wrapIf("chat_id", err)
		case "parent_chat_id":
			parent, err = s.sc.int()
			err = wrapIf("parent_chat_id", err)
		case "turn":
			var v int64
			v, err = s.sc.int()
			r.Turn = int(v)
			err = wrapIf("turn", err)
		case "type":
			if !s.sc.isNull() {
				r.Type, err = s.sc.str()
				err = wrapIf("type", err)
			}
		default:
			err = s.sc.skip()
		}
		return err
	})
	if err == nil {
		err = s.sc.end()
	}
	if err != nil {
		return bad(asField("json", err))
	}
	for i, f := range []string{"timestamp", "input_length", "output_length", "hash_ids"} {
		if !seen[i] {
			return bad(fieldErr(f, "missing"))
		}
	}
	if r.Input < 0 {
		return bad(fieldErr("input_length", "negative (%d)", r.Input))
	}
	if r.Output < 0 {
		return bad(fieldErr("output_length", "negative (%d)", r.Output))
	}
	n, want := len(ids), (r.Input+s.bs-1)/s.bs
	switch {
	case n == want:
		if n > 0 {
			r.LastBlockTokens = r.Input - (n-1)*s.bs
		}
	case s.format == FormatBailian && n == r.Input/s.bs:
		// Full blocks only: the tail has no id (as kv-cache-tester).
		if n > 0 {
			r.LastBlockTokens = s.bs
		}
	case n > want:
		return bad(fieldErr("hash_ids", "%d ids but input_length %d allows at most ceil(%d/%d) = %d%s", n, r.Input, r.Input, s.bs, want, smallerBlocks(n, r.Input, s.bs)))
	default:
		return bad(fieldErr("hash_ids", "%d ids but input_length %d needs ceil(%d/%d) = %d", n, r.Input, r.Input, s.bs, want))
	}
	if s.format == FormatBailian {
		r.ID = chat
		r.Parent = parent
		if parent < 0 {
			r.Parent = NoParent
		}
		r.Session = chat
		if root, ok := s.roots[parent]; ok && parent >= 0 {
			r.Session = root
		} else if parent >= 0 {
			r.Session = parent // parent not seen (trace slice): its id names the session
		}
		r.Session = max(r.Session, -1)
		if chat >= 0 {
			s.roots[chat] = r.Session
		}
	}
	return ids, nil
}

func wrapIf(field string, err error) error {
	if err == nil {
		return nil
	}
	return asField(field, err)
}

func (s *jsonlSource) intField(name string) (int, error) {
	v, err := s.sc.int()
	if err != nil {
		return 0, asField(name, err)
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		return 0, fieldErr(name, "out of range (%d)", v)
	}
	return int(v), nil
}
