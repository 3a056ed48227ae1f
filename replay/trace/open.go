package trace

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ReadOptions says how to read a trace. The zero value detects the format,
// stops at the first bad record and requires arrivals in order.
type ReadOptions struct {
	// Format forces a format; "" detects it from the content.
	Format Format
	// SkipBad skips records that do not parse and counts them in
	// Info.Skipped instead of stopping.
	SkipBad bool
	// Sort holds all requests (a few words each: see Table.Chain) and emits
	// them in arrival order; without it an arrival earlier than the previous
	// one is an error naming the line.
	Sort bool
	// BlockSize is the block size of formats whose files do not say it:
	// Azure (fresh ids in blocks of this many tokens, default 16), Mooncake
	// (default 512) and Qwen-Bailian (default 16). 0 means the default.
	BlockSize int
	// SessionStart places kv-cache-tester sessions: "" or "zero" (all at 0),
	// "poisson:rate=R" (sessions, in file order, separated by exponential
	// gaps of mean 1/R s, the first at 0) or "stagger:s=S" (session i at
	// i·S s).
	SessionStart string
	// Seed seeds SessionStart's random draws.
	Seed uint64
	// KeepIDs records each block's original id in the Table (8 bytes per
	// unique block) so writers can emit the trace's own ids. Load and
	// LoadBytes always keep them.
	KeepIDs bool
}

// canonical returns the options that change the trace, as SPEC §1 wants them
// recorded with its statistics: the format's own, then skip_bad and sort.
func (o ReadOptions) canonical(f FormatInfo, bs int) string {
	var parts []string
	if f.Options != nil {
		parts = f.Options(o, bs)
	}
	if o.SkipBad {
		parts = append(parts, "skip_bad=true")
	}
	if o.Sort {
		parts = append(parts, "sort=true")
	}
	return strings.Join(parts, ";")
}

// Stream reads a trace one request at a time. It holds the block table and,
// only for kv-cache-tester input or with Sort, the requests in compact form.
type Stream struct {
	name   string
	opt    ReadOptions
	format FormatInfo
	info   Info
	table  *Table
	src    source // nil once buffered
	buf    *held
	close  []io.Closer

	n       int           // requests emitted
	last    time.Duration // previous arrival (order check)
	lastLoc string
	ids     []uint64
	done    bool
}

// source yields raw records: r with everything but Blocks, ids the original
// block ids, loc the record's location ("FILE:LINE"). A *recordError is a bad
// record (skippable); any other error stops the read.
type source interface {
	next(r *Request, ids []uint64) ([]uint64, error)
	blockSize() int
}

// recordError is one bad record: "LOC: field: reason".
type recordError struct {
	loc string
	err error
}

func (e *recordError) Error() string { return e.loc + ": " + e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// Open opens a trace file (or a directory of kv-cache-tester .json files).
func Open(path string, opt ReadOptions) (*Stream, error) { return OpenWith(path, opt, nil) }

// OpenWith is Open with the file's reader passed through wrap (if not nil)
// before anything else reads it, size being the file's size: a caller
// counts the bytes read, compressed as they are on disk, for a progress
// line. A directory is read as Open reads it, without wrap.
func OpenWith(path string, opt ReadOptions, wrap func(r io.Reader, size int64) io.Reader) (*Stream, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return openDir(path, opt)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var r io.Reader = f
	if wrap != nil {
		r = wrap(f, fi.Size())
	}
	s, err := openReader(path, r, opt)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.close = append(s.close, f)
	return s, nil
}

// OpenReader reads a trace from r; name is used in messages and Info.Source.
func OpenReader(name string, r io.Reader, opt ReadOptions) (*Stream, error) {
	return openReader(name, r, opt)
}

func openReader(name string, r io.Reader, opt ReadOptions) (*Stream, error) {
	br, closers, err := decompress(name, r)
	if err != nil {
		return nil, err
	}
	s, err := openDecoded(name, br, opt)
	if err != nil {
		for _, c := range closers {
			c.Close()
		}
		return nil, err
	}
	s.close = append(s.close, closers...)
	return s, nil
}

const peekSize = 64 << 10

// decompress undoes gzip, zstd and xz (by magic bytes, possibly nested).
func decompress(name string, r io.Reader) (*bufio.Reader, []io.Closer, error) {
	var closers []io.Closer
	br := bufio.NewReaderSize(r, 1<<20)
	for range 3 {
		magic, _ := br.Peek(6)
		var next io.Reader
		switch {
		case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
			zr, err := gzip.NewReader(br)
			if err != nil {
				return nil, closers, fmt.Errorf("%s: gzip: %w", name, err)
			}
			closers = append(closers, zr)
			next = zr
		case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, closers, fmt.Errorf("%s: zstd: %w", name, err)
			}
			closers = append(closers, zstdCloser{zr})
			next = zr
		case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
			zr, err := xz.NewReader(br)
			if err != nil {
				return nil, closers, fmt.Errorf("%s: xz: %w", name, err)
			}
			next = zr
		default:
			return br, closers, nil
		}
		br = bufio.NewReaderSize(next, 1<<20)
	}
	return br, closers, nil
}

type zstdCloser struct{ d *zstd.Decoder }

func (z zstdCloser) Close() error { z.d.Close(); return nil }

func readErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated input: %w", err)
	}
	return err
}

func openDecoded(name string, br *bufio.Reader, opt ReadOptions) (*Stream, error) {
	var f FormatInfo
	if opt.Format == "" {
		var err error
		if f, err = detect(name, br); err != nil {
			return nil, err
		}
	} else if _, err := ParseFormat(string(opt.Format)); err != nil {
		return nil, err
	} else if head, _ := br.Peek(1); len(head) == 0 {
		return nil, fmt.Errorf("%s: empty input", name)
	} else {
		f, _ = LookupFormat(opt.Format)
	}
	if opt.BlockSize < 0 {
		return nil, fmt.Errorf("block size %d: must be positive", opt.BlockSize)
	}
	s := newStream(name, opt, f)
	if err := f.Open.file(s, br); err != nil {
		return nil, err
	}
	s.finishOpen()
	return s, nil
}

// openDir reads a directory with the format that opens directories itself
// (kvtester: a directory of session files).
func openDir(dir string, opt ReadOptions) (*Stream, error) {
	fs := dirFormats()
	var names []string
	for _, f := range fs {
		names = append(names, string(f.Name))
	}
	i := slices.IndexFunc(fs, func(f FormatInfo) bool { return opt.Format == "" || f.Name == opt.Format })
	if i < 0 {
		return nil, fmt.Errorf("%s: a directory can only be read as %s", dir, strings.Join(names, " or "))
	}
	s := newStream(dir, opt, fs[i])
	if err := fs[i].Open.dir(s, dir); err != nil {
		return nil, err
	}
	s.finishOpen()
	return s, nil
}

func newStream(name string, opt ReadOptions, f FormatInfo) *Stream {
	return &Stream{name: name, opt: opt, format: f, table: NewTable(opt.KeepIDs), info: Info{Source: name, Format: f.Name}}
}

func (s *Stream) finishOpen() {
	if s.src != nil {
		s.info.BlockSize = s.src.blockSize()
	}
	s.info.Options = s.opt.canonical(s.format, s.info.BlockSize)
	if s.opt.Sort && s.buf == nil {
		s.buf = &held{}
	}
}

// Table is the stream's block table; it grows as requests are read.
func (s *Stream) Table() *Table { return s.table }

// Holds reports whether the stream holds its requests (--sort, or
// kv-cache-tester input, whose sessions interleave) and so refers to blocks
// by dense id after reading them: its Table must then not recycle ids
// (Table.SetLimit).
func (s *Stream) Holds() bool { return s.buf != nil }

// Info describes the trace; Skipped is complete once Next has returned io.EOF.
func (s *Stream) Info() Info { return s.info }

// Close releases the input.
func (s *Stream) Close() error {
	var first error
	for i := len(s.close) - 1; i >= 0; i-- {
		if err := s.close[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	s.close = nil
	return first
}

// Next returns the next request in arrival order, or io.EOF. The request and
// its slices are new on every call.
func (s *Stream) Next() (*Request, error) {
	r := new(Request)
	if err := s.NextInto(r); err != nil {
		return nil, err
	}
	return r, nil
}

// NextInto is Next reusing r: the backing arrays of r.Blocks and r.Tags are
// reused (so a caller that keeps a request must copy them), every other
// field is overwritten. It is what streaming consumers (statistics) use to
// read without allocating per request.
func (s *Stream) NextInto(r *Request) error {
	if s.done {
		return io.EOF
	}
	if s.buf != nil && s.src != nil {
		// Sort: drain the source into the buffer first.
		if err := s.fill(); err != nil {
			return err
		}
	}
	if s.buf != nil {
		if !s.buf.next(r, s.table) {
			s.done = true
			return io.EOF
		}
	} else {
		err := s.readKept(r)
		if err == io.EOF {
			s.done = true
			if s.n == 0 && s.info.Skipped.Count == 0 {
				return fmt.Errorf("%s: no requests", s.name)
			}
			return io.EOF
		}
		if err != nil {
			return err
		}
	}
	r.Index = s.n
	if r.ID < 0 {
		r.ID = int64(s.n)
	}
	s.n++
	return nil
}

// readKept reads the next record that is kept: under SkipBad a bad record
// is counted and passed over; any other error but io.EOF ends the stream.
func (s *Stream) readKept(r *Request) error {
	for {
		err := s.read(r)
		if err == nil {
			return nil
		}
		var re *recordError // escapes through errors.As: only on errors
		if errors.As(err, &re) && s.opt.SkipBad {
			s.skip(re)
			continue
		}
		if err != nil && err != io.EOF {
			s.done = true
		}
		return err
	}
}

// read gets one raw record and interns it, checking order unless sorting.
func (s *Stream) read(r *Request) error {
	blocks := r.Blocks[:0]
	tags := r.Tags[:0]
	*r = Request{Blocks: blocks, Tags: tags, ID: -1, Session: -1, Parent: NoParent}
	var err error
	s.ids, err = s.src.next(r, s.ids[:0])
	if err != nil {
		return err
	}
	if !s.opt.Sort && r.Arrival < s.last {
		return &recordError{r.Source, fieldErr("timestamp", "arrival %s is before the previous request's %s (%s); use --sort to reorder",
			fmtDur(r.Arrival), fmtDur(s.last), s.lastLoc)}
	}
	r.Blocks, err = s.table.Intern(r.Blocks[:0], s.ids)
	if err != nil {
		return &recordError{r.Source, err}
	}
	if err := r.Validate(s.src.blockSize()); err != nil {
		s.table.rollback()
		return &recordError{r.Source, err}
	}
	s.table.Accept()
	s.last, s.lastLoc = r.Arrival, r.Source
	return nil
}

func fmtDur(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

func (s *Stream) skip(re *recordError) {
	sk := &s.info.Skipped
	sk.Count++
	if sk.Reasons == nil {
		sk.Reasons = make(map[string]int)
	}
	reason := re.err.Error()
	var fe *FieldError
	if errors.As(re.err, &fe) {
		reason = fe.Field + ": " + firstWords(fe.Reason)
	}
	var pe *ParentError
	if errors.As(re.err, &pe) {
		reason = "hash_ids: id already has another parent"
	}
	sk.Reasons[reason]++
	if len(sk.First) < 10 {
		sk.First = append(sk.First, re.Error())
	}
}

// firstWords strips the numbers out of a reason so counts group by kind.
func firstWords(s string) string {
	var b strings.Builder
	for _, w := range strings.Fields(s) {
		if strings.ContainsAny(w, "0123456789") {
			w = "N"
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}

// fill drains the source into the sort buffer.
func (s *Stream) fill() error {
	var r Request
	for {
		err := s.readKept(&r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		s.buf.add(&r)
	}
	s.src = nil
	if len(s.buf.recs) == 0 && s.info.Skipped.Count == 0 {
		s.done = true
		return fmt.Errorf("%s: no requests", s.name)
	}
	s.buf.sort()
	return nil
}

// Load reads a whole trace into memory.
func Load(path string, opt ReadOptions) (*Trace, error) { return LoadWith(path, opt, nil) }

// LoadWith is Load through OpenWith's wrap.
func LoadWith(path string, opt ReadOptions, wrap func(r io.Reader, size int64) io.Reader) (*Trace, error) {
	opt.KeepIDs = true
	s, err := OpenWith(path, opt, wrap)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return collect(s)
}

// LoadBytes reads a whole trace from memory (embedded samples); name is
// used in messages and Info.Source.
func LoadBytes(name string, data []byte, opt ReadOptions) (*Trace, error) {
	opt.KeepIDs = true
	s, err := openReader(name, bytes.NewReader(data), opt)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return collect(s)
}

func collect(s *Stream) (*Trace, error) {
	t := &Trace{Blocks: s.Table()}
	// Chains are copied into shared chunks, each request's capped to its
	// own length: one allocation per chunk instead of a growing slice per
	// request (Intern appends block by block), which was about half of a
	// whole load's allocations. A chunk grows with the trace, up to 4 M
	// ids (16 MB), so a small trace wastes little.
	var (
		r     Request
		chunk []BlockID
	)
	for {
		err := s.NextInto(&r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		n := len(r.Blocks)
		if n > cap(chunk)-len(chunk) {
			chunk = make([]BlockID, 0, max(n, min(4<<20, max(4096, 2*cap(chunk)))))
		}
		start := len(chunk)
		chunk = append(chunk, r.Blocks...)
		kept := r
		kept.Blocks = chunk[start:len(chunk):len(chunk)]
		if n == 0 {
			kept.Blocks = nil
		}
		kept.Tags = slices.Clone(r.Tags)
		t.Requests = append(t.Requests, kept)
	}
	t.Info = s.Info()
	return t, nil
}
