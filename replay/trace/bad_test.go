package trace

import (
	"archive/tar"
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

const mcHead = `{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}` + "\n"

// TestBadInput: every bad input is a clear error (never a panic) naming the
// place; with SkipBad, record-level problems are skipped and counted.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name, data string
		opt        ReadOptions
		want       string // error text (exact unless prefix is set)
		contains   bool
		skippable  bool // with SkipBad: one skipped record, the rest read
	}{
		{name: "empty", data: "", want: "t: empty input"},
		{name: "blank", data: "\n\n  \n", want: "t: empty input"},
		{name: "unknown format", data: "hello world\n", want: `t: unknown format (first line "hello world"); use --format with one of [azure bailian kvtester mooncake native]`},
		{name: "long first line", data: strings.Repeat("abcdefghij", 30) + "\n", want: `t: unknown format (first line "abcdefghijabcdefghijabcdefghijabcdefghij"…); use --format with one of [azure bailian kvtester mooncake native]`},
		{name: "binary", data: "ab\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10" + strings.Repeat("\xff", 300),
			want: `t: unknown format (not text at byte 2: "\x00\x01\x02\x03\x04\x05\x06\a\b\t\n\v\f\r\x0e\x0f"…); use --format with one of [azure bailian kvtester mooncake native]`},
		{name: "cut mid-rune", data: "a" + strings.Repeat("é", 30) + "\n", want: `t: unknown format (first line "a` + strings.Repeat("é", 19) + `"…); use --format with one of [azure bailian kvtester mooncake native]`},
		{name: "forced wrong format", data: mcHead, opt: ReadOptions{Format: FormatAzure}, want: "t:1: csv: 5 fields, want 3 (TIMESTAMP,ContextTokens,GeneratedTokens)", skippable: true},
		{name: "bad format name", data: mcHead, opt: ReadOptions{Format: "csv"}, want: `unknown format "csv" (known: azure, bailian, kvtester, mooncake, native)`},
		{name: "negative input", data: mcHead + `{"timestamp": 1, "input_length": -5, "output_length": 5, "hash_ids": []}` + "\n",
			want: "t:2: input_length: negative (-5)", skippable: true},
		{name: "negative output", data: mcHead + `{"timestamp": 1, "input_length": 5, "output_length": -1, "hash_ids": [7]}` + "\n",
			want: "t:2: output_length: negative (-1)", skippable: true},
		{name: "negative timestamp", data: mcHead + `{"timestamp": -1, "input_length": 5, "output_length": 1, "hash_ids": [7]}` + "\n",
			want: "t:2: timestamp: negative (-1)", skippable: true},
		{name: "too many ids", data: mcHead + `{"timestamp": 1, "input_length": 512, "output_length": 5, "hash_ids": [1, 9]}` + "\n",
			want: "t:2: hash_ids: 2 ids but input_length 512 allows at most ceil(512/512) = 1 (blocks of 256 tokens? the file does not record its block size: read it with --block-size 256)", skippable: true},
		{name: "too few ids", data: mcHead + `{"timestamp": 1, "input_length": 1025, "output_length": 5, "hash_ids": [1, 2]}` + "\n",
			want: "t:2: hash_ids: 2 ids but input_length 1025 needs ceil(1025/512) = 3", skippable: true},
		{name: "two parents", data: mcHead + `{"timestamp": 1, "input_length": 1024, "output_length": 5, "hash_ids": [3, 2]}` + "\n",
			want: "t:2: hash_ids[1]: id 2 already has parent 1", skippable: true},
		{name: "root then child", data: mcHead + `{"timestamp": 1, "input_length": 1024, "output_length": 5, "hash_ids": [2, 1]}` + "\n",
			want: "t:2: hash_ids[0]: id 2 already has parent 1", skippable: true},
		{name: "out of order", data: `{"timestamp": 9, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}` + "\n" + `{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": [7]}` + "\n",
			want: "t:2: timestamp: arrival 0.001s is before the previous request's 0.009s (t:1); use --sort to reorder", skippable: true},
		{name: "malformed json", data: mcHead + `{"timestamp": 1, "input_length": 5` + "\n",
			want: "t:2: json: malformed JSON: unexpected end, want ',' or '}'", skippable: true},
		{name: "not an integer", data: mcHead + `{"timestamp": 1, "input_length": 5.5, "output_length": 1, "hash_ids": [7]}` + "\n",
			want: "t:2: input_length: 5.5 is not an integer", skippable: true},
		{name: "bad id", data: mcHead + `{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": ["x"]}` + "\n",
			want: "t:2: hash_ids[0]: malformed JSON at byte 70: want a number, got '\"'", skippable: true},
		{name: "negative id", data: mcHead + `{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": [-3]}` + "\n",
			want: "t:2: hash_ids[0]: negative (-3)", skippable: true},
		{name: "missing field", data: mcHead + `{"timestamp": 1, "input_length": 5, "hash_ids": [7]}` + "\n",
			want: "t:2: output_length: missing", skippable: true},
		{name: "trailing garbage", data: mcHead + `{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": [7]} x` + "\n",
			want: "t:2: json: malformed JSON at byte 74: want end of record, got 'x'", skippable: true},
		{name: "azure bad time", data: "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,10,1\nyesterday,10,1\n",
			want: `t:3: TIMESTAMP: not a time like 2023-11-16 18:17:03.9799600 ("yesterday")`, skippable: true},
		{name: "azure too large", data: "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,10,1\n2023-11-16 18:17:04,16777217,1\n",
			want: `t:3: ContextTokens: too large (16777217; at most 16777216)`, skippable: true},
		{name: "azure negative", data: "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,10,1\n2023-11-16 18:17:04,-10,1\n",
			want: `t:3: ContextTokens: negative (-10)`, skippable: true},
		{name: "azure out of order", data: "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,10,1\n2023-11-16 18:17:02,10,1\n",
			want: `t:3: TIMESTAMP: 2023-11-16 18:17:02 is before the first row's 2023-11-16 18:17:03.97 (arrivals are kept as deltas from the first row)`, skippable: true},
		{name: "native bad version", data: `{"format":"kvscope-trace","version":7,"block_size":16}` + "\n",
			want: "t:1: version: 7 not supported (this kvscope reads version 1)"},
		{name: "native no block size", data: `{"format":"kvscope-trace","version":1}` + "\n",
			want: "t:1: block_size: missing in the header line"},
		{name: "native too many blocks", data: `{"format":"kvscope-trace","version":1,"block_size":16}` + "\n" + `{"arrival_s":0,"input":20,"output":1,"blocks":[1]}` + "\n" + `{"arrival_s":0,"input":20,"output":1,"blocks":[1,2,3]}` + "\n",
			want: "t:3: blocks: 3 blocks cover 48 tokens, more than input 20", skippable: true},
		{name: "native bad last", data: `{"format":"kvscope-trace","version":1,"block_size":16}` + "\n" + `{"arrival_s":0,"input":20,"output":1,"blocks":[1]}` + "\n" + `{"arrival_s":0,"input":20,"output":1,"blocks":[1,2],"last_block_tokens":17}` + "\n",
			want: "t:3: last_block_tokens: 17 outside 1..16", skippable: true},
		{name: "native header only", data: `{"format":"kvscope-trace","version":1,"block_size":16}` + "\n", want: "t: no requests"},
		{name: "kvtester floor", data: `{"block_size":64,"hash_id_scope":"local","requests":[{"t":0,"type":"n","in":128,"out":1,"hash_ids":[1,2]},{"t":1,"type":"n","in":100,"out":1,"hash_ids":[1,2]}]}`,
			want: "t:requests[1]: hash_ids: 2 ids but in 100 allows at most floor(100/64) = 1", skippable: true},
		{name: "kvtester two parents", data: `{"block_size":64,"hash_id_scope":"local","requests":[{"t":0,"type":"n","in":128,"out":1,"hash_ids":[1,2]},{"t":1,"type":"n","in":128,"out":1,"hash_ids":[3,2]}]}`,
			want: "t:requests[1]: hash_ids[1]: id 2 already has parent 1", skippable: true},
		{name: "kvtester negative in", data: `{"block_size":64,"requests":[{"t":0,"type":"n","in":128,"out":1,"hash_ids":[1,2]},{"t":1,"type":"n","in":-1,"out":1,"hash_ids":[]}]}`,
			want: "t:requests[1]: in: negative (-1)", skippable: true},
		{name: "kvtester no block size", data: `{"requests":[]}`, want: "t: block_size: missing", skippable: true},
		{name: "kvtester broken json", data: `{"block_size":64,"requests":[{"t":0,`, want: "t: json: malformed JSON: unexpected end, want a string", skippable: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadString(t, "t", c.data, c.opt)
			if err == nil {
				t.Fatalf("no error")
			}
			if err.Error() != c.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, c.want)
			}
			opt := c.opt
			opt.SkipBad = true
			tr, err := loadString(t, "t", c.data, opt)
			if !c.skippable {
				if err == nil {
					t.Fatalf("skip-bad accepted it")
				}
				return
			}
			if err != nil {
				t.Fatalf("skip-bad: %v", err)
			}
			sk := tr.Info.Skipped
			if sk.Count != 1 || len(sk.First) != 1 || sk.First[0] != c.want || len(sk.Reasons) != 1 {
				t.Fatalf("skipped %+v", sk)
			}
			if !strings.Contains(tr.Info.Options, "skip_bad=true") {
				t.Fatalf("options %q", tr.Info.Options)
			}
		})
	}
}

func TestSkippedLeavesNoBlocks(t *testing.T) {
	data := mcHead + `{"timestamp": 1, "input_length": 1536, "output_length": 5, "hash_ids": [8, 9, 2]}` + "\n"
	tr, err := loadString(t, "t", data, ReadOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Blocks.Len() != 2 || tr.Info.Skipped.Count != 1 {
		t.Fatalf("table has %d blocks after a skipped conflict, skipped %d", tr.Blocks.Len(), tr.Info.Skipped.Count)
	}
}

func TestTruncatedArchive(t *testing.T) {
	b, err := os.ReadFile("testdata/kvtester_3.tar.xz")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(b) - 10, len(b) / 2, 40} {
		_, err := LoadBytes("a.tar.xz", b[:n], ReadOptions{SkipBad: true})
		if err == nil || !strings.Contains(err.Error(), "a.tar.xz") {
			t.Fatalf("cut at %d: %v", n, err)
		}
		if !strings.Contains(err.Error(), "truncated") {
			t.Errorf("cut at %d: error does not say truncated: %v", n, err)
		}
	}
	// An uncompressed tar cut in the middle of a member.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	data := []byte(`{"block_size":64,"requests":[{"t":0,"type":"n","in":128,"out":1,"hash_ids":[1,2]}]}`)
	tw.WriteHeader(&tar.Header{Name: "traces/a.json", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	if tr, err := LoadBytes("a.tar", tb.Bytes(), ReadOptions{}); err != nil || len(tr.Requests) != 1 {
		t.Fatalf("whole tar: %v", err)
	}
	_, err = LoadBytes("a.tar", tb.Bytes()[:512+20], ReadOptions{})
	if err == nil || err.Error() != "a.tar[traces/a.json]: truncated archive: truncated input: unexpected EOF" {
		t.Fatalf("cut tar: %v", err)
	}
	var xb bytes.Buffer
	xw, _ := xz.NewWriter(&xb)
	xw.Write(tb.Bytes())
	xw.Close()
	if tr, err := LoadBytes("a.tar.xz", xb.Bytes(), ReadOptions{}); err != nil || len(tr.Requests) != 1 {
		t.Fatalf("tar.xz: %v", err)
	}
}

func TestSkipBadReasons(t *testing.T) {
	data := mcHead +
		`{"timestamp": 1, "input_length": -5, "output_length": 5, "hash_ids": []}` + "\n" +
		`{"timestamp": 2, "input_length": -7, "output_length": 5, "hash_ids": []}` + "\n" +
		`{"timestamp": 3, "input_length": 1024, "output_length": 5, "hash_ids": [3, 2]}` + "\n" +
		`{"timestamp": 4, "input_length": 1024, "output_length": 5, "hash_ids": [1, 2]}` + "\n"
	tr, err := loadString(t, "t", data, ReadOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	sk := tr.Info.Skipped
	if len(tr.Requests) != 2 || sk.Count != 3 || sk.Reasons["input_length: negative N"] != 2 || sk.Reasons["hash_ids: id already has another parent"] != 1 {
		t.Fatalf("requests %d, skipped %+v", len(tr.Requests), sk)
	}
}

// Parent conflicts in a later kv-cache-tester file name the file's own ids,
// not the namespaced ones.
func TestKVTesterConflictLocalIDs(t *testing.T) {
	dir := t.TempDir()
	good := `{"block_size":64,"requests":[{"t":0,"type":"n","in":128,"out":1,"hash_ids":[1,2]}]}`
	bad := `{"block_size":64,"requests":[{"t":0,"type":"n","in":128,"out":1,"hash_ids":[1,2]},{"t":1,"type":"n","in":128,"out":1,"hash_ids":[3,2]}]}`
	os.WriteFile(dir+"/a.json", []byte(good), 0o644)
	os.WriteFile(dir+"/b.json", []byte(bad), 0o644)
	_, err := Load(dir, ReadOptions{})
	if err == nil || !strings.HasSuffix(err.Error(), "b.json:requests[1]: hash_ids[1]: id 2 already has parent 1") {
		t.Fatalf("got %v", err)
	}
}

func TestPrettyKVTesterDetected(t *testing.T) {
	data := "{\n  \"block_size\": 64,\n  \"requests\": [\n    {\"t\": 0, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [5]}\n  ]\n}\n"
	tr, err := loadString(t, "p.json", data, ReadOptions{})
	if err != nil || tr.Info.Format != FormatKVTester || len(tr.Requests) != 1 {
		t.Fatalf("%v %+v", err, tr)
	}
}
