package trace

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func TestMooncakeSlice(t *testing.T) {
	tr := mustLoad(t, "testdata/mooncake_300.jsonl", ReadOptions{})
	if len(tr.Requests) != 300 || tr.Info.Format != FormatMooncake || tr.Info.BlockSize != 512 {
		t.Fatalf("got %d requests, format %s, block size %d", len(tr.Requests), tr.Info.Format, tr.Info.BlockSize)
	}
	r := tr.Requests[0]
	// {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0..13]}
	if r.Arrival != 0 || r.Input != 6758 || r.Output != 500 || len(r.Blocks) != 14 || r.LastBlockTokens != 6758-13*512 {
		t.Fatalf("first request %+v", r)
	}
	if r.ID != 0 || r.Session != -1 || r.Parent != NoParent || r.Source != "testdata/mooncake_300.jsonl:1" {
		t.Fatalf("first request metadata %+v", r)
	}
	// Chains are root-to-leaf paths: each block's parent is the previous one.
	for _, r := range tr.Requests {
		for i, b := range r.Blocks {
			p, ok := tr.Blocks.Parent(b)
			if i == 0 && ok || i > 0 && (!ok || p != r.Blocks[i-1]) {
				t.Fatalf("%s: block %d has parent %d,%v", r.Source, i, p, ok)
			}
		}
		if r.TailTokens(512) != 0 {
			t.Fatalf("%s: mooncake request with tail tokens", r.Source)
		}
	}
	// Arrivals are milliseconds.
	last := tr.Requests[len(tr.Requests)-1]
	if last.Arrival%time.Millisecond != 0 || last.Arrival == 0 {
		t.Fatalf("last arrival %v", last.Arrival)
	}
}

func TestAzureSlice(t *testing.T) {
	tr := mustLoad(t, "testdata/azure_code_300.csv", ReadOptions{})
	if len(tr.Requests) != 300 || tr.Info.Format != FormatAzure || tr.Info.BlockSize != 16 || tr.Info.Options != "block_size=16" {
		t.Fatalf("got %d requests, info %+v", len(tr.Requests), tr.Info)
	}
	// 2023-11-16 18:17:03.9799600,4808,10 then 18:17:04.0319600,3180,8
	r0, r1 := tr.Requests[0], tr.Requests[1]
	if r0.Arrival != 0 || r0.Input != 4808 || r0.Output != 10 || len(r0.Blocks) != 301 || r0.LastBlockTokens != 8 {
		t.Fatalf("first %+v", r0)
	}
	if r1.Arrival != 52*time.Millisecond || r1.Input != 3180 || len(r1.Blocks) != 199 || r1.LastBlockTokens != 12 {
		t.Fatalf("second: arrival %v input %d blocks %d last %d", r1.Arrival, r1.Input, len(r1.Blocks), r1.LastBlockTokens)
	}
	// Fresh ids: no block is shared.
	seen := map[BlockID]bool{}
	for _, r := range tr.Requests {
		for _, b := range r.Blocks {
			if seen[b] {
				t.Fatalf("%s: block %d shared", r.Source, b)
			}
			seen[b] = true
		}
	}
	// A different block size changes the ids and the recorded options.
	tr8 := mustLoad(t, "testdata/azure_code_300.csv", ReadOptions{BlockSize: 8})
	if len(tr8.Requests[0].Blocks) != 601 || tr8.Info.Options != "block_size=8" {
		t.Fatalf("block size 8: %d blocks, options %q", len(tr8.Requests[0].Blocks), tr8.Info.Options)
	}
	// 7 fractional digits are kept exactly.
	tr2, err := loadString(t, "x.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,1,1\n2023-11-16 18:17:03.9799601,1,1\n", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := tr2.Requests[1].Arrival; d != 100*time.Nanosecond {
		t.Fatalf("delta %v, want 100ns", d)
	}
}

func TestKVTesterDirArchiveFile(t *testing.T) {
	dir := mustLoad(t, "testdata/kvtester", ReadOptions{})
	// The archive lists its members out of order: ranks must still follow
	// sorted names, so both read the same trace.
	arc := mustLoad(t, "testdata/kvtester_3.tar.xz", ReadOptions{})
	if d := diffFlat(flatten(dir), flatten(arc)); d != "" {
		t.Fatalf("directory and archive differ: %s", d)
	}
	if dir.Info.Format != FormatKVTester || dir.Info.BlockSize != 64 || dir.Info.Options != "session_start=zero" {
		t.Fatalf("info %+v", dir.Info)
	}
	var top, sub int
	sessions := map[int64]int{}
	for _, r := range dir.Requests {
		sessions[r.Session]++
		if len(r.Tags) > 0 && r.Tags[0] == "subagent" {
			sub++
		} else {
			top++
		}
		if want := r.Input / 64; len(r.Blocks) != want {
			t.Fatalf("%s: %d blocks for in %d", r.Source, len(r.Blocks), r.Input)
		}
		if r.Input > 0 && r.Input >= 64 && r.TailTokens(64) != r.Input%64 {
			t.Fatalf("%s: tail %d", r.Source, r.TailTokens(64))
		}
	}
	// trace_0026, trace_0187 and trace_0291 (22 entries, 2 of them
	// sub-agents holding 12 requests).
	if len(sessions) != 3 || sub != 12 {
		t.Fatalf("sessions %v, sub-agent requests %d, top-level %d", sessions, sub, top)
	}
	// Ids are namespaced by rank: trace_0291 is rank 2.
	for _, r := range dir.Requests {
		for _, b := range r.Blocks {
			if got := dir.Blocks.Orig(b) >> 32; got != uint64(r.Session) {
				t.Fatalf("%s: id %d not in namespace %d", r.Source, dir.Blocks.Orig(b), r.Session)
			}
		}
	}
	// Sub-agent requests arrive at the entry's t plus their own t.
	raw, err := os.ReadFile("testdata/kvtester/trace_0291.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Requests []struct {
			T        float64 `json:"t"`
			Type     string  `json:"type"`
			Requests []struct {
				T  float64 `json:"t"`
				In int     `json:"in"`
			} `json:"requests"`
		} `json:"requests"`
	}
	if err := jsonUnmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var want []time.Duration
	for _, e := range doc.Requests {
		if e.Type == "subagent" {
			for _, q := range e.Requests {
				want = append(want, time.Duration(math.Round((e.T+q.T)*1e9)))
			}
		}
	}
	var got []time.Duration
	for _, r := range dir.Requests {
		if r.Session == 2 && len(r.Tags) > 0 {
			got = append(got, r.Arrival)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("sub-agent arrivals %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sub-agent arrival %d: %v, want %v", i, got[i], want[i])
		}
	}
	// Arrival order overall.
	for i := 1; i < len(dir.Requests); i++ {
		if dir.Requests[i].Arrival < dir.Requests[i-1].Arrival {
			t.Fatalf("request %d out of order", i)
		}
	}
	// A single file reads as rank 0.
	one := mustLoad(t, "testdata/kvtester/trace_0187.json", ReadOptions{})
	if len(one.Requests) != sessions[1] || one.Requests[0].Session != 0 {
		t.Fatalf("single file: %d requests, session %d", len(one.Requests), one.Requests[0].Session)
	}
}

func jsonUnmarshal(b []byte, v any) error { return jsonStd(b, v) }

func TestKVTesterSessionStart(t *testing.T) {
	first := func(tr *Trace) map[int64]time.Duration {
		m := map[int64]time.Duration{}
		for _, r := range tr.Requests {
			if _, ok := m[r.Session]; !ok {
				m[r.Session] = r.Arrival
			}
		}
		return m
	}
	zero := first(mustLoad(t, "testdata/kvtester", ReadOptions{}))
	st := first(mustLoad(t, "testdata/kvtester", ReadOptions{SessionStart: "stagger:s=1000"}))
	for s, a := range zero {
		if st[s]-a != time.Duration(s)*1000*time.Second {
			t.Fatalf("stagger: session %d starts %v, zero-start %v", s, st[s], a)
		}
	}
	p1 := mustLoad(t, "testdata/kvtester", ReadOptions{SessionStart: "poisson:rate=0.01", Seed: 1})
	p1b := mustLoad(t, "testdata/kvtester", ReadOptions{SessionStart: "poisson:rate=0.01", Seed: 1})
	p2 := mustLoad(t, "testdata/kvtester", ReadOptions{SessionStart: "poisson:rate=0.01", Seed: 2})
	if d := diffFlat(flatten(p1), flatten(p1b)); d != "" {
		t.Fatalf("same seed differs: %s", d)
	}
	if diffFlat(flatten(p1), flatten(p2)) == "" {
		t.Fatal("seeds 1 and 2 give the same trace")
	}
	if p1.Info.Options != "session_start=poisson:rate=0.01;seed=1" {
		t.Fatalf("options %q", p1.Info.Options)
	}
	if f := first(p1); f[0] != zero[0] || f[1] <= zero[1] {
		t.Fatalf("poisson: first session must stay at 0 and later ones move: %v vs %v", f, zero)
	}
	for _, bad := range []string{"poisson", "poisson:rate=-1", "stagger:x=1", "uniform:s=1"} {
		if err := ParseSessionStart(bad); err == nil {
			t.Errorf("ParseSessionStart(%q) accepted", bad)
		}
	}
}

// TestBailianSchema: no real Qwen-Bailian sample is available here; this
// file is built by hand from the published schema (Mooncake fields with the
// timestamp in seconds, plus chat_id, parent_chat_id, turn and type;
// 16-token blocks).
func TestBailianSchema(t *testing.T) {
	const data = `{"chat_id": 10, "parent_chat_id": -1, "timestamp": 0.5, "input_length": 40, "output_length": 7, "type": "text", "turn": 1, "hash_ids": [1, 2, 3]}
{"chat_id": 11, "parent_chat_id": -1, "timestamp": 1.25, "input_length": 16, "output_length": 3, "type": "image", "turn": 1, "hash_ids": [9]}
{"chat_id": 12, "parent_chat_id": 10, "timestamp": 2.000001, "input_length": 70, "output_length": 5, "type": "text", "turn": 2, "hash_ids": [1, 2, 4, 5, 6]}
{"chat_id": 13, "parent_chat_id": 12, "timestamp": 3, "input_length": 80, "output_length": 5, "type": "text", "turn": 3, "hash_ids": [1, 2, 4, 5, 7]}
`
	tr, err := loadString(t, "bailian.jsonl", data, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Info.Format != FormatBailian || tr.Info.BlockSize != 16 || len(tr.Requests) != 4 {
		t.Fatalf("info %+v, %d requests", tr.Info, len(tr.Requests))
	}
	r := tr.Requests[2]
	if r.Arrival != 2000001*time.Microsecond || r.ID != 12 || r.Parent != 10 || r.Session != 10 || r.Turn != 2 || r.Type != "text" {
		t.Fatalf("turn 2: %+v", r)
	}
	if r.LastBlockTokens != 70-4*16 {
		t.Fatalf("partial last block weight %d", r.LastBlockTokens)
	}
	if tr.Requests[3].Session != 10 || tr.Requests[1].Session != 11 || tr.Requests[0].Parent != NoParent {
		t.Fatal("sessions follow parent_chat_id to the root")
	}
	// Full blocks only (floor) is accepted too: the tail has no id.
	if tr.Requests[3].TailTokens(16) != 0 || tr.Requests[3].LastBlockTokens != 16 {
		t.Fatalf("floor rule: last %d tail %d", tr.Requests[3].LastBlockTokens, tr.Requests[3].TailTokens(16))
	}
	st, err := statsOf(t, "bailian.jsonl", data, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Hits: request 3 hits 1,2 (2 blocks); request 4 hits 1,2,4,5 (4).
	if st.HitBlocks != 6 || st.Blocks != 14 || st.Sessions != 2 {
		t.Fatalf("stats: hits %d of %d, sessions %d", st.HitBlocks, st.Blocks, st.Sessions)
	}
}

func statsOf(t testing.TB, name, data string, opt ReadOptions) (*Stats, error) {
	t.Helper()
	s, err := OpenReader(name, strings.NewReader(data), opt)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return ComputeStats(s)
}

func TestCompressed(t *testing.T) {
	raw, err := os.ReadFile("testdata/mooncake_300.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var gz, zs, xzb bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(raw)
	gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(raw)
	zw.Close()
	xw, _ := xz.NewWriter(&xzb)
	xw.Write(raw)
	xw.Close()
	// gzip inside xz too: nested compression is undone.
	var nested bytes.Buffer
	xw2, _ := xz.NewWriter(&nested)
	xw2.Write(gz.Bytes())
	xw2.Close()
	want := flatten(mustLoad(t, "testdata/mooncake_300.jsonl", ReadOptions{}))
	for name, b := range map[string][]byte{"gz": gz.Bytes(), "zst": zs.Bytes(), "xz": xzb.Bytes(), "gz.xz": nested.Bytes()} {
		tr, err := LoadBytes("m."+name, b, ReadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := diffFlat(want, flatten(tr)); d != "" {
			t.Fatalf("%s: %s", name, d)
		}
	}
	// A truncated compressed stream is an error, even with --skip-bad.
	for name, b := range map[string][]byte{"gz": gz.Bytes(), "zst": zs.Bytes(), "xz": xzb.Bytes()} {
		_, err := LoadBytes("m."+name, b[:len(b)*2/3], ReadOptions{SkipBad: true})
		if err == nil {
			t.Fatalf("%s: truncated stream accepted", name)
		}
	}
}

// TestNativeRoundTrip: every format read, written native, read back, equal.
func TestNativeRoundTrip(t *testing.T) {
	for _, p := range []string{"testdata/mooncake_300.jsonl", "testdata/azure_code_300.csv", "testdata/kvtester", "testdata/kvtester_3.tar.xz"} {
		tr := mustLoad(t, p, ReadOptions{})
		nat := toNative(t, tr)
		back, err := LoadBytes("native", nat, ReadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if back.Info.Format != FormatNative || back.Info.BlockSize != tr.Info.BlockSize {
			t.Fatalf("%s: info %+v", p, back.Info)
		}
		if d := diffFlat(flatten(tr), flatten(back)); d != "" {
			t.Fatalf("%s: %s", p, d)
		}
		// Deterministic bytes.
		back.Info.Source = tr.Info.Source
		if again := toNative(t, back); !bytes.Equal(again, nat) {
			t.Fatalf("%s: native bytes differ on rewrite", p)
		}
	}
}

func TestMooncakeWriterIdentity(t *testing.T) {
	raw, err := os.ReadFile("testdata/mooncake_300.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	tr := mustLoad(t, "testdata/mooncake_300.jsonl", ReadOptions{})
	var b bytes.Buffer
	w, _ := NewMooncakeWriter(&b, 512)
	for i := range tr.Requests {
		if err := w.Write(&tr.Requests[i], tr.Blocks); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	if !bytes.Equal(b.Bytes(), raw) {
		t.Fatal("mooncake → mooncake is not byte-identical")
	}
	// kv-cache-tester tails cannot be written as Mooncake.
	kv := mustLoad(t, "testdata/kvtester", ReadOptions{})
	w2, _ := NewMooncakeWriter(&b, 64)
	var err2 error
	for i := range kv.Requests {
		if err2 = w2.Write(&kv.Requests[i], kv.Blocks); err2 != nil {
			break
		}
	}
	if err2 == nil || !strings.Contains(err2.Error(), "use --to native") {
		t.Fatalf("want a not-expressible error, got %v", err2)
	}
}

func TestSplitter(t *testing.T) {
	tr := mustLoad(t, "testdata/mooncake_300.jsonl", ReadOptions{})
	if _, err := NewSplitter(512, 48); err == nil {
		t.Fatal("48 does not divide 512")
	}
	sp, err := NewSplitter(512, 16)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, _ := NewNativeWriter(&b, 16, "split")
	for i := range tr.Requests {
		r := tr.Requests[i]
		r.Blocks = append([]BlockID(nil), r.Blocks...)
		in := r.Input
		if err := sp.Split(&r); err != nil {
			t.Fatal(err)
		}
		if want := (in + 15) / 16; len(r.Blocks) != want || r.TailTokens(16) != 0 {
			t.Fatalf("request %d: %d sub-blocks, want %d", i, len(r.Blocks), want)
		}
		if err := w.Write(&r, sp.Out); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	st16, err := statsOf(t, "split", b.String(), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile("testdata/mooncake_300.jsonl")
	st512, _ := statsOf(t, "m", string(raw), ReadOptions{})
	// Splitting keeps the infinite-cache token hits exactly (a sub-block
	// hits exactly when its block did).
	if st16.HitTokens != st512.HitTokens || st16.InputTokens != st512.InputTokens {
		t.Fatalf("token hits %d vs %d", st16.HitTokens, st512.HitTokens)
	}
}

func TestSortOption(t *testing.T) {
	const data = `{"timestamp": 5, "input_length": 1, "output_length": 1, "hash_ids": [1]}
{"timestamp": 2, "input_length": 1, "output_length": 1, "hash_ids": [2]}
{"timestamp": 5, "input_length": 2, "output_length": 1, "hash_ids": [3]}
{"timestamp": 1, "input_length": 3, "output_length": 1, "hash_ids": [4]}
`
	_, err := loadString(t, "o.jsonl", data, ReadOptions{})
	if err == nil || err.Error() != "o.jsonl:2: timestamp: arrival 0.002s is before the previous request's 0.005s (o.jsonl:1); use --sort to reorder" {
		t.Fatalf("got %v", err)
	}
	tr, err := loadString(t, "o.jsonl", data, ReadOptions{Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for i, r := range tr.Requests {
		got = append(got, r.Input)
		if r.Index != i || r.ID != int64(i) {
			t.Fatalf("index/id %d/%d at %d", r.Index, r.ID, i)
		}
	}
	// Stable: the two requests at 5 ms keep their order.
	if want := []int{3, 1, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("sorted inputs %v, want %v", got, want)
	}
	if tr.Requests[3].Source != "o.jsonl:3" || tr.Info.Options != "sort=true" {
		t.Fatalf("source %q options %q", tr.Requests[3].Source, tr.Info.Options)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFileAtomic(p, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("boom")
	})
	if err == nil || err.Error() != "boom" {
		t.Fatalf("err %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("file changed to %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary file left behind: %v", ents)
	}
	if err := WriteFileAtomic(p, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("file is %q", b)
	}
}

func TestTableRollbackAndChain(t *testing.T) {
	tb := NewTable(true)
	a, err := tb.Intern(nil, []uint64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	// 7 and 8 are new, 2 then conflicts (its parent is 1, not 8).
	_, err = tb.Intern(nil, []uint64{7, 8, 2})
	var pe *ParentError
	if !errors.As(err, &pe) || err.Error() != "hash_ids[2]: id 2 already has parent 1" {
		t.Fatalf("got %v", err)
	}
	if tb.Len() != 3 {
		t.Fatalf("rollback left %d blocks", tb.Len())
	}
	if _, err := tb.Intern(nil, []uint64{5, 1}); err == nil || err.Error() != "hash_ids[1]: id 1 already is a root block" {
		t.Fatalf("root conflict: %v", err)
	}
	if got := tb.Chain(nil, a[2], 3); !slices.Equal(got, a) || tb.Depth(a[2]) != 3 {
		t.Fatalf("chain %v, want %v", got, a)
	}
	// Large (hash-like) ids use the map and behave the same.
	h, err := tb.Intern(nil, []uint64{1 << 60, 1<<60 + 1})
	if err != nil || tb.Orig(h[1]) != 1<<60+1 {
		t.Fatalf("hash ids: %v %v", h, err)
	}
	if _, err := tb.Intern(nil, []uint64{3, 1<<60 + 1}); err == nil {
		t.Fatal("conflict through the map not caught")
	}
}

func TestByteOrderMarkAndNulls(t *testing.T) {
	tr, err := loadString(t, "bom.jsonl", "\xef\xbb\xbf"+mcHead, ReadOptions{})
	if err != nil || len(tr.Requests) != 1 {
		t.Fatalf("BOM: %v", err)
	}
	tr, err = loadString(t, "n.jsonl", `{"format":"kvscope-trace","version":1,"block_size":4}
{"arrival_s":0,"input":4,"output":1,"blocks":null,"type":null,"tags":null}
`, ReadOptions{})
	if err != nil || len(tr.Requests) != 1 || tr.Requests[0].Type != "" {
		t.Fatalf("nulls: %v", err)
	}
}

// Ids use the whole uint64 range through a native round trip.
func TestHugeIDs(t *testing.T) {
	const data = `{"format":"kvscope-trace","version":1,"block_size":4}
{"arrival_s":0,"input":8,"output":1,"blocks":[18446744073709551615,9999999999999999999]}
`
	tr, err := loadString(t, "h", data, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Blocks.Orig(tr.Requests[0].Blocks[0]); got != 18446744073709551615 {
		t.Fatalf("id %d", got)
	}
	back, err := LoadBytes("n", toNative(t, tr), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := diffFlat(flatten(tr), flatten(back)); d != "" {
		t.Fatal(d)
	}
}

// TestSourceAcrossBatches: each request's Source names its own line, blank
// lines counted, across the batches in which loc makes the locations, and
// stays right after later requests are read.
func TestSourceAcrossBatches(t *testing.T) {
	var b strings.Builder
	var want []string
	line := 0
	for i := range 3*locBatch + 5 {
		if i%7 == 3 {
			b.WriteString("\n")
			line++
		}
		line++
		fmt.Fprintf(&b, "{\"timestamp\": %d, \"input_length\": 512, \"output_length\": 1, \"hash_ids\": [%d]}\n", i, i)
		want = append(want, fmt.Sprintf("t.jsonl:%d", line))
	}
	s, err := OpenReader("t.jsonl", strings.NewReader(b.String()), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		r, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Source)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sources %q, want %q", got, want)
	}
}
