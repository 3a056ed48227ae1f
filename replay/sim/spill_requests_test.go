package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

// requestInfoOf is the row a requests file holds for q.
func requestInfoOf(q *trace.Request) RequestInfo {
	turn := int32(0)
	if q.Turn > 0 && q.Turn <= math.MaxInt32 {
		turn = int32(q.Turn)
	}
	return RequestInfo{Index: int32(q.Index), Input: int32(q.Input), Output: int32(q.Output), Blocks: int32(len(q.Blocks)),
		Session: q.Session, Turn: turn, Line: sourceLine(q.Source)}
}

// sessionsTrace is a native trace with sessions, turns (one negative,
// read as unknown) and requests without either.
const sessionsTrace = `{"format":"kvscope-trace","version":1,"block_size":4}
{"arrival_s":0,"input":12,"output":3,"blocks":[1,2,3],"session":7,"id":1,"turn":1}
{"arrival_s":0.5,"input":8,"output":0,"blocks":[9,8]}
{"arrival_s":1,"input":20,"output":5,"blocks":[1,2,3,4,5],"session":7,"id":2,"parent":1,"turn":2}
{"arrival_s":1.25,"input":4,"output":1,"blocks":[6],"session":3,"turn":-2}
{"arrival_s":2,"input":0,"output":2,"session":-9}
`

func TestSourceLine(t *testing.T) {
	for src, want := range map[string]int64{
		"trace.jsonl:12": 12, `C:\traces\a.jsonl:7`: 7, "a.tar[b.json]:requests[3]": 0,
		"": 0, "nocolon": 0, "x:-4": 0, "x:": 0, "x:99999999999999999999": 0,
	} {
		if got := sourceLine(src); got != want {
			t.Errorf("sourceLine(%q) = %d, want %d", src, got, want)
		}
	}
}

// TestRequestsFileRoundTrip writes a streamed run's requests as they
// retire and reads them back, by Scan and by Read, equal to the loaded
// trace's: tokens, blocks, session, turn and line.
func TestRequestsFileRoundTrip(t *testing.T) {
	tr, err := trace.LoadBytes("s.jsonl", []byte(sessionsTrace), trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := trace.OpenReader("s.jsonl", strings.NewReader(sessionsTrace), trace.ReadOptions{KeepIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	path := filepath.Join(t.TempDir(), "requests.kvq")
	rw, err := CreateRequests(path)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	if _, err := SimulateStream(context.Background(), s, mustScenario(t, "round_robin+lru;workers=2;cache_blocks=20"), StreamOptions{
		OnRecord: func(_ *Record, q *trace.Request) { werr = errors.Join(werr, rw.Add(q)) },
	}); err != nil || werr != nil {
		t.Fatal(err, werr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("requests file in place before Close: %v", err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := OpenRequests(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Len() != len(tr.Requests) {
		t.Fatalf("%d requests, want %d", f.Len(), len(tr.Requests))
	}
	want := []RequestInfo{
		{Index: 0, Input: 12, Output: 3, Blocks: 3, Session: 7, Turn: 1, Line: 2},
		{Index: 1, Input: 8, Blocks: 2, Session: -1, Line: 3},
		{Index: 2, Input: 20, Output: 5, Blocks: 5, Session: 7, Turn: 2, Line: 4},
		{Index: 3, Input: 4, Output: 1, Blocks: 1, Session: 3, Line: 5},
		{Index: 4, Output: 2, Session: -1, Line: 6},
	}
	i := 0
	if err := f.Scan(func(q *RequestInfo) error {
		if *q != want[i] || *q != requestInfoOf(&tr.Requests[i]) {
			t.Fatalf("scan: request %d is %+v, want %+v (trace: %+v)", i, *q, want[i], requestInfoOf(&tr.Requests[i]))
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, j := range []int{4, 0, 2} {
		var q RequestInfo
		if err := f.Read(j, &q); err != nil || q != want[j] {
			t.Fatalf("read: request %d is %+v %v, want %+v", j, q, err, want[j])
		}
	}
	if err := f.Read(len(want), new(RequestInfo)); err == nil {
		t.Fatal("reading past the end succeeded")
	}
}

// TestRequestsFileRefusesBadFiles: each malformed file is an error that
// names the file and the field, never a panic.
func TestRequestsFileRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.kvq")
	rw, err := CreateRequests(good)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := rw.Add(&trace.Request{Index: i, Source: "t.jsonl:9", Input: 8, Output: 2, Blocks: make([]trace.BlockID, 2), Session: -1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Add(&trace.Request{Index: 7}); err == nil {
		t.Fatal("a request out of trace order was accepted")
	}
	if err := rw.Add(&trace.Request{Index: 3, Input: -1}); err == nil || !strings.Contains(err.Error(), "input -1") {
		t.Fatalf("a negative input: %v", err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	row0 := spillHead + len("{}")
	at := func(i, off int) int { return row0 + i*requestRowBytes + off }
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), data...)) }
	put32 := func(i, off int, v uint32) []byte {
		return edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[at(i, off):], v); return b })
	}
	put64 := func(i, off int, v uint64) []byte {
		return edit(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[at(i, off):], v); return b })
	}
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "too short", nil},
		{"cut", "trailer: missing", data[:len(data)-5]},
		{"cut rows", "rows:", append(append([]byte(nil), data[:at(2, 0)]...), data[at(3, 0):]...)},
		{"kind", `kind: "RECS"`, edit(func(b []byte) []byte { copy(b[8:], "RECS"); return b })},
		{"version", "version: 2, want 1: written by another version", edit(func(b []byte) []byte { b[12] = 2; return b })},
		{"footer", "footer: requests: 2, but the file holds 3 rows", edit(func(b []byte) []byte {
			i := strings.LastIndex(string(b), `"requests":3`)
			b[i+len(`"requests":`)] = '2'
			return b
		})},
		{"index", "request 1: index: 5, want 1", put32(1, 0, 5)},
		{"input", "request 0: input: -1: negative", put32(0, 4, math.MaxUint32)},
		{"output", "request 2: output: -3: negative", put32(2, 8, math.MaxUint32-2)},
		{"blocks", "request 1: blocks: -1: negative", put32(1, 12, math.MaxUint32)},
		{"turn", "request 0: turn: -1: negative", put32(0, 16, math.MaxUint32)},
		{"padding", "request 2: padding", put32(2, 20, 1)},
		{"session", "request 1: session: -2, want -1 (none) or more", put64(1, 24, math.MaxUint64-1)},
		{"line", "request 0: line: -1: negative", put64(0, 32, math.MaxUint64)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name+".kvq")
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := OpenRequests(p)
			if err == nil {
				defer f.Close()
				err = f.Scan(func(*RequestInfo) error { return nil })
			}
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %s and %q", err, p, c.want)
			}
			var se *SpillError
			if !errors.As(err, &se) {
				t.Fatalf("error %T, want *SpillError", err)
			}
		})
	}
}

// FuzzOpenRequests: no bytes make opening or reading a requests file
// panic.
func FuzzOpenRequests(f *testing.F) {
	p := filepath.Join(f.TempDir(), "seed.kvq")
	rw, err := CreateRequests(p)
	if err != nil {
		f.Fatal(err)
	}
	rw.Add(&trace.Request{Index: 0, Source: "t.jsonl:2", Input: 5, Output: 1, Blocks: make([]trace.BlockID, 2), Session: 4, Turn: 1})
	rw.Add(&trace.Request{Index: 1, Source: "t.jsonl:3", Input: 9, Session: -1})
	if err := rw.Close(); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Add([]byte(spillMagic + "REQS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.kvq")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		rf, err := OpenRequests(p)
		if err != nil {
			return
		}
		defer rf.Close()
		rf.Scan(func(*RequestInfo) error { return nil })
		for i := range min(rf.Len(), 4) {
			rf.Read(i, new(RequestInfo))
		}
	})
}
