package analysis

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sweepFixture plans a small sweep on the sample trace and writes its
// cells file into dir.
func sweepFixture(t testing.TB, dir string, sweep string, seeds int, specs ...string) (*ComparePlan, *SweepCells, []Entry, CompareOptions) {
	t.Helper()
	tr, st := sampleTrace(t)
	sw, err := ParseSweep(sweep)
	if err != nil {
		t.Fatal(err)
	}
	es := entries(t, specs...)
	opt := CompareOptions{Seeds: seeds, Sweep: &sw, KeepRecords: true}
	cp, err := PlanCompare(es, opt)
	if err != nil {
		t.Fatal(err)
	}
	c := &SweepCells{
		Spec:  SweepSpec{Kind: CellKindCompare, KVScopeVersion: "test", Trace: tr.Info.Source, TraceSHA256: "00", TraceBytes: 1, Args: []string{"--sweep", sweep}},
		Trace: tr.Info, Stats: st, Cells: cp.Cells(),
	}
	c.SpecHash = c.Spec.Hash()
	path := filepath.Join(dir, "cells.json")
	if err := WriteSweepCells(path, c); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSweepCells(path)
	if err != nil {
		t.Fatal(err)
	}
	return cp, back, es, opt
}

// runShards runs every cell, shard i of n writing into dirs[i].
func runShards(t testing.TB, cp *ComparePlan, c *SweepCells, dirs []string) {
	t.Helper()
	tr, _ := sampleTrace(t)
	for i, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		var ids []int
		for id := i; id < len(c.Cells); id += len(dirs) {
			ids = append(ids, id)
		}
		err := cp.RunCells(context.Background(), tr, ids, 0, 0, func(id, attempts int, r CellResult) error {
			return c.WriteCellResult(d, id, attempts, r)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSweepMergeEqualsCompare: the comparison merged from cell files,
// run in three shards, renders the same bytes as Compare in memory, in
// every format (one sweep value leaves a request too large for the cache,
// so a failed scenario point is carried too).
func TestSweepMergeEqualsCompare(t *testing.T) {
	dir := t.TempDir()
	cp, c, es, opt := sweepFixture(t, dir, "cache_blocks=60,600,1000", 2, "lbgr+rlt", "round_robin+lru")
	tr, st := sampleTrace(t)
	want, err := Compare(context.Background(), tr, es, opt)
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
	runShards(t, cp, c, dirs)
	got, err := c.MergeSweep(cp, dirs)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, cv := range want.Sweep.Curves {
		for _, p := range cv.Points {
			if p.Error != "" {
				failed++
			}
		}
	}
	if failed == 0 {
		t.Fatal("fixture: want a failing sweep point (cache_blocks=60)")
	}
	for _, f := range Formats {
		rep := func(cmp *Comparison) *Report {
			return &Report{Command: "kvscope compare x", Version: "test", Stats: st, Comparison: cmp}
		}
		w, g := render(t, rep(want), f), render(t, rep(got), f)
		if !bytes.Equal(w, g) {
			t.Errorf("%s: merged report differs from compare's (%d vs %d bytes)", f, len(g), len(w))
		}
	}
}

func TestSweepMergeErrors(t *testing.T) {
	dir := t.TempDir()
	cp, c, _, _ := sweepFixture(t, dir, "cache_blocks=600,800", 1, "round_robin+lru")
	res := filepath.Join(dir, "res")
	runShards(t, cp, c, []string{res})
	n := len(c.Cells)
	if n < 3 {
		t.Fatalf("fixture has %d cells", n)
	}
	cell := func(id int) string { return filepath.Join(res, CellFileName(id)) }
	orig, err := os.ReadFile(cell(1))
	if err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := os.WriteFile(cell(1), orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mergeErr := func(want ...string) {
		t.Helper()
		_, err := c.MergeSweep(cp, []string{res})
		if err == nil {
			t.Fatalf("merge: no error, want %q", want)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("merge: %v\nwant %q", err, w)
			}
		}
	}

	if _, err := c.MergeSweep(cp, []string{res}); err != nil {
		t.Fatal(err)
	}
	// Missing cells are listed by id.
	if err := os.Remove(cell(0)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(cell(2)); err != nil {
		t.Fatal(err)
	}
	mergeErr(fmt.Sprintf("2 of %d cells have no result", n), "cell ids 0, 2")
	runShards(t, cp, c, []string{res})

	// Corrupt: truncated JSON, then a bad field inside the result.
	if err := os.WriteFile(cell(1), orig[:len(orig)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	mergeErr(CellFileName(1), "corrupt cell result")
	bad := bytes.Replace(orig, []byte(`"Requests":`), []byte(`"Requests":"x","Was":`), 1)
	if err := os.WriteFile(cell(1), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	mergeErr(CellFileName(1), "result.Metrics.Requests: want an integer, got a string")
	// Another sweep's result.
	other := bytes.Replace(orig, []byte(c.SpecHash), []byte("sha256:0000"), 1)
	if err := os.WriteFile(cell(1), other, 0o644); err != nil {
		t.Fatal(err)
	}
	mergeErr(CellFileName(1), "spec_hash: sha256:0000", "another sweep spec")
	restore()
	// A result filed under another cell's name.
	if err := os.WriteFile(cell(2), orig, 0o644); err != nil {
		t.Fatal(err)
	}
	mergeErr(CellFileName(2), "named for another cell")
	runShards(t, cp, c, []string{res})
	// The same cell twice with different results (two folders).
	dup := filepath.Join(dir, "dup")
	if err := os.MkdirAll(dup, 0o755); err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(orig, []byte(`"Completed":`), []byte(`"Completed":1`), 1)
	if err := os.WriteFile(filepath.Join(dup, CellFileName(1)), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MergeSweep(cp, []string{res, dup}); err == nil || !strings.Contains(err.Error(), "cell 1: two different results") {
		t.Fatalf("duplicate: %v", err)
	}
	// An identical copy is no conflict.
	if err := os.WriteFile(filepath.Join(dup, CellFileName(1)), orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MergeSweep(cp, []string{res, dup}); err != nil {
		t.Fatalf("identical duplicate: %v", err)
	}

	// The cells file: edited cells and an edited spec.
	if err := c.CheckPlan("cells.json", cp.Cells()[1:]); err == nil || !strings.Contains(err.Error(), "its spec plans") {
		t.Fatalf("CheckPlan: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "cells.json"))
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(data, []byte(`"--sweep"`), []byte(`"--seeds"`), 1)
	p := filepath.Join(dir, "edited.json")
	if err := os.WriteFile(p, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSweepCells(p); err == nil || !strings.Contains(err.Error(), "spec_hash: ") || !strings.Contains(err.Error(), "edited or is corrupt") {
		t.Fatalf("edited spec: %v", err)
	}
	if err := os.WriteFile(p, []byte("{\n  \"kvscope_sweep\": 1,\n  \"spec\": 3\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSweepCells(p); err == nil || !strings.Contains(err.Error(), "edited.json: not a sweep cells file") || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("corrupt cells file: %v", err)
	}
}

// codecSample holds what the codec must keep apart.
type codecSample struct {
	F      float64
	Fs     []float64
	Nil    []int
	Empty  []int
	NilMap map[string]int
	EmptyM map[string]int
	M      map[string]float64
	P      *float64
	NilP   *float64
	S      string
	U8     uint8
	I64    int64
	Arr    [2]int16
	Nested []codecInner
	Embedded
}

type codecInner struct{ X float32 }

type Embedded struct{ E bool }

func TestCellCodecExact(t *testing.T) {
	third := 1.0 / 3
	in := codecSample{
		F: math.Nextafter(0.1, 1), Fs: []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.0, 1e-310, math.MaxFloat64},
		Empty: []int{}, EmptyM: map[string]int{}, M: map[string]float64{"b": 2, "a": math.NaN()},
		P: &third, S: "q\"u\n€", U8: 255, I64: math.MinInt64, Arr: [2]int16{-1, 7},
		Nested: []codecInner{{X: 0.1}}, Embedded: Embedded{E: true},
	}
	b, err := encodeExact(nil, reflect.ValueOf(in), "x")
	if err != nil {
		t.Fatal(err)
	}
	var out codecSample
	if err := decodeExact(b, reflect.ValueOf(&out).Elem(), "x"); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b2, err := encodeExact(nil, reflect.ValueOf(out), "x")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed the bytes:\n%s\n%s", b, b2)
	}
	if out.Nil != nil || out.Empty == nil || out.NilMap != nil || out.EmptyM == nil || out.NilP != nil {
		t.Fatalf("nil and empty not kept apart: %+v", out)
	}
	for i, x := range in.Fs {
		y := out.Fs[i]
		if math.Float64bits(x) != math.Float64bits(y) && !(math.IsNaN(x) && math.IsNaN(y)) {
			t.Fatalf("Fs[%d] = %v, want %v", i, y, x)
		}
	}
	if !math.IsNaN(out.M["a"]) || *out.P != third || out.F != in.F || out.Nested[0].X != in.Nested[0].X || !out.E {
		t.Fatalf("values changed: %+v", out)
	}
}

func TestCellCodecStrict(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"X":1,"Y":2}`, "x.Y: unknown field"},
		{`{}`, "x.X: missing"},
		{`{"X":"1"}`, `x.X: "1" is not a number (NaN, +Inf or -Inf)`},
		{`{"X":[1]}`, "x.X: want a number, got an array"},
		{`{"X":1`, "x: unexpected EOF"},
	}
	for _, tt := range tests {
		var v codecInner
		err := decodeExact([]byte(tt.in), reflect.ValueOf(&v).Elem(), "x")
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: %v, want %q", tt.in, err, tt.want)
		}
	}
	var u struct{ N uint8 }
	if err := decodeExact([]byte(`{"N":256}`), reflect.ValueOf(&u).Elem(), "x"); err == nil || !strings.Contains(err.Error(), "x.N: \"256\" is not an unsigned integer of 8 bits") {
		t.Errorf("overflow: %v", err)
	}
	var e struct{ WorkerRatios Embedded }
	if err := decodeExact([]byte(`{"WorkerRatios":{"E":true},"E":true}`), reflect.ValueOf(&e).Elem(), "x"); err == nil || !strings.Contains(err.Error(), "x.E: unknown field") {
		t.Errorf("promoted field at the wrong level: %v", err)
	}
	if _, err := encodeExact(nil, reflect.ValueOf(struct{ c chan int }{}), "x"); err == nil || !strings.Contains(err.Error(), "x.c: unexported field") {
		t.Errorf("unexported: %v", err)
	}
}

func TestIDRanges(t *testing.T) {
	if got := idRanges([]int{0, 2, 3, 4, 7, 9, 10}); got != "0, 2-4, 7, 9-10" {
		t.Fatal(got)
	}
}
