package sim

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeStates writes a small states set of two workers in dir: worker 0
// sampled at 1, 3 and 5, worker 1 at 2, load rows at 1 and 2.
func writeStates(t testing.TB, dir, name string) *Run {
	t.Helper()
	run := &Run{Workers: 2, Samples: [][]Sample{
		{{T: 1, Queue: 1, HitTokens: 4}, {T: 3, Running: 2, Pinned: 7}, {T: 5, Completed: 1, Busy: 9}},
		{{T: 2, Marked: 3, Unmarked: 4, Evicted: 1, Phases: 2}},
	}, LoadT: []time.Duration{1, 2}, Loads: []float32{0.5, 0, 1.5, 2}}
	sw, err := CreateStates(dir, 2, name)
	if err != nil {
		t.Fatal(err)
	}
	for w, ss := range run.Samples {
		for i := range ss {
			sw.Add(w, &ss[i])
		}
	}
	for i, lt := range run.LoadT {
		sw.AddLoads(lt, run.Loads[2*i:2*i+2])
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	return run
}

// TestStatesSmall: a hand-made set reads back as the Run it came from.
func TestStatesSmall(t *testing.T) {
	dir := t.TempDir()
	run := writeStates(t, dir, "small")
	sf, err := OpenStates(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	for at := time.Duration(-1); at <= 7; at++ {
		st, err := sf.StateAt(at)
		if err != nil || !reflect.DeepEqual(st, run.StateAt(at)) {
			t.Fatalf("StateAt(%v) = %+v (%v), want %+v", at, st, err, run.StateAt(at))
		}
	}
	if _, err := sf.Sample(0, 3); err == nil {
		t.Fatal("sample 3 of 3 read")
	}
	if _, err := sf.Sample(2, 0); err == nil {
		t.Fatal("worker 2 of 2 read")
	}
}

// TestStatesFileErrors: a set with a file cut short, missing, of another
// kind or of another run, or with a corrupt field or rows out of time
// order, is an error naming the file at fault; a writer given samples out
// of order or a load row of the wrong width leaves no manifest.
func TestStatesFileErrors(t *testing.T) {
	base := t.TempDir()
	good := filepath.Join(base, "good")
	writeStates(t, good, "good")
	other := filepath.Join(base, "other")
	writeStates(t, other, "other")
	events := writeEvents(t, base, testEvents)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Rows of samples-0 start after the header and the meta.
	s0b := read(filepath.Join(good, samplesName(0)))
	rows := spillHead + strings.Index(string(s0b[spillHead:]), "}") + 1
	for _, c := range []struct {
		name, file string                // file edited
		edit       func(b []byte) []byte // nil: file removed
		field      string                // in the StateAt error; "" when Open fails
	}{
		{"truncated", samplesName(1), func(b []byte) []byte { return b[:len(b)-1] }, ""},
		{"missing manifest", loadsName, nil, ""},
		{"missing worker", samplesName(1), nil, ""},
		{"wrong kind", samplesName(0), func([]byte) []byte { return read(events) }, ""},
		{"other run", samplesName(1), func([]byte) []byte { return read(filepath.Join(other, samplesName(1))) }, ""},
		{"loads width", loadsName, func(b []byte) []byte { b[16] = 9; return b }, ""},
		{"queue", samplesName(0), func(b []byte) []byte { b[rows+35] = 0x80; return b }, "row 0: queue"},
		{"time", samplesName(0), func(b []byte) []byte { b[rows+96+6] = 1; return b }, "row 1: T"},
		{"order", samplesName(0), func(b []byte) []byte { b[rows] = 4; return b }, "row 0: T"},
		{"load", loadsName, func(b []byte) []byte {
			// Row 1 of the loads (T 2): worker 1's load made NaN.
			r := spillHead + strings.Index(string(b[spillHead:]), "}") + 1
			binary.LittleEndian.PutUint32(b[r+16+8+4:], 0x7fc00000)
			return b
		}, "row 1: load of worker 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(base, strings.ReplaceAll(c.name, " ", "_"))
			if err := os.Mkdir(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{samplesName(0), samplesName(1), loadsName} {
				b := read(filepath.Join(good, n))
				if n == c.file {
					if c.edit == nil {
						continue
					}
					b = c.edit(b)
				}
				if err := os.WriteFile(filepath.Join(dir, n), b, 0o666); err != nil {
					t.Fatal(err)
				}
			}
			p := filepath.Join(dir, c.file)
			sf, err := OpenStates(dir)
			if c.field == "" {
				if err == nil || !strings.Contains(err.Error(), p) {
					t.Fatalf("opened, or an error not naming %s: %v", p, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer sf.Close()
			// StateAt(2) reads worker 0's rows 1 then 0.
			_, err = sf.StateAt(2)
			var se *SpillError
			if !errors.As(err, &se) || se.Path != p || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("StateAt: %v, want an error naming %s and %q", err, p, c.field)
			}
		})
	}
	for name, add := range map[string]func(*StateWriter){
		"samples out of order": func(sw *StateWriter) { sw.Add(0, &Sample{T: 2}); sw.Add(0, &Sample{T: 1}) },
		"loads width":          func(sw *StateWriter) { sw.AddLoads(1, []float32{1}) },
		"load infinite":        func(sw *StateWriter) { sw.AddLoads(1, []float32{0, float32(math.Inf(1))}) },
		"worker":               func(sw *StateWriter) { sw.Add(2, &Sample{}) },
	} {
		dir := filepath.Join(base, "w-"+strings.ReplaceAll(name, " ", "_"))
		sw, err := CreateStates(dir, 2, name)
		if err != nil {
			t.Fatal(err)
		}
		add(sw)
		if err := sw.Close(); err == nil {
			t.Fatalf("%s: written", name)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("%s: a failed writer left %v", name, ents)
		}
	}
}

// FuzzOpenStates: any bytes as a set's manifest and first worker's file
// (the second one kept valid) open or give an error; reading every sample
// and load row and StateAt never panic.
func FuzzOpenStates(f *testing.F) {
	dir := f.TempDir()
	writeStates(f, dir, "seed")
	loads, err := os.ReadFile(filepath.Join(dir, loadsName))
	if err != nil {
		f.Fatal(err)
	}
	s0, err := os.ReadFile(filepath.Join(dir, samplesName(0)))
	if err != nil {
		f.Fatal(err)
	}
	s1, err := os.ReadFile(filepath.Join(dir, samplesName(1)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(loads, s0)
	f.Add(loads[:len(loads)-1], s0)
	f.Add(loads, slices.Concat(s0[:40], s0[41:]))
	f.Fuzz(func(t *testing.T, loads, s0 []byte) {
		dir := t.TempDir()
		for n, b := range map[string][]byte{loadsName: loads, samplesName(0): s0, samplesName(1): s1} {
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o666); err != nil {
				t.Fatal(err)
			}
		}
		sf, err := OpenStates(dir)
		if err != nil {
			return
		}
		defer sf.Close()
		for w := range sf.Workers() {
			for i := range min(sf.Samples(w), 1000) {
				sf.Sample(w, i)
			}
		}
		for i := range min(sf.LoadRows(), 1000) {
			sf.Loads(i)
		}
		for _, at := range []time.Duration{-1, 0, 2, 3, 1 << 62} {
			if st, err := sf.StateAt(at); err == nil && len(st.Workers) != sf.Workers() {
				t.Fatalf("StateAt(%v): %d workers of %d", at, len(st.Workers), sf.Workers())
			}
		}
	})
}
