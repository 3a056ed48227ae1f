package trace

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"
)

// Every reader is fuzzed the same way: parse; if that succeeds, write
// native, parse again, and require the same requests (original ids
// compared). Inputs must never panic. Seed corpora live in
// testdata/fuzz/FuzzX/ and are added here from the test slices too.

func fuzzRoundTrip(t *testing.T, format Format, data []byte) {
	for _, skip := range []bool{false, true} {
		tr, err := LoadBytes("fuzz", data, ReadOptions{Format: format, SkipBad: skip})
		if err != nil || len(tr.Requests) == 0 {
			continue // (all records skipped: nothing to round-trip)
		}
		nat := toNative(t, tr)
		back, err := LoadBytes("native", nat, ReadOptions{})
		if err != nil {
			t.Fatalf("native re-read failed: %v\nnative:\n%s", err, nat)
		}
		if d := diffFlat(flatten(tr), flatten(back)); d != "" {
			t.Fatalf("round trip differs: %s", d)
		}
		if back.Blocks.Len() != tr.Blocks.Len() {
			t.Fatalf("unique blocks %d, after round trip %d", tr.Blocks.Len(), back.Blocks.Len())
		}
	}
	// Statistics never fail where loading succeeded, and StatsOf over the
	// loaded trace gives what the streaming pass gives.
	if tr, err := LoadBytes("fuzz", data, ReadOptions{Format: format}); err == nil {
		st, err := statsOf(t, "fuzz", string(data), ReadOptions{Format: format})
		if err != nil {
			t.Fatalf("stats failed on a loadable trace: %v", err)
		}
		if got := StatsOf(tr); !reflect.DeepEqual(got, st) {
			t.Fatalf("StatsOf %+v, streaming stats %+v", got, st)
		}
	}
}

func addFile(f *testing.F, path string, max int) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	if max > 0 && len(b) > max {
		b = b[:max]
	}
	f.Add(b)
}

func FuzzMooncake(f *testing.F) {
	addFile(f, "testdata/mooncake_300.jsonl", 4000)
	f.Add([]byte(mcHead + `{"timestamp": 1.5, "input_length": 1024, "output_length": 5, "hash_ids": [1, 3]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, FormatMooncake, data) })
}

func FuzzBailian(f *testing.F) {
	f.Add([]byte(`{"chat_id": 10, "parent_chat_id": -1, "timestamp": 0.5, "input_length": 40, "output_length": 7, "type": "text", "turn": 1, "hash_ids": [1, 2, 3]}
{"chat_id": 12, "parent_chat_id": 10, "timestamp": 2.000001, "input_length": 70, "output_length": 5, "type": "text", "turn": 2, "hash_ids": [1, 2, 4, 5, 6]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, FormatBailian, data) })
}

func FuzzAzure(f *testing.F) {
	addFile(f, "testdata/azure_code_300.csv", 2000)
	f.Add([]byte("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,17,1\n2023-11-16 18:17:03.98,0,0\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, FormatAzure, data) })
}

func FuzzKVTester(f *testing.F) {
	addFile(f, "testdata/kvtester/trace_0187.json", 0)
	f.Add([]byte(`{"block_size":4,"hash_id_scope":"local","requests":[{"t":0,"type":"n","in":9,"out":1,"hash_ids":[1,2]},{"t":1.5,"type":"subagent","agent_id":"a","requests":[{"t":0.25,"type":"s","in":4,"out":1,"hash_ids":[7],"think_time":2}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, FormatKVTester, data) })
}

func FuzzNative(f *testing.F) {
	f.Add([]byte(`{"format":"kvscope-trace","version":1,"block_size":4}
{"arrival_s":0,"input":10,"output":1,"blocks":[1,2,3],"last_block_tokens":2,"session":0,"id":4,"parent":2,"think_s":1.5,"turn":2,"type":"t","tags":["a","b\u00e9"]}
{"arrival_s":0.000000001,"input":8,"output":2,"blocks":[1,2]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, FormatNative, data) })
}

// FuzzDetect: any bytes, format detected; never a panic.
func FuzzDetect(f *testing.F) {
	addFile(f, "testdata/kvtester_3.tar.xz", 0)
	addFile(f, "testdata/mooncake_300.jsonl", 1000)
	f.Add([]byte("TIMESTAMP,ContextTokens,GeneratedTokens\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, "", data) })
}

// FuzzIDsFastPath checks scanner.ids, whose fast path takes arrays of plain
// digits in one loop, against its general loop alone (idsElements): the
// same ids, the same error and the same position after, on any input.
func FuzzIDsFastPath(f *testing.F) {
	for _, s := range []string{
		"[0, 1, 2, 3]", "[]", "[ ]", "[1,2]", "[1 ,2]", "[1,\t2]", "[1,]", "[,1]",
		"[18446744073709551615, 1]", "[18446744073709551616]", "[1234567890123456789]",
		"[-1]", "[1.5]", "[1e3]", "[01, 2]", "[1, 2", "[1, 2]]", "null", " [3]", "[3] ",
		"[1,  2]", "[1,\n2]", `["1"]`, "[9999999999999999999]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast := scanner{b: b}
		got, gerr := fast.ids("hash_ids", []uint64{7})
		slow := scanner{b: b}
		var want []uint64
		var werr error
		if slow.isNull() {
			want = []uint64{7}
		} else {
			want, werr = slow.idsElements("hash_ids", []uint64{7})
		}
		if !slices.Equal(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) || fast.pos != slow.pos {
			t.Fatalf("%q: fast %v, %v at %d; general %v, %v at %d", b, got, gerr, fast.pos, want, werr, slow.pos)
		}
	})
}
