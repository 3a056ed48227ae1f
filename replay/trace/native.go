package trace

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// nativeFormatName and nativeVersion are written in the header line of every
// native trace.
const (
	nativeFormatName = "kvscope-trace"
	nativeVersion    = 1
)

// nativeSource reads kvscope's native JSONL (see the package doc).
type nativeSource struct {
	lines
	bs     int
	source string
	sc     scanner
}

func newNativeSource(name string, br *bufio.Reader) (*nativeSource, error) {
	s := &nativeSource{lines: lines{name: name, br: br}}
	b, err := s.lines.next()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty input", name)
	}
	if err != nil {
		return nil, err
	}
	bad := func(err error) (*nativeSource, error) { return nil, fmt.Errorf("%s: %w", s.loc(), err) }
	s.sc = scanner{b: b}
	var format string
	version := int64(-1)
	err = s.sc.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "format":
			format, err = s.sc.str()
			err = wrapIf("format", err)
		case "version":
			version, err = s.sc.int()
			err = wrapIf("version", err)
		case "block_size":
			var v int64
			v, err = s.sc.int()
			s.bs = int(v)
			if err == nil && (v < 1 || v > 1<<24) {
				err = fieldErr("block_size", "%d outside 1..%d", v, 1<<24)
			}
			err = wrapIf("block_size", err)
		case "source":
			s.source, err = s.sc.str()
			err = wrapIf("source", err)
		default:
			err = s.sc.skip()
		}
		return err
	})
	if err == nil {
		err = s.sc.end()
	}
	switch {
	case err != nil:
		return bad(asField("header", err))
	case format != nativeFormatName:
		return bad(fieldErr("format", "%q, want %q in the header line", format, nativeFormatName))
	case version < 0:
		return bad(fieldErr("version", "missing in the header line"))
	case version != nativeVersion:
		return bad(fieldErr("version", "%d not supported (this kvscope reads version %d)", version, nativeVersion))
	case s.bs == 0:
		return bad(fieldErr("block_size", "missing in the header line"))
	}
	return s, nil
}

func (s *nativeSource) blockSize() int { return s.bs }

func (s *nativeSource) next(r *Request, ids []uint64) ([]uint64, error) {
	b, err := s.lines.next()
	if err != nil {
		return ids, err
	}
	r.Source = s.loc()
	s.sc = scanner{b: b}
	bad := func(err error) ([]uint64, error) { return ids, &recordError{r.Source, err} }
	var seen [3]bool // arrival_s, input, output
	last := int64(-1)
	err = s.sc.object(func(key []byte) error {
		var err error
		var v int64
		switch string(key) {
		case "arrival_s":
			seen[0] = true
			var raw []byte
			if raw, err = s.sc.number(); err == nil {
				r.Arrival, err = parseDuration(raw, time.Second)
			}
		case "input":
			seen[1] = true
			v, err = s.sc.int()
			r.Input = int(v)
			if err == nil && (v < 0 || v > math.MaxInt32) {
				err = fieldErr("input", "%d outside 0..%d", v, math.MaxInt32)
			}
		case "output":
			seen[2] = true
			v, err = s.sc.int()
			r.Output = int(v)
			if err == nil && (v < 0 || v > math.MaxInt32) {
				err = fieldErr("output", "%d outside 0..%d", v, math.MaxInt32)
			}
		case "blocks":
			ids, err = s.sc.ids("blocks", ids[:0])
		case "last_block_tokens":
			last, err = s.sc.int()
		case "session":
			r.Session, err = s.sc.int()
			r.Session = max(r.Session, -1) // any negative means none
		case "id":
			r.ID, err = s.sc.int()
			if err == nil && r.ID < 0 {
				err = fieldErr("id", "negative (%d)", r.ID)
			}
		case "parent":
			r.Parent, err = s.sc.int()
			r.Parent = max(r.Parent, NoParent)
		case "think_s":
			r.ThinkS, err = s.sc.float()
			if err == nil {
				err = checkSeconds("think_s", r.ThinkS)
			}
		case "turn":
			v, err = s.sc.int()
			r.Turn = int(v)
		case "type":
			if !s.sc.isNull() {
				r.Type, err = s.sc.str()
			}
		case "tags":
			if s.sc.isNull() {
				break
			}
			err = s.sc.array(func(int) error {
				t, err := s.sc.str()
				r.Tags = append(r.Tags, t)
				return err
			})
		default:
			err = s.sc.skip()
		}
		if err != nil { // string(key) only then: it allocates
			return wrapIf(string(key), err)
		}
		return nil
	})
	if err == nil {
		err = s.sc.end()
	}
	if err != nil {
		return bad(asField("json", err))
	}
	for i, f := range []string{"arrival_s", "input", "output"} {
		if !seen[i] {
			return bad(fieldErr(f, "missing"))
		}
	}
	if len(ids) > 0 {
		r.LastBlockTokens = s.bs
		if last >= 0 {
			if last < 1 || last > int64(s.bs) {
				return bad(fieldErr("last_block_tokens", "%d outside 1..%d", last, s.bs))
			}
			r.LastBlockTokens = int(last)
		}
	} else if last > 0 {
		return bad(fieldErr("last_block_tokens", "%d without blocks", last))
	}
	if c := (len(ids)-1)*s.bs + r.LastBlockTokens; len(ids) > 0 && c > r.Input {
		return bad(fieldErr("blocks", "%d blocks cover %d tokens, more than input %d", len(ids), c, r.Input))
	}
	return ids, nil
}

// NativeWriter writes kvscope's native JSONL: a header line, then one request
// per line with a fixed field order, arrivals as exact decimals, think times in
// shortest float form, and fields at their default value left out (see the
// package doc). The same requests give the same bytes.
type NativeWriter struct {
	w   *bufio.Writer
	bs  int
	n   int64
	buf []byte
}

// NewNativeWriter writes the header line naming the format, version, block
// size and source.
func NewNativeWriter(w io.Writer, blockSize int, source string) (*NativeWriter, error) {
	if blockSize < 1 || blockSize > 1<<24 {
		return nil, fmt.Errorf("native writer: block size %d outside 1..%d", blockSize, 1<<24)
	}
	nw := &NativeWriter{w: bufio.NewWriterSize(w, 1<<16), bs: blockSize}
	b := []byte(`{"format":"` + nativeFormatName + `","version":` + strconv.Itoa(nativeVersion) +
		`,"block_size":` + strconv.Itoa(blockSize))
	if source != "" {
		b = append(b, `,"source":`...)
		b = appendString(b, source)
	}
	b = append(b, "}\n"...)
	if _, err := nw.w.Write(b); err != nil {
		return nil, err
	}
	return nw, nil
}

// Write writes one request. With ids == nil r.Blocks are written as they
// are; otherwise each dense id is written as ids.Orig names it (a *Table
// that keeps no original ids writes the dense ids). Requests are numbered
// in writing order; id is written only when it differs from that number.
func (nw *NativeWriter) Write(r *Request, ids IDNames) error {
	if err := r.Validate(nw.bs); err != nil {
		return fmt.Errorf("native writer: request %d: %w", nw.n, err)
	}
	b := append(nw.buf[:0], `{"arrival_s":`...)
	b = appendDecimal(b, int64(r.Arrival), int64(time.Second))
	b = append(b, `,"input":`...)
	b = strconv.AppendInt(b, int64(r.Input), 10)
	b = append(b, `,"output":`...)
	b = strconv.AppendInt(b, int64(r.Output), 10)
	if len(r.Blocks) > 0 {
		b = append(b, `,"blocks":[`...)
		b = appendIDs(b, r.Blocks, ids, ",")
		b = append(b, ']')
		if r.LastBlockTokens != nw.bs {
			b = append(b, `,"last_block_tokens":`...)
			b = strconv.AppendInt(b, int64(r.LastBlockTokens), 10)
		}
	}
	if r.Session >= 0 {
		b = append(b, `,"session":`...)
		b = strconv.AppendInt(b, r.Session, 10)
	}
	if r.ID != nw.n {
		if r.ID < 0 {
			return fmt.Errorf("native writer: request %d: id: negative (%d)", nw.n, r.ID)
		}
		b = append(b, `,"id":`...)
		b = strconv.AppendInt(b, r.ID, 10)
	}
	if r.Parent != NoParent {
		b = append(b, `,"parent":`...)
		b = strconv.AppendInt(b, r.Parent, 10)
	}
	if r.ThinkS != 0 { // checked by Validate
		b = append(b, `,"think_s":`...)
		b = strconv.AppendFloat(b, r.ThinkS, 'f', -1, 64)
	}
	if r.Turn != 0 {
		b = append(b, `,"turn":`...)
		b = strconv.AppendInt(b, int64(r.Turn), 10)
	}
	if r.Type != "" {
		b = append(b, `,"type":`...)
		b = appendString(b, r.Type)
	}
	if len(r.Tags) > 0 {
		b = append(b, `,"tags":[`...)
		for i, tg := range r.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, tg)
		}
		b = append(b, ']')
	}
	b = append(b, "}\n"...)
	nw.buf = b
	nw.n++
	_, err := nw.w.Write(b)
	return err
}

// Flush writes buffered output.
func (nw *NativeWriter) Flush() error { return nw.w.Flush() }

func appendIDs(b []byte, blocks []BlockID, ids IDNames, sep string) []byte {
	if t, ok := ids.(*Table); ok && (t == nil || !t.KeepsOrig()) {
		ids = nil // a Table without original ids would scan per id
	}
	for i, d := range blocks {
		if i > 0 {
			b = append(b, sep...)
		}
		if ids != nil {
			b = strconv.AppendUint(b, ids.Orig(d), 10)
		} else {
			b = strconv.AppendUint(b, uint64(d), 10)
		}
	}
	return b
}

// appendString writes a JSON string (deterministic escaping, valid UTF-8).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// MooncakeWriter writes Mooncake JSONL exactly as the upstream files are
// laid out ({"timestamp": ms, "input_length": …, "output_length": …,
// "hash_ids": [a, b]}). Mooncake requires len(hash_ids) == ceil(input/block
// size) with a partial last block; a request whose tail tokens have no id
// (kv-cache-tester) cannot be written and is an error. The file does not
// record the block size: a trace written with one other than 512 must be read
// back with --block-size.
type MooncakeWriter struct {
	w   *bufio.Writer
	bs  int
	n   int
	buf []byte
}

// NewMooncakeWriter returns a writer for traces of the given block size.
func NewMooncakeWriter(w io.Writer, blockSize int) (*MooncakeWriter, error) {
	if blockSize < 1 {
		return nil, fmt.Errorf("mooncake writer: block size %d must be positive", blockSize)
	}
	return &MooncakeWriter{w: bufio.NewWriterSize(w, 1<<16), bs: blockSize}, nil
}

// ErrNotMooncake is wrapped by MooncakeWriter.Write for requests Mooncake
// cannot express.
var ErrNotMooncake = errors.New("not expressible in the mooncake format")

// Write writes one request; ids as for NativeWriter.Write.
func (mw *MooncakeWriter) Write(r *Request, ids IDNames) error {
	if err := r.Validate(mw.bs); err != nil {
		return fmt.Errorf("mooncake writer: request %d: %w", mw.n, err)
	}
	if want := (r.Input + mw.bs - 1) / mw.bs; len(r.Blocks) != want || r.TailTokens(mw.bs) != 0 {
		return fmt.Errorf("mooncake writer: request %d: %w: %d block ids cover %d of %d input tokens (mooncake needs ceil(%d/%d) = %d ids covering all); use --to native",
			mw.n, ErrNotMooncake, len(r.Blocks), r.ChainTokens(mw.bs), r.Input, r.Input, mw.bs, want)
	}
	b := append(mw.buf[:0], `{"timestamp": `...)
	b = appendDecimal(b, int64(r.Arrival), int64(time.Millisecond))
	b = append(b, `, "input_length": `...)
	b = strconv.AppendInt(b, int64(r.Input), 10)
	b = append(b, `, "output_length": `...)
	b = strconv.AppendInt(b, int64(r.Output), 10)
	b = append(b, `, "hash_ids": [`...)
	b = appendIDs(b, r.Blocks, ids, ", ")
	b = append(b, "]}\n"...)
	mw.buf = b
	mw.n++
	_, err := mw.w.Write(b)
	return err
}

// Flush writes buffered output.
func (mw *MooncakeWriter) Flush() error { return mw.w.Flush() }
