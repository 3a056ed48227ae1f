package trace

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kvscope/kvscope/internal/suggest"
)

// FormatInfo describes a trace format: everything the rest of kvscope asks
// about one (listing, detection, reading, the canonical reader options,
// help). Nothing outside this table asks about a format by name.
type FormatInfo struct {
	// Name is what --format takes and Info.Format records.
	Name Format
	// Doc is the one line that help and listings show.
	Doc string
	// Sniff says whether decompressed content is in this format: head is
	// its first (up to) 64 KiB, line its first line without a byte-order
	// mark and surrounding space (never empty). Detection asks the built-in
	// formats in table order, then registered ones in registration order,
	// and takes the first yes. Nil: the format is only read when forced.
	Sniff func(head, line []byte) bool
	// Options spells the reader options that change this format's trace
	// ("key=value"), which Info.Options records before skip_bad and sort
	// (SPEC §1); nil when none do. blockSize is the trace's.
	Options func(opt ReadOptions, blockSize int) []string
	// FreshIDs: the format has no block ids of its own; each request gets
	// fresh ones, one per ReadOptions.BlockSize tokens. `trace convert
	// --block-size` therefore reads with that size instead of splitting.
	FreshIDs bool
	// Archives: a tar archive is read by this format's reader, which takes
	// the whole archive; detection looks for a tar header before asking
	// any Sniff (an archive's first "line" is its header).
	Archives bool
	// Open starts the reader. Build it with ReadRecords; the built-in
	// readers use internal openers (kvtester holds whole archives and
	// directories and namespaces their ids).
	Open Opener
	// BlockSize is the block size every reader of this format assumes,
	// the files recording none (Mooncake's 512); 0 when the file records
	// it or its reader needs ReadOptions.BlockSize. `trace convert` gives
	// id-less input fresh ids in this size and says how to read a file
	// written with another.
	BlockSize int
	// NewWriter, when set, writes traces in this format (`trace convert
	// --to`, `trace head`, `gen --format`); source is the provenance a
	// format with a header records (others ignore it).
	NewWriter func(w io.Writer, blockSize int, source string) (Writer, error)
}

// Writer writes a trace request by request; Flush ends the output. ids
// maps dense block ids back to the trace's own (nil, or a *Table that
// keeps no original ids: written as they are).
type Writer interface {
	Write(r *Request, ids IDNames) error
	Flush() error
}

// IDNames names the ids a writer writes for dense block ids: a *Table that
// keeps original ids (a converted trace keeps its own ids), or a
// generator's window over its 64-bit ids (gen.Multiturn.IDNames: a trace
// of more than 2^32 blocks, whose dense ids are reused).
type IDNames interface {
	Orig(b BlockID) uint64
}

// WriterFormats lists the formats that can be written (NewWriter set) in
// table order: the built-in ones (native first, the default), then the
// registered ones.
func WriterFormats() []Format {
	var names []Format
	for _, f := range allFormats() {
		if f.NewWriter != nil {
			names = append(names, f.Name)
		}
	}
	return names
}

// Opener starts a format's reader on a Stream. A zero Opener reads nothing
// (RegisterFormat refuses it).
type Opener struct {
	// file reads decompressed content into s: it sets s.src (streaming)
	// or fills s.buf.
	file func(s *Stream, br *bufio.Reader) error
	// dir, when set, reads a directory path (the format opens
	// directories itself: kvtester, a directory of session files).
	dir func(s *Stream, dir string) error
}

// NoPrefixNote is the line shown once wherever a trace in a format
// without prefix data (FreshIDs: Azure) is reported, so that its hit
// ratios of 0 read as what they are, not as a result; "" for other
// formats.
func NoPrefixNote(f Format) string {
	if info, ok := LookupFormat(f); ok && info.FreshIDs {
		return string(f) + ": no prefix data (every request gets fresh block ids); hit ratios are 0 by construction"
	}
	return ""
}

// ReadsDirectories says whether the format opens a directory path itself.
func (f FormatInfo) ReadsDirectories() bool { return f.Open.dir != nil }

// Records is a streaming format reader: raw records in file order.
type Records interface {
	// Next fills r (which comes reset: ID, Session -1, Parent NoParent, the
	// rest zero), except Blocks: it appends the record's own block ids,
	// root to leaf, to ids and returns them. It sets r.Source to the
	// record's location ("FILE:LINE"). io.EOF ends the trace; a bad record
	// is an error made with BadRecord (skippable with SkipBad); any other
	// error stops the read.
	Next(r *Request, ids []uint64) ([]uint64, error)
	// BlockSize is the trace's tokens per block, known once the reader
	// is open.
	BlockSize() int
}

// BadRecord is the error a Records reader returns for a record that does
// not parse: "LOC: err", with err usually a *FieldError naming the field.
// The read stops with it unless SkipBad, which counts it by reason.
func BadRecord(loc string, err error) error { return &recordError{loc, err} }

// ReadRecords makes an Opener from a streaming reader's constructor: name
// is the input's name for messages, r its decompressed content.
func ReadRecords(open func(name string, r *bufio.Reader, opt ReadOptions) (Records, error)) Opener {
	return Opener{file: func(s *Stream, br *bufio.Reader) error {
		rec, err := open(s.name, br, s.opt)
		if err != nil {
			return err
		}
		s.src = recordsSource{rec}
		return nil
	}}
}

// recordsSource adapts a Records reader to the stream's source.
type recordsSource struct{ r Records }

func (a recordsSource) next(r *Request, ids []uint64) ([]uint64, error) { return a.r.Next(r, ids) }
func (a recordsSource) blockSize() int                                  { return a.r.BlockSize() }

// streaming is the built-in readers' opener: their sources intern nothing
// themselves, like a Records reader, but skip the adapter.
func streaming(open func(s *Stream, br *bufio.Reader) (source, error)) Opener {
	return Opener{file: func(s *Stream, br *bufio.Reader) error {
		src, err := open(s, br)
		if err != nil {
			return err
		}
		s.src = src
		return nil
	}}
}

// builtinFormats is the table of kvscope's formats, in detection order:
// native's header and kvtester's keys are unambiguous, and a Qwen-Bailian
// line also has Mooncake's keys, so bailian is asked before mooncake.
// Adding a format: its reader in a file of its own, and one line here.
var builtinFormats = []FormatInfo{
	{Name: FormatNative, Doc: "kvscope's own JSONL: a header line, then one request a line",
		Sniff: sniffNative,
		Open:  streaming(func(s *Stream, br *bufio.Reader) (source, error) { return newNativeSource(s.name, br) }),
		NewWriter: func(w io.Writer, blockSize int, source string) (Writer, error) {
			nw, err := NewNativeWriter(w, blockSize, source)
			if err != nil {
				return nil, err
			}
			return nw, nil
		}},
	{Name: FormatKVTester, Doc: "kv-cache-tester sessions: a .json file, a directory or a tar archive",
		Sniff: sniffKVTester, Options: kvTesterOptions, Archives: true,
		Open: Opener{file: (*Stream).readKVTester, dir: (*Stream).readKVTesterDir}},
	{Name: FormatBailian, Doc: "Qwen-Bailian JSONL: Mooncake's keys (in s), chat_id, parent_chat_id",
		Sniff: sniffBailian, Options: blockSizeIfSet, BlockSize: bailianBlockSize,
		Open: streaming(func(s *Stream, br *bufio.Reader) (source, error) {
			return newJSONLSource(s.name, br, FormatBailian, cmp.Or(s.opt.BlockSize, bailianBlockSize))
		})},
	{Name: FormatMooncake, Doc: "Mooncake JSONL: timestamp (ms), input/output_length, hash_ids",
		Sniff: sniffMooncake, Options: blockSizeIfSet, BlockSize: MooncakeBlockSize,
		Open: streaming(func(s *Stream, br *bufio.Reader) (source, error) {
			return newJSONLSource(s.name, br, FormatMooncake, cmp.Or(s.opt.BlockSize, MooncakeBlockSize))
		}),
		NewWriter: func(w io.Writer, blockSize int, _ string) (Writer, error) {
			mw, err := NewMooncakeWriter(w, blockSize)
			if err != nil {
				return nil, err
			}
			return mw, nil
		}},
	{Name: FormatAzure, Doc: "Azure LLM inference 2023 CSV: TIMESTAMP,ContextTokens,GeneratedTokens",
		Sniff: sniffAzure, Options: blockSizeAlways, FreshIDs: true,
		Open: streaming(func(s *Stream, br *bufio.Reader) (source, error) {
			return newAzureSource(s.name, br, s.opt.BlockSize)
		})},
}

// Formats registered from outside the table (RegisterFormat), in order.
var (
	formatsMu    sync.RWMutex
	extraFormats []FormatInfo
)

// RegisterFormat adds a format beside the built-in ones, for tests and
// extensions that read a format of their own: it is then listed, detected
// (after every built-in format), read, named in statistics and reports,
// and shown in help, like the built-in ones. Register before building
// help text that lists formats. The returned function removes it again (a
// test's cleanup). The built-in formats are a plain table and need no
// registration.
func RegisterFormat(f FormatInfo) (unregister func(), err error) {
	switch {
	case f.Name == "" || f.Name == "auto" || strings.ContainsAny(string(f.Name), " ,:;="):
		return nil, fmt.Errorf("register format %q: not a usable name", f.Name)
	case f.Open.file == nil:
		return nil, fmt.Errorf("register format %q: no Open (use ReadRecords)", f.Name)
	}
	formatsMu.Lock()
	defer formatsMu.Unlock()
	if _, ok := lookupFormatLocked(f.Name); ok {
		return nil, fmt.Errorf("register format %q: already registered", f.Name)
	}
	extraFormats = append(extraFormats, f)
	var once sync.Once
	return func() {
		once.Do(func() {
			formatsMu.Lock()
			defer formatsMu.Unlock()
			extraFormats = slices.DeleteFunc(extraFormats, func(e FormatInfo) bool { return e.Name == f.Name })
		})
	}, nil
}

// allFormats returns the formats in detection order.
func allFormats() []FormatInfo {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	if len(extraFormats) == 0 {
		return builtinFormats
	}
	return append(slices.Clip(builtinFormats), extraFormats...)
}

func lookupFormatLocked(name Format) (FormatInfo, bool) {
	for _, f := range builtinFormats {
		if f.Name == name {
			return f, true
		}
	}
	for _, f := range extraFormats {
		if f.Name == name {
			return f, true
		}
	}
	return FormatInfo{}, false
}

// LookupFormat returns a format's description; ok is false for an unknown
// name.
func LookupFormat(name Format) (FormatInfo, bool) {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	return lookupFormatLocked(name)
}

// FormatInfos lists every format's description, sorted by name.
func FormatInfos() []FormatInfo {
	fs := slices.Clone(allFormats())
	slices.SortFunc(fs, func(a, b FormatInfo) int { return strings.Compare(string(a.Name), string(b.Name)) })
	return fs
}

// Formats lists the format names, sorted.
func Formats() []Format {
	var names []Format
	for _, f := range FormatInfos() {
		names = append(names, f.Name)
	}
	return names
}

// ParseFormat checks a format name; "" and "auto" mean detect.
func ParseFormat(s string) (Format, error) {
	if s == "" || s == "auto" {
		return "", nil
	}
	if _, ok := LookupFormat(Format(s)); ok {
		return Format(s), nil
	}
	names := make([]string, 0, 5)
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown format %q (known: %s)%s", s, strings.Join(names, ", "), suggest.DidYouMean(s, names))
}

// dirFormats lists the formats that open a directory path themselves.
func dirFormats() []FormatInfo {
	var fs []FormatInfo
	for _, f := range allFormats() {
		if f.ReadsDirectories() {
			fs = append(fs, f)
		}
	}
	return fs
}

// detect names the format of decompressed content.
func detect(name string, br *bufio.Reader) (FormatInfo, error) {
	head, err := br.Peek(peekSize)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return FormatInfo{}, fmt.Errorf("%s: %w", name, readErr(err))
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return FormatInfo{}, fmt.Errorf("%s: empty input", name)
	}
	fs := allFormats()
	if isTar(head) {
		for _, f := range fs {
			if f.Archives {
				return f, nil
			}
		}
	}
	line := head
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")))
	if len(line) > 0 {
		for _, f := range fs {
			if f.Sniff != nil && f.Sniff(head, line) {
				return f, nil
			}
		}
	}
	what := "first line " + quoteHead(line, quoteMax)
	if off := binaryAt(head); off >= 0 {
		what = fmt.Sprintf("not text at byte %d: %s", off, quoteHead(head[off:], 16))
	}
	return FormatInfo{}, fmt.Errorf("%s: unknown format (%s); use --format with one of %v", name, what, Formats())
}

// quoteMax is how many bytes of a file an error message quotes.
const quoteMax = 40

// quoteHead quotes at most n bytes of b, cut on a rune boundary and
// followed by "…" when cut, so that a message about a binary or
// one-line file stays one short line.
func quoteHead(b []byte, n int) string {
	if len(b) <= n {
		return strconv.Quote(string(b))
	}
	cut := n
	for cut > 0 && cut > n-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
		cut--
	}
	if cut == 0 || !utf8.RuneStart(b[cut]) {
		cut = n
	}
	return strconv.Quote(string(b[:cut])) + "…"
}

// binaryAt returns the offset of the first byte in b that no text trace
// holds (a control character other than tab, CR and LF, or invalid
// UTF-8), or -1. A sample cut mid-rune at its end is still text.
func binaryAt(b []byte) int {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(b[i:]) {
				return -1
			}
			return i
		}
		i += size
	}
	return -1
}

// hasKey says whether a JSON line has the key k (as "k").
func hasKey(line []byte, k string) bool { return bytes.Contains(line, []byte(`"`+k+`"`)) }

func sniffNative(_, line []byte) bool {
	return line[0] == '{' && hasKey(line, "format") && hasKey(line, nativeFormatName)
}

func sniffKVTester(head, line []byte) bool {
	return line[0] == '{' && (hasKey(line, "hash_id_scope") || hasKey(line, "requests")) ||
		// A pretty-printed kv-cache-tester file: "{" alone on the first line.
		string(line) == "{" && hasKey(head, "requests")
}

func sniffBailian(_, line []byte) bool {
	return line[0] == '{' && hasKey(line, "hash_ids") && (hasKey(line, "chat_id") || hasKey(line, "parent_chat_id"))
}

func sniffMooncake(_, line []byte) bool {
	return line[0] == '{' && hasKey(line, "hash_ids") && hasKey(line, "timestamp")
}

func sniffAzure(_, line []byte) bool {
	return bytes.HasPrefix(bytes.ToUpper(line), []byte("TIMESTAMP,"))
}

func isTar(b []byte) bool {
	return len(b) >= 262 && bytes.Equal(b[257:262], []byte("ustar"))
}

// blockSizeAlways records the block size (Azure: it decides the fresh ids).
func blockSizeAlways(_ ReadOptions, bs int) []string {
	return []string{"block_size=" + strconv.Itoa(bs)}
}

// blockSizeIfSet records a block size that overrides the format's default.
func blockSizeIfSet(o ReadOptions, bs int) []string {
	if o.BlockSize == 0 {
		return nil
	}
	return blockSizeAlways(o, bs)
}

func kvTesterOptions(o ReadOptions, _ int) []string {
	ss := o.SessionStart
	if ss == "" {
		ss = "zero"
	}
	parts := []string{"session_start=" + ss}
	if ss != "zero" {
		parts = append(parts, "seed="+strconv.FormatUint(o.Seed, 10))
	}
	return parts
}
