package sim

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// TestRecordsFileRoundTrip spills a streamed run's records as they retire
// and reads them back, by Scan and by Read, equal to the whole-trace run's
// records (rules, failure reasons and all) with the trace's information.
func TestRecordsFileRoundTrip(t *testing.T) {
	tr := loadSample(t, 0)
	for _, s := range []string{
		"cache_aware+lru;workers=4;cache_blocks=300;oversize=fail",
		"lbgr+rlt;workers=4;cache_blocks=300;oversize=fail",
		"dynamo+lru;workers=3;cache_blocks=200;oversize=bypass",
		"least_load+lru;workers=3;cache_blocks=12;oversize=fail",
		"cache_aware+lru;workers=2;profile=h100-sxm-llama-3.1-8b;latency=vllm:block_size=512",
	} {
		t.Run(s, func(t *testing.T) {
			sc := mustScenario(t, s)
			want, err := Simulate(context.Background(), tr, sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "records.kvr")
			rw, err := CreateRecords(path, sc.Router.Name, sc.Workers)
			if err != nil {
				t.Fatal(err)
			}
			var werr error
			run, err := SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, StreamOptions{
				OnRecord: func(rec *Record, _ *trace.Request) { werr = errors.Join(werr, rw.Add(rec)) },
			})
			if err != nil || werr != nil {
				t.Fatal(err, werr)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("records file in place before Close: %v", err)
			}
			if err := rw.Close(run); err != nil {
				t.Fatal(err)
			}
			f, err := OpenRecords(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Len() != len(want.Records) {
				t.Fatalf("%d records, want %d", f.Len(), len(want.Records))
			}
			ft := f.Footer()
			wj, _ := json.Marshal(want.Trace)
			gj, _ := json.Marshal(ft.Trace)
			if ft.Scenario != want.Scenario || ft.Workers != sc.Workers || string(gj) != string(wj) {
				t.Fatalf("footer %s %s %d, want %s %s", ft.Scenario, gj, ft.Workers, want.Scenario, wj)
			}
			i := 0
			if err := f.Scan(func(r *Record) error {
				if !reflect.DeepEqual(*r, want.Records[i]) {
					t.Fatalf("scan: record %d is %+v, want %+v", i, *r, want.Records[i])
				}
				i++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for _, j := range []int{len(want.Records) - 1, 0, len(want.Records) / 2} {
				var r Record
				if err := f.Read(j, &r); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(r, want.Records[j]) {
					t.Fatalf("read: record %d is %+v, want %+v", j, r, want.Records[j])
				}
			}
			if err := f.Read(len(want.Records), new(Record)); err == nil {
				t.Fatal("reading past the end succeeded")
			}
			// ScanFrom hands the records from a row on, none past the end.
			for _, from := range []int{0, 1, len(want.Records) / 3, len(want.Records) - 1, len(want.Records), len(want.Records) + 5} {
				j := from
				if err := f.ScanFrom(from, func(r *Record) error {
					if !reflect.DeepEqual(*r, want.Records[j]) {
						t.Fatalf("scan from %d: record %d is %+v, want %+v", from, j, *r, want.Records[j])
					}
					j++
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if j != max(from, len(want.Records)) {
					t.Fatalf("scan from %d ended at %d, want %d", from, j, len(want.Records))
				}
			}
		})
	}
}

// TestRecordsFileRefusesBadFiles: each malformed file is an error that
// names the file and the field, never a panic.
func TestRecordsFileRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.kvr")
	rw, err := CreateRecords(good, "round_robin", 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := rw.Add(&Record{Index: int32(i), Worker: int16(i % 2), Arrival: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Add(&Record{Index: 7}); err == nil || !strings.Contains(err.Error(), good) {
		t.Fatalf("a record out of trace order: %v, want an error naming %s", err, good)
	}
	if err := rw.Close(&Run{Workers: 2, Start: 1, End: 9, Capacity: 8, Unit: "blocks", LoadUnit: "requests"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	row0 := spillHead + len("{}")
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), data...)) }
	// footer rewrites the footer's text old as new, the trailer's length
	// following.
	footer := func(old, new string) []byte {
		n := binary.LittleEndian.Uint64(data[len(data)-spillTrailer:])
		start := len(data) - spillTrailer - int(n)
		fj := string(data[start : len(data)-spillTrailer])
		if !strings.Contains(fj, old) {
			t.Fatalf("footer %s lacks %s", fj, old)
		}
		fj = strings.Replace(fj, old, new, 1)
		b := append(append([]byte(nil), data[:start]...), fj...)
		b = append(b, data[len(data)-spillTrailer:]...)
		binary.LittleEndian.PutUint64(b[len(b)-spillTrailer:], uint64(len(fj)))
		return b
	}
	cases := []struct {
		name, want string
		data       []byte
		readErr    bool
	}{
		{"empty", "too short", nil, false},
		{"cut", "trailer: missing", data[:len(data)-5], false},
		{"kind", `kind: "EVTS"`, edit(func(b []byte) []byte { copy(b[8:], "EVTS"); return b }), false},
		{"magic", "not a kvscope spill file", edit(func(b []byte) []byte { b[0] = 'X'; return b }), false},
		{"version 1", "version: 1, want 2: written by another version of kvscope", edit(func(b []byte) []byte { b[12] = 1; return b }), false},
		{"start", "footer: start: -5 ns", footer(`"start_ns":1`, `"start_ns":-5`), false},
		{"end", "footer: end: 9000000000000000000 ns: outside 0", footer(`"end_ns":9`, `"end_ns":9000000000000000000`), false},
		{"end before start", "footer: end: 9ns before the start, 20ns", footer(`"start_ns":1`, `"start_ns":20`), false},
		{"capacity", "footer: capacity: 0", footer(`"capacity":8`, `"capacity":0`), false},
		{"unit", `footer: unit: "pages"`, footer(`"unit":"blocks"`, `"unit":"pages"`), false},
		{"preemptions", "footer: preemptions: -1", footer(`"preemptions":0`, `"preemptions":-1`), false},
		{"row count", "rows:", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[len(b)-16:], 4)
			return b
		}), false},
		{"status", "record 1: status: 9", edit(func(b []byte) []byte { b[row0+recordRowBytes+6] = 9; return b }), true},
		{"worker", "record 2: worker: 5 of 2", edit(func(b []byte) []byte { b[row0+2*recordRowBytes+4] = 5; return b }), true},
		{"index", "record 0: index: 3, want 0", edit(func(b []byte) []byte { b[row0] = 3; return b }), true},
		{"fail index", "record 0: fail: 4 of 0", edit(func(b []byte) []byte { b[row0+52] = 4; return b }), true},
		{"padding", "record 1: padding", edit(func(b []byte) []byte { b[row0+recordRowBytes+7] = 1; return b }), true},
		{"rule padding", "record 2: padding", edit(func(b []byte) []byte { b[row0+2*recordRowBytes+50] = 1; return b }), true},
		{"hit blocks", "record 0: hit blocks: -1", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[row0+40:], math.MaxUint32)
			return b
		}), true},
		{"hit tokens", "record 1: hit tokens: -2", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[row0+recordRowBytes+44:], math.MaxUint32-1)
			return b
		}), true},
		{"alt", "record 0: alt: 2 of 2", edit(func(b []byte) []byte { b[row0+56] = 2; return b }), true},
		{"alt 32-bit", "record 1: alt: 4294967296 of 2", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[row0+recordRowBytes+56:], 1<<32)
			return b
		}), true},
		{"alt negative", "record 2: alt: -2 of 2", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[row0+2*recordRowBytes+56:], math.MaxUint64-1)
			return b
		}), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name+".kvr")
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := OpenRecords(p)
			if err == nil {
				defer f.Close()
				err = f.Scan(func(*Record) error { return nil })
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

// FuzzOpenRecords: no bytes make opening or reading a records file panic.
func FuzzOpenRecords(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.kvr")
	rw, err := CreateRecords(p, "cache_aware", 2)
	if err != nil {
		f.Fatal(err)
	}
	rw.Add(&Record{Index: 0, Worker: -1, Status: Failed, Fail: "too long"})
	ca, _ := route.Lookup("cache_aware")
	rw.Add(&Record{Index: 1, Worker: 1, Why: route.Why{Rule: ca.Rules[1], A: 3, Key: 9}})
	if err := rw.Close(&Run{Scenario: "cache_aware+lru", Trace: trace.Info{Format: "mooncake"}, Workers: 2,
		Start: 1, End: 9, Capacity: 300, Unit: "tokens", LoadUnit: "requests", Preemptions: 2}); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Add([]byte(spillMagic + "RECS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.kvr")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		rf, err := OpenRecords(p)
		if err != nil {
			return
		}
		defer rf.Close()
		rf.Scan(func(*Record) error { return nil })
		for i := range min(rf.Len(), 4) {
			rf.Read(i, new(Record))
		}
	})
}
