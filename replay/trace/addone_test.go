package trace_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// The promise of DESIGN, "adding a trace format is one file plus one table
// line", checked from outside the package: a format defined in this test
// file only, with nothing but the exported API, is listed, named in the
// errors that list formats, detected from its content (compressed too), read
// through Open, Load and LoadBytes with file, line and field in its errors,
// and named with its reader options in the statistics.

// tinyFormat: a first line "#tiny", then "ARRIVAL_S INPUT OUTPUT IDS" with
// IDS comma-separated block ids ("-" for none); ReadOptions.BlockSize
// tokens a block (default 4), the last block weighing what is left.
var tinyFormat = trace.FormatInfo{
	Name:  "tiny",
	Doc:   "a test format: ARRIVAL_S INPUT OUTPUT IDS lines after #tiny",
	Sniff: func(_, line []byte) bool { return bytes.Equal(line, []byte("#tiny")) },
	Options: func(o trace.ReadOptions, bs int) []string {
		return []string{"tiny_block_size=" + strconv.Itoa(bs)}
	},
	Open: trace.ReadRecords(func(name string, r *bufio.Reader, opt trace.ReadOptions) (trace.Records, error) {
		bs := opt.BlockSize
		if bs == 0 {
			bs = 4
		}
		return &tinyRecords{name: name, sc: bufio.NewScanner(r), bs: bs}, nil
	}),
}

type tinyRecords struct {
	name string
	sc   *bufio.Scanner
	line int
	bs   int
}

func (t *tinyRecords) BlockSize() int { return t.bs }

func (t *tinyRecords) Next(r *trace.Request, ids []uint64) ([]uint64, error) {
	for t.sc.Scan() {
		t.line++
		text := strings.TrimSpace(t.sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		r.Source = t.name + ":" + strconv.Itoa(t.line)
		bad := func(field, format string, args ...any) ([]uint64, error) {
			return ids, trace.BadRecord(r.Source, &trace.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
		}
		f := strings.Fields(text)
		if len(f) != 4 {
			return bad("line", "%d fields, want 4", len(f))
		}
		sec, err := strconv.ParseFloat(f[0], 64)
		if err != nil || sec < 0 || sec > 1e6 {
			return bad("arrival_s", "not a time in seconds (%q)", f[0])
		}
		if r.Input, err = strconv.Atoi(f[1]); err != nil {
			return bad("input", "not an integer (%q)", f[1])
		}
		if r.Output, err = strconv.Atoi(f[2]); err != nil {
			return bad("output", "not an integer (%q)", f[2])
		}
		r.Arrival = time.Duration(sec * 1e9)
		if f[3] != "-" {
			for _, s := range strings.Split(f[3], ",") {
				id, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					return bad("ids", "not an id (%q)", s)
				}
				ids = append(ids, id)
			}
			r.LastBlockTokens = r.Input - (len(ids)-1)*t.bs
		}
		return ids, nil
	}
	if err := t.sc.Err(); err != nil {
		return ids, err
	}
	return ids, io.EOF
}

const tinyTrace = "#tiny\n0.5 10 2 1,2,3\n1.25 8 3 1,2\n2 6 1 7,8\n"

// registerTiny adds the tiny format for the test's duration.
func registerTiny(t *testing.T) {
	t.Helper()
	undo, err := trace.RegisterFormat(tinyFormat)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(undo)
}

func TestAddOneFormat(t *testing.T) {
	registerTiny(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(path, []byte(tinyTrace), 0o644); err != nil {
		t.Fatal(err)
	}

	// Listed, and valid for ReadOptions.Format.
	if !slices.Contains(trace.Formats(), "tiny") {
		t.Errorf("Formats() = %v, want tiny among them", trace.Formats())
	}
	if f, err := trace.ParseFormat("tiny"); err != nil || f != "tiny" {
		t.Errorf("ParseFormat(tiny) = %q, %v", f, err)
	}
	if info, ok := trace.LookupFormat("tiny"); !ok || info.Doc != tinyFormat.Doc {
		t.Errorf("LookupFormat(tiny) = %+v, %v", info, ok)
	}
	// Named in the errors that list the formats.
	_, err := trace.ParseFormat("parquet")
	wantErr(t, err, `unknown format "parquet" (known: azure, bailian, kvtester, mooncake, native, tiny)`)
	_, err = trace.LoadBytes("u", []byte("hello\n"), trace.ReadOptions{})
	wantErr(t, err, `u: unknown format (first line "hello"); use --format with one of [azure bailian kvtester mooncake native tiny]`)
	// A directory is still only kvtester's.
	_, err = trace.Load(dir, trace.ReadOptions{Format: "tiny"})
	wantErr(t, err, dir+": a directory can only be read as kvtester")

	// Detected and read through Load, with its reader options recorded.
	tr, err := trace.Load(path, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Info.Format != "tiny" || tr.Info.BlockSize != 4 || tr.Info.Options != "tiny_block_size=4" || len(tr.Requests) != 3 {
		t.Fatalf("info %+v, %d requests", tr.Info, len(tr.Requests))
	}
	r := tr.Requests[1]
	if r.Arrival != 1250*time.Millisecond || r.Input != 8 || r.Output != 3 || len(r.Blocks) != 2 ||
		r.Blocks[0] != tr.Requests[0].Blocks[0] || tr.Blocks.Orig(r.Blocks[1]) != 2 || r.Source != path+":3" || r.ID != 1 {
		t.Fatalf("request 1: %+v", r)
	}

	// Detected under compression too, and forced; LoadBytes and OpenReader.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(tinyTrace))
	zw.Close()
	for _, opt := range []trace.ReadOptions{{}, {Format: "tiny"}} {
		back, err := trace.LoadBytes("t.gz", gz.Bytes(), opt)
		if err != nil {
			t.Fatal(err)
		}
		if back.Info.Format != "tiny" || len(back.Requests) != 3 || back.Requests[2].Input != 6 {
			t.Fatalf("gzip, %+v: info %+v, %d requests", opt, back.Info, len(back.Requests))
		}
	}

	// Bad records name file, line and field; SkipBad counts them.
	bad := "#tiny\n0.5 10 2 1,2,3\nsoon 8 3 1,2\n2 6 1 7,8\n"
	_, err = trace.LoadBytes("b", []byte(bad), trace.ReadOptions{})
	wantErr(t, err, `b:3: arrival_s: not a time in seconds ("soon")`)
	// The shared checks apply: out-of-order arrivals, block weights.
	_, err = trace.LoadBytes("o", []byte("#tiny\n2 4 1 -\n1 4 1 -\n"), trace.ReadOptions{})
	wantErr(t, err, "o:3: timestamp: arrival 1s is before the previous request's 2s (o:2); use --sort to reorder")
	_, err = trace.LoadBytes("w", []byte("#tiny\n1 3 1 1,2\n"), trace.ReadOptions{})
	wantErr(t, err, "w:2: hash_ids: last block weight -1 outside 1..4")
	s, err := trace.OpenReader("b", strings.NewReader(bad), trace.ReadOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := trace.ComputeStats(s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 2 || st.SkippedLines != 1 || st.Info.Skipped.Reasons["arrival_s: not a time in seconds (\"soon\")"] != 1 {
		t.Fatalf("skip: %d requests, %d skipped, %v", st.Requests, st.SkippedLines, st.Info.Skipped.Reasons)
	}

	// Named in the statistics (text and JSON) with its reader options.
	s, err = trace.Open(path, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, err = trace.ComputeStats(s); err != nil {
		t.Fatal(err)
	}
	text := st.String()
	for _, want := range []string{"format                       tiny\n", "reader options               tiny_block_size=4\n",
		"requests                     3\n", "unique blocks                5\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("stats lack %q:\n%s", want, text)
		}
	}
	js, _ := json.Marshal(st)
	if !bytes.Contains(js, []byte(`"format":"tiny","block_size":4,"options":"tiny_block_size=4"`)) {
		t.Errorf("stats JSON: %s", js)
	}
}

// Unregistering removes the format from every place again; names already
// taken, unusable names and a format without a reader are refused.
func TestRegisterFormatRules(t *testing.T) {
	undo, err := trace.RegisterFormat(tinyFormat)
	if err != nil {
		t.Fatal(err)
	}
	_, err = trace.RegisterFormat(tinyFormat)
	wantErr(t, err, `register format "tiny": already registered`)
	undo()
	undo() // idempotent
	if slices.Contains(trace.Formats(), "tiny") {
		t.Errorf("Formats() after unregister = %v", trace.Formats())
	}
	_, err = trace.LoadBytes("t", []byte(tinyTrace), trace.ReadOptions{})
	wantErr(t, err, `t: unknown format (first line "#tiny"); use --format with one of [azure bailian kvtester mooncake native]`)

	for _, c := range []struct {
		f    trace.FormatInfo
		want string
	}{
		{trace.FormatInfo{Name: "native", Open: tinyFormat.Open}, `register format "native": already registered`},
		{trace.FormatInfo{Name: "", Open: tinyFormat.Open}, `register format "": not a usable name`},
		{trace.FormatInfo{Name: "auto", Open: tinyFormat.Open}, `register format "auto": not a usable name`},
		{trace.FormatInfo{Name: "a,b", Open: tinyFormat.Open}, `register format "a,b": not a usable name`},
		{trace.FormatInfo{Name: "noreader"}, `register format "noreader": no Open (use ReadRecords)`},
	} {
		_, err := trace.RegisterFormat(c.f)
		wantErr(t, err, c.want)
	}

	// Every built-in format describes itself.
	for _, f := range trace.FormatInfos() {
		if f.Doc == "" || f.Sniff == nil {
			t.Errorf("%s: no Doc or Sniff", f.Name)
		}
	}
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if err != nil && errors.Is(err, io.EOF) {
		t.Errorf("error %v wraps io.EOF", err)
	}
}
