package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// A trace format added in this test file only (trace.RegisterFormat) shows
// in the command line everywhere the built-in ones do: help, the --format
// flag and its error, detection, `trace stats` (text and JSON), conversion
// and the report of a run.

// pairsFormat: a first line "#pairs", then "INPUT OUTPUT" lines, one second
// apart, without block ids.
var pairsFormat = trace.FormatInfo{
	Name:  "pairs",
	Doc:   "a test format: INPUT OUTPUT lines after #pairs",
	Sniff: func(_, line []byte) bool { return string(line) == "#pairs" },
	Open: trace.ReadRecords(func(name string, r *bufio.Reader, _ trace.ReadOptions) (trace.Records, error) {
		return &pairsRecords{name: name, sc: bufio.NewScanner(r)}, nil
	}),
	// The files record no block size; the reader assumes 8.
	BlockSize: 8,
	NewWriter: func(w io.Writer, _ int, _ string) (trace.Writer, error) {
		bw := bufio.NewWriter(w)
		_, err := bw.WriteString("#pairs\n")
		return pairsWriter{bw}, err
	},
}

// pairsWriter writes INPUT OUTPUT lines (block ids are not kept).
type pairsWriter struct{ w *bufio.Writer }

func (p pairsWriter) Write(r *trace.Request, _ trace.IDNames) error {
	_, err := fmt.Fprintf(p.w, "%d %d\n", r.Input, r.Output)
	return err
}

func (p pairsWriter) Flush() error { return p.w.Flush() }

type pairsRecords struct {
	name    string
	sc      *bufio.Scanner
	line, n int
}

func (p *pairsRecords) BlockSize() int { return 8 }

func (p *pairsRecords) Next(r *trace.Request, ids []uint64) ([]uint64, error) {
	for p.sc.Scan() {
		p.line++
		f := strings.Fields(p.sc.Text())
		if len(f) == 0 || f[0] == "#pairs" {
			continue
		}
		r.Source = p.name + ":" + strconv.Itoa(p.line)
		var err error
		if len(f) != 2 {
			return ids, trace.BadRecord(r.Source, &trace.FieldError{Field: "line", Reason: "want INPUT OUTPUT"})
		}
		if r.Input, err = strconv.Atoi(f[0]); err != nil {
			return ids, trace.BadRecord(r.Source, &trace.FieldError{Field: "input", Reason: "not an integer"})
		}
		if r.Output, err = strconv.Atoi(f[1]); err != nil {
			return ids, trace.BadRecord(r.Source, &trace.FieldError{Field: "output", Reason: "not an integer"})
		}
		r.Arrival = time.Duration(p.n) * time.Second
		p.n++
		return ids, nil
	}
	if err := p.sc.Err(); err != nil {
		return ids, err
	}
	return ids, io.EOF
}

func TestAddOneFormatCLI(t *testing.T) {
	undo, err := trace.RegisterFormat(pairsFormat)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(undo)
	dir := t.TempDir()
	in := filepath.Join(dir, "p.txt")
	if err := os.WriteFile(in, []byte("#pairs\n100 5\n40 2\n7 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kv := func(code int, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if got := run(args, strings.NewReader(""), &out, &errb); got != code {
			t.Fatalf("kvscope %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	has := func(what, text string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, text)
			}
		}
	}

	out, _ := kv(0, "trace", "--help")
	has("trace --help", out, "formats: azure, bailian, kvtester, mooncake, native, pairs;",
		"\n  pairs     a test format: INPUT OUTPUT lines after #pairs\n")
	for _, sub := range []string{"stats", "convert", "head"} {
		out, _ = kv(0, "trace", sub, "--help")
		has("trace "+sub+" --help", out, "or one of azure, bailian, kvtester, mooncake, native, pairs")
	}
	out, _ = kv(0, "run", "--help")
	has("run --help", out, "or one of azure, bailian, kvtester, mooncake, native, pairs")

	_, errs := kv(2, "trace", "stats", "--format", "parquet", in)
	has("--format parquet", errs, `unknown format "parquet" (known: azure, bailian, kvtester, mooncake, native, pairs)`)
	unknown := filepath.Join(dir, "u.txt")
	os.WriteFile(unknown, []byte("hello\n"), 0o644)
	_, errs = kv(1, "trace", "stats", unknown)
	has("unknown content", errs, "use --format with one of [azure bailian kvtester mooncake native pairs]")

	// Detected, read, and named in the statistics.
	out, _ = kv(0, "trace", "stats", in)
	has("trace stats", out, "format                       pairs\n", "requests                     3\n", "input tokens                 147 ")
	out, _ = kv(0, "trace", "stats", "--format", "pairs", "--json", in)
	has("trace stats --json", out, `"format": "pairs",`, `"block_size": 8,`)
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("#pairs\n100 5\n40 x\n"), 0o644)
	_, errs = kv(1, "trace", "stats", bad)
	has("bad record", errs, bad+":3: output: not an integer")

	// Converted to native, and replayed: the report names the format.
	nat := filepath.Join(dir, "p.jsonl")
	kv(0, "trace", "convert", in, "--to", "native", "-o", nat)
	out, _ = kv(0, "trace", "stats", nat)
	has("native copy", out, "format                       native\n", "requests                     3\n")
	out, _ = kv(0, "run", in, "-s", "round_robin+lru", "--workers", "1", "--cache-blocks", "64")
	has("run", out, "("+"pairs, block size 8)")
	out, _ = kv(0, "run", in, "-s", "round_robin+lru", "--workers", "1", "--cache-blocks", "64", "--json")
	has("run --json", out, `"format": "pairs"`)

	// Written: convert and gen take it as an output format, and convert
	// says how to read back a size other than the one its readers assume.
	out, _ = kv(0, "trace", "convert", "--help")
	has("trace convert --help", out, "convert FILE --to native|mooncake|pairs -o OUT", "output format: native, mooncake or pairs")
	out, _ = kv(0, "gen", "gsp", "--help")
	has("gen gsp --help", out, "output format: native, mooncake or pairs")
	_, errs = kv(2, "trace", "convert", in, "--to", "csv", "-o", filepath.Join(dir, "x"))
	has("--to csv", errs, `--to "csv": want native, mooncake or pairs`)
	_, errs = kv(2, "gen", "gsp", "--format", "csv")
	has("gen --format csv", errs, `unknown format "csv" (choose native, mooncake, pairs)`)
	back := filepath.Join(dir, "back.txt")
	_, errs = kv(0, "trace", "convert", nat, "--to", "pairs", "-o", back)
	has("convert to pairs", errs, "wrote "+back+" (", "3 requests, pairs)")
	if strings.Contains(errs, "note:") {
		t.Errorf("convert to pairs at its own block size: unexpected note\n%s", errs)
	}
	if b, _ := os.ReadFile(back); string(b) != "#pairs\n100 5\n40 2\n7 1\n" {
		t.Errorf("convert to pairs wrote %q", b)
	}
	_, errs = kv(0, "trace", "convert", nat, "--to", "pairs", "--block-size", "4", "-o", back)
	has("convert to pairs at 4", errs, "note: pairs files do not record their block size (readers assume 8): read "+back+" back with --block-size 4")
	out, _ = kv(0, "__complete", "trace", "convert", in, "--to", "")
	has("convert --to completion", out, "\npairs\ta test format")
	out, _ = kv(0, "__complete", "gen", "gsp", "--format", "p")
	has("gen --format completion", out, "pairs\ta test format")
	genOut := filepath.Join(dir, "gen.txt")
	kv(0, "gen", "gsp", "--format", "pairs", "-o", genOut)
	out, _ = kv(0, "trace", "stats", genOut)
	has("gen --format pairs", out, "format                       pairs\n")
}
