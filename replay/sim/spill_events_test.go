package sim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/samples"
)

// spilled is a streamed run whose three sinks wrote an events file and a
// states set in dir, with the same run without sinks.
type spilled struct {
	run, bare *Run
	events    string
	states    string
}

// spillRun streams scenario s over the Mooncake sample twice, with the
// sinks writing files in dir and without sinks.
func spillRun(t testing.TB, s, dir string) spilled {
	t.Helper()
	sc := mustScenario(t, s)
	sp := spilled{events: filepath.Join(dir, "events.kvs"), states: filepath.Join(dir, "states")}
	ew, err := CreateEvents(sp.events)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := CreateStates(sp.states, sc.Workers, sc.String())
	if err != nil {
		t.Fatal(err)
	}
	sp.run, err = SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, StreamOptions{
		IDLimit: -1, OnEvent: ew.Add, OnSample: sw.Add, OnLoads: sw.AddLoads,
	})
	if err != nil {
		ew.Abort()
		sw.Abort()
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if sp.bare, err = SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, StreamOptions{IDLimit: -1}); err != nil {
		t.Fatal(err)
	}
	return sp
}

// probeTimes are the instants StateAt and EventIndex are checked at: every
// sample, load row and event instant, each ±1 ns, before the start and
// after the end. A run of more than 4,000 instants (the engine model's
// iterations) is probed at every k-th of them, its first and last 100
// included.
func probeTimes(run *Run) []time.Duration {
	var at []time.Duration
	for _, ss := range run.Samples {
		for _, s := range ss {
			at = append(at, s.T)
		}
	}
	at = append(at, run.LoadT...)
	for _, e := range run.Events {
		at = append(at, e.T)
	}
	slices.Sort(at)
	at = slices.Compact(at)
	k := max(len(at)/4000, 1)
	ts := []time.Duration{run.Start - 1, run.Start - time.Second, 0, run.End, run.End + 1, run.End + time.Hour}
	for i, t := range at {
		if i%k == 0 || i < 100 || i >= len(at)-100 {
			ts = append(ts, t-1, t, t+1)
		}
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// TestSpillMatchesWhole: a streamed run's sinks, spilled to files and
// read back, give the whole-trace run's event log (every row, Index ==
// EventIndex), samples, load rows and StateAt at every instant that
// matters; the streamed run itself is the same with and without sinks.
func TestSpillMatchesWhole(t *testing.T) {
	tr := loadSample(t, 0)
	for _, s := range []string{
		"round_robin+lru;workers=4;cache_blocks=300;oversize=fail",
		"cache_aware+lru;workers=4;cache_blocks=300;oversize=fail",
		"lbgr+rlt;workers=4;cache_blocks=300;oversize=fail",
		"cache_aware+lru;workers=3;cache_tokens=40000;oversize=bypass;rate=3",
		"least_load+fifo;workers=4;profile=h100-sxm-llama-3.1-8b;latency=engine",
		"cache_aware+lru;workers=2;profile=h100-sxm-llama-3.1-8b;latency=vllm:block_size=512",
	} {
		t.Run(s, func(t *testing.T) {
			want, err := Simulate(context.Background(), tr, mustScenario(t, s), Options{})
			if err != nil {
				t.Fatal(err)
			}
			sp := spillRun(t, s, t.TempDir())
			if !reflect.DeepEqual(sp.run, sp.bare) {
				t.Fatalf("the sinks changed the streamed run:\n%+v\n%+v", sp.run, sp.bare)
			}
			ef, err := OpenEvents(sp.events)
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			if ef.Len() != len(want.Events) || len(want.Events) == 0 {
				t.Fatalf("%d events, whole run %d", ef.Len(), len(want.Events))
			}
			for i, we := range want.Events {
				if e, err := ef.At(i); err != nil || e != we {
					t.Fatalf("event %d: %+v (%v), whole %+v", i, e, err, we)
				}
			}
			var scanned []Event
			if err := ef.Scan(func(i int, e Event) error { scanned = append(scanned, e); return nil }); err != nil || !slices.Equal(scanned, want.Events) {
				t.Fatalf("scan: %d events (%v), whole %d", len(scanned), err, len(want.Events))
			}
			sf, err := OpenStates(sp.states)
			if err != nil {
				t.Fatal(err)
			}
			defer sf.Close()
			if sf.Workers() != want.Workers || sf.LoadRows() != len(want.LoadT) || len(want.LoadT) == 0 {
				t.Fatalf("%d workers, %d load rows; whole %d, %d", sf.Workers(), sf.LoadRows(), want.Workers, len(want.LoadT))
			}
			for w, ss := range want.Samples {
				if sf.Samples(w) != len(ss) {
					t.Fatalf("worker %d: %d samples, whole %d", w, sf.Samples(w), len(ss))
				}
				for i, ws := range ss {
					if s, err := sf.Sample(w, i); err != nil || s != ws {
						t.Fatalf("worker %d sample %d: %+v (%v), whole %+v", w, i, s, err, ws)
					}
				}
			}
			for i, lt := range want.LoadT {
				lt2, l, err := sf.Loads(i)
				if err != nil || lt2 != lt || !slices.Equal(l, want.Loads[i*want.Workers:(i+1)*want.Workers]) {
					t.Fatalf("load row %d: %v %v (%v), whole %v", i, lt2, l, err, lt)
				}
			}
			for _, at := range probeTimes(want) {
				st, err := sf.StateAt(at)
				if err != nil {
					t.Fatal(err)
				}
				if ws := want.StateAt(at); !reflect.DeepEqual(st, ws) {
					t.Fatalf("StateAt(%v):\n%+v\nwhole:\n%+v", at, st, ws)
				}
				if i, err := ef.Index(at); err != nil || i != want.EventIndex(at) {
					t.Fatalf("Index(%v) = %d (%v), whole %d", at, i, err, want.EventIndex(at))
				}
			}
		})
	}
}

// writeEvents writes evs to a new events file in dir.
func writeEvents(t testing.TB, dir string, evs []Event) string {
	t.Helper()
	p := filepath.Join(dir, "events.kvs")
	ew, err := CreateEvents(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		ew.Add(e)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

var testEvents = []Event{
	{T: 1, Req: 0, Worker: -1, Kind: LogArrival}, {T: 1, Req: 0, Worker: 2, Kind: LogRouted},
	{T: 5, Req: 1, Worker: -1, Kind: LogFail}, {T: 9, Req: 0, Worker: 2, Kind: LogComplete},
}

// TestEventsFileErrors: a cut file, another kind, a corrupt field and
// rows out of time order are errors naming the file (and the row and
// field where one is at fault); a writer given events out of order
// leaves no file.
func TestEventsFileErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(writeEvents(t, dir, testEvents))
	if err != nil {
		t.Fatal(err)
	}
	// Rows start after the 24-byte header and the meta.
	rows := spillHead + strings.Index(string(good[spillHead:]), "}") + 1
	row := func(i, off int) int { return rows + i*eventRowBytes + off }
	for _, c := range []struct {
		name  string
		edit  func([]byte) []byte
		field string // in the error; "" when Open fails
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }, ""},
		{"wrong kind", func(b []byte) []byte { copy(b[8:12], "SMPL"); return b }, ""},
		{"row count", func(b []byte) []byte { b[len(b)-16]++; return b }, ""},
		{"header reserved", func(b []byte) []byte { b[15] = 1; return b }, ""},
		{"kind", func(b []byte) []byte { b[row(2, 14)] = 42; return b }, "row 2: kind"},
		{"worker", func(b []byte) []byte { b[row(1, 12)] = 0xfe; b[row(1, 13)] = 0xff; return b }, "row 1: worker"},
		{"req", func(b []byte) []byte { b[row(3, 11)] = 0x80; return b }, "row 3: req"},
		{"padding", func(b []byte) []byte { b[row(0, 15)] = 1; return b }, "row 0: padding"},
		{"time", func(b []byte) []byte { b[row(3, 7)] = 0x10; return b }, "row 3: T"},
		{"order", func(b []byte) []byte { b[row(1, 0)] = 7; return b }, "row 2: T"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name+".kvs")
			if err := os.WriteFile(p, c.edit(slices.Clone(good)), 0o666); err != nil {
				t.Fatal(err)
			}
			f, err := OpenEvents(p)
			if c.field == "" {
				if err == nil || !strings.Contains(err.Error(), p) {
					t.Fatalf("opened, or an error not naming the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			err = f.Scan(func(int, Event) error { return nil })
			if _, ierr := f.Index(2); c.name == "order" && ierr == nil {
				// Index reads rows 2 then 1: 7 before 5.
				t.Fatal("Index took rows out of time order")
			}
			var se *SpillError
			if !errors.As(err, &se) || se.Path != p || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("scan: %v, want an error naming %s and %q", err, p, c.field)
			}
		})
	}
	p := filepath.Join(dir, "unordered.kvs")
	ew, err := CreateEvents(p)
	if err != nil {
		t.Fatal(err)
	}
	ew.Add(testEvents[3])
	ew.Add(testEvents[0])
	if err := ew.Close(); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("events out of order: %v, want an error naming %s", err, p)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("a failed writer left %s: %v", p, err)
	}
}

// fuzzFile writes a fuzzer's bytes to a new file name and returns its
// path.
func fuzzFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o666); err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzOpenEvents: any bytes open as an events file or give an error;
// reading every row, scanning and searching never panic.
func FuzzOpenEvents(f *testing.F) {
	good, err := os.ReadFile(writeEvents(f, f.TempDir(), testEvents))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte("KVSCOPE\x00EVNT"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := OpenEvents(fuzzFile(t, "e.kvs", data))
		if err != nil {
			return
		}
		defer ef.Close()
		for i := range min(ef.Len(), 1000) {
			ef.At(i)
		}
		ef.At(-1)
		ef.At(ef.Len())
		ef.Scan(func(int, Event) error { return nil })
		for _, at := range []time.Duration{-1, 0, 5, 1 << 62} {
			if i, err := ef.Index(at); err == nil && (i < 0 || i > ef.Len()) {
				t.Fatalf("Index(%v) = %d of %d", at, i, ef.Len())
			}
		}
	})
}
