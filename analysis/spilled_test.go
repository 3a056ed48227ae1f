package analysis

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/gen"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
	"github.com/kvscope/kvscope/samples"
)

// spilledScenarios: two routers and policies on four workers, and one
// whose cache is too small for some requests, which fail.
var spilledScenarios = []string{
	"cache_aware+lru;workers=4",
	"lbgr+rlt;workers=4;cache_blocks=150;oversize=bypass",
	"cache_aware+lru;workers=4;cache_blocks=100;oversize=fail",
}

func spillTrace(tb testing.TB) *trace.Trace { return tracetest.Sample(tb, samples.Mooncake) }

// simulateWhole parses s and simulates it on tr whole.
func simulateWhole(tb testing.TB, tr *trace.Trace, s string) (*sim.Run, scenario.Scenario) {
	tb.Helper()
	sc, err := scenario.Parse(s, scenario.Default(param.Spec{}, param.Spec{}))
	if err != nil {
		tb.Fatal(err)
	}
	run, err := sim.Simulate(context.Background(), tr, sc, sim.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return run, sc
}

// simulateSpilled simulates s on tr whole and writes the run to dir as a
// spilled run; it returns the run and the spilled run opened, checking
// that the footer's shape is the run's.
func simulateSpilled(tb testing.TB, tr *trace.Trace, s, dir string) (*sim.Run, SpilledRun) {
	tb.Helper()
	run, sc := simulateWhole(tb, tr, s)
	writeSpill(tb, tr, run, sc, dir)
	return run, openSpilled(tb, run, dir)
}

func writeSpill(tb testing.TB, tr *trace.Trace, run *sim.Run, sc scenario.Scenario, dir string) {
	tb.Helper()
	w, err := sim.CreateSpill(dir, sc)
	if err != nil {
		tb.Fatal(err)
	}
	w.WriteRun(run, tr)
	if err := w.Close(run); err != nil {
		tb.Fatal(err)
	}
}

func openSpilled(tb testing.TB, run *sim.Run, dir string) SpilledRun {
	tb.Helper()
	sp, err := sim.OpenSpill(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sp.Close() })
	sr := SpilledRunOf(sp)
	if sr.Scenario != run.Scenario || sr.Workers != run.Workers || !reflect.DeepEqual(sr.Trace, run.Trace) ||
		sr.Start != run.Start || sr.End != run.End || sr.Capacity != run.Capacity || sr.Unit != run.Unit {
		tb.Fatalf("footer's shape %q %d %+v %v %v %d %s, run's %q %d %+v %v %v %d %s", sr.Scenario, sr.Workers, sr.Trace, sr.Start, sr.End, sr.Capacity, sr.Unit,
			run.Scenario, run.Workers, run.Trace, run.Start, run.End, run.Capacity, run.Unit)
	}
	return sr
}

// sameBits compares two series to the bit.
func sameBits(t *testing.T, name string, got, want Series) {
	t.Helper()
	if len(got.T) != len(want.T) || len(got.V) != len(want.V) {
		t.Fatalf("%s: %d/%d points, want %d/%d", name, len(got.T), len(got.V), len(want.T), len(want.V))
	}
	for i := range want.T {
		if math.Float64bits(got.T[i]) != math.Float64bits(want.T[i]) || math.Float64bits(got.V[i]) != math.Float64bits(want.V[i]) {
			t.Fatalf("%s point %d: (%v, %v), want (%v, %v)", name, i, got.T[i], got.V[i], want.T[i], want.V[i])
		}
	}
}

// withinSketch reports whether got is within the sketch's relative
// error of exact (NaN exactly where exact is), with Sketch's allowance
// of 1e-12 for rounding.
func withinSketch(got, exact float64) bool {
	if math.IsNaN(exact) || math.IsNaN(got) {
		return math.IsNaN(exact) && math.IsNaN(got)
	}
	return math.Abs(got-exact) <= (SketchRelativeAccuracy+1e-12)*math.Abs(exact)
}

// The chart series over a spilled run are the run's in memory, to the
// bit: hit ratio, each worker's queue and their sum (what the explorer
// draws) with its maximum, requests in flight.
func TestSpilledStateSeries(t *testing.T) {
	tr := spillTrace(t)
	for i, s := range spilledScenarios {
		t.Run(s, func(t *testing.T) {
			run, sr := simulateSpilled(t, tr, s, filepath.Join(t.TempDir(), fmt.Sprint(i)))
			for _, n := range []int{1, 7, 240} {
				hit, err := sr.HitRatioSeries(n)
				if err != nil {
					t.Fatal(err)
				}
				sameBits(t, "hit ratio", hit, HitRatioSeries(run, n))
				qs, err := sr.QueueSeries(n)
				if err != nil {
					t.Fatal(err)
				}
				want := QueueSeries(run, n)
				if len(qs) != len(want) || len(qs) != 4 {
					t.Fatalf("%d queue series, want %d", len(qs), len(want))
				}
				for w := range want {
					sameBits(t, fmt.Sprintf("queue %d", w), qs[w], want[w])
				}
				// The explorer's total, summed as it did.
				var total Series
				var top float64
				total.T, total.V = want[0].T, make([]float64, len(want[0].V))
				for _, q := range want {
					for i, x := range q.V {
						total.V[i] += x
					}
				}
				for _, x := range total.V {
					top = max(top, x)
				}
				sum, sumMax := SumSeries(qs)
				sameBits(t, "queue total", sum, total)
				if sumMax != top || (n == 240 && top == 0) {
					t.Errorf("queue max %v, want %v (nonzero)", sumMax, top)
				}
				fl, err := sr.InFlightSeries(n)
				if err != nil {
					t.Fatal(err)
				}
				sameBits(t, "in flight", fl, InFlightSeries(run, n))
			}
		})
	}
}

// The spilled TTFT series sketches each window's median: within the
// sketch's error of the exact one, NaN for the same empty windows, at the
// same instants.
func TestSpilledTTFTSeries(t *testing.T) {
	tr := spillTrace(t)
	for i, s := range spilledScenarios {
		t.Run(s, func(t *testing.T) {
			run, sr := simulateSpilled(t, tr, s, filepath.Join(t.TempDir(), fmt.Sprint(i)))
			nans := 0
			for _, n := range []int{2, 9, 240, 2000} {
				got, err := sr.TTFTSeries(n)
				if err != nil {
					t.Fatal(err)
				}
				want := TTFTSeries(run, n)
				if len(got.T) != len(want.T) || len(got.V) != len(want.V) || len(got.V) != max(n, 2)-1 {
					t.Fatalf("n=%d: %d points, want %d", n, len(got.V), len(want.V))
				}
				for j := range want.V {
					if math.Float64bits(got.T[j]) != math.Float64bits(want.T[j]) {
						t.Fatalf("n=%d point %d at %v, want %v", n, j, got.T[j], want.T[j])
					}
					if !withinSketch(got.V[j], want.V[j]) {
						t.Errorf("n=%d point %d: median %v, exact %v", n, j, got.V[j], want.V[j])
					}
					if math.IsNaN(want.V[j]) {
						nans++
					}
				}
			}
			if nans == 0 {
				t.Errorf("no empty window at 2000 points: the NaN case is not tested")
			}
		})
	}
}

// cursorInstants are where the metrics are compared: before the run,
// its ends, a grid across it, and around every logged failure (just
// before it, at it, after it) and a failed request's arrival.
func cursorInstants(run *sim.Run) []time.Duration {
	ts := []time.Duration{-1, run.Start, run.End, run.End + time.Second}
	ts = append(ts, grid(run.Start, run.End, 23)...)
	fails := 0
	for _, e := range run.Events {
		if e.Kind == sim.LogFail && fails < 5 {
			fails++
			ts = append(ts, e.T-1, e.T, e.T+1, run.Records[e.Req].Arrival)
		}
	}
	return ts
}

// fmtMetrics prints metrics to compare them: every field, maps in key
// order, floats in full (NaNs compare equal).
func fmtMetrics(m RunMetrics) string { return fmt.Sprintf("%+v", m) }

// SpilledMetrics.At equals the in-memory MetricsAt counted into a sketch
// tally, field for field; against the exact MetricsAt, everything but the
// percentiles is the same and they are within the sketch's error. With
// the records known sorted (the scan stops at the cursor) or not.
func TestSpilledMetricsAt(t *testing.T) {
	tr := spillTrace(t)
	for i, s := range spilledScenarios {
		t.Run(s, func(t *testing.T) {
			run, sr := simulateSpilled(t, tr, s, filepath.Join(t.TempDir(), fmt.Sprint(i)))
			sm, err := NewSpilledMetrics(sr)
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for i := range run.Records {
				if run.Records[i].Status == sim.Failed {
					failed++
				}
			}
			full := Metrics(run, 0, math.NaN())
			t.Logf("%d requests, %d failed, %d bypassed", full.Requests, full.Failed, full.Bypassed)
			if sm.Failures() != failed {
				t.Errorf("%d failure instants, %d failed requests", sm.Failures(), failed)
			}
			unsorted, err := NewSpilledMetrics(sr)
			if err != nil {
				t.Fatal(err)
			}
			unsorted.sorted = -1
			var sawInFlight, sawFailed bool
			for _, at := range cursorInstants(run) {
				const seed = 7
				exact := MetricsAt(run, seed, at)
				sketched := metricsAt(run, seed, at, NewSketchTally(run.Workers))
				for _, m := range []*SpilledMetrics{sm, unsorted} {
					got, err := m.At(seed, at)
					if err != nil {
						t.Fatal(err)
					}
					if fmtMetrics(got) != fmtMetrics(sketched) {
						t.Fatalf("at %v (sorted %d):\n got %s\nwant %s", at, m.sorted, fmtMetrics(got), fmtMetrics(sketched))
					}
				}
				if sm.sorted != 1 {
					t.Errorf("records in arrival order not found sorted (%d)", sm.sorted)
				}
				got, _ := sm.At(seed, at)
				if got.PercentilesNote != SketchNote {
					t.Errorf("percentiles note %q", got.PercentilesNote)
				}
				checkSketchedDists(t, fmt.Sprint(at), got, exact)
				// The rest is exact.
				got.TTFT, got.E2E, got.Queue, got.PercentilesNote = exact.TTFT, exact.E2E, exact.Queue, ""
				for w := range got.WorkerMetrics {
					got.WorkerMetrics[w].TTFT, got.WorkerMetrics[w].E2E = exact.WorkerMetrics[w].TTFT, exact.WorkerMetrics[w].E2E
				}
				if fmtMetrics(got) != fmtMetrics(exact) {
					t.Fatalf("at %v, beside percentiles:\n got %s\nwant %s", at, fmtMetrics(got), fmtMetrics(exact))
				}
				sawInFlight = sawInFlight || got.InFlight > 0
				sawFailed = sawFailed || got.Failed > 0 && got.Failed < failed
			}
			if !sawInFlight {
				t.Error("no cursor with requests in flight")
			}
			if failed > 0 && !sawFailed {
				t.Error("no cursor between failures")
			}
			if strings.Contains(s, "oversize=fail") && failed == 0 {
				t.Error("no failures in the failing scenario")
			}
		})
	}
}

// checkSketchedDists: every percentile within the sketch's error of the
// exact one; count and (to rounding) mean the same.
func checkSketchedDists(t *testing.T, at string, got, exact RunMetrics) {
	t.Helper()
	check := func(name string, g, e Dist) {
		t.Helper()
		if g.N != e.N || !withinSketch(g.P50, e.P50) || !withinSketch(g.P90, e.P90) || !withinSketch(g.P99, e.P99) ||
			!(math.IsNaN(g.Mean) && math.IsNaN(e.Mean) || math.Abs(g.Mean-e.Mean) <= 1e-9*math.Abs(e.Mean)) {
			t.Errorf("at %s %s: %+v, exact %+v", at, name, g, e)
		}
	}
	check("ttft", got.TTFT, exact.TTFT)
	check("e2e", got.E2E, exact.E2E)
	check("queue", got.Queue, exact.Queue)
	for w := range exact.WorkerMetrics {
		check(fmt.Sprintf("worker %d ttft", w), got.WorkerMetrics[w].TTFT, exact.WorkerMetrics[w].TTFT)
		check(fmt.Sprintf("worker %d e2e", w), got.WorkerMetrics[w].E2E, exact.WorkerMetrics[w].E2E)
	}
}

// A run without an event log counts a failure from its arrival, as
// MetricsAt does.
func TestSpilledMetricsAtNoEvents(t *testing.T) {
	tr := spillTrace(t)
	s := spilledScenarios[2]
	run, sc := simulateWhole(t, tr, s)
	run.Events = nil
	dir := t.TempDir()
	writeSpill(t, tr, run, sc, dir)
	sm, err := NewSpilledMetrics(openSpilled(t, run, dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range grid(run.Start, run.End, 11) {
		got, err := sm.At(1, at)
		if err != nil {
			t.Fatal(err)
		}
		if want := metricsAt(run, 1, at, NewSketchTally(run.Workers)); fmtMetrics(got) != fmtMetrics(want) {
			t.Fatalf("at %v:\n got %s\nwant %s", at, fmtMetrics(got), fmtMetrics(want))
		}
	}
}

// A cancelled context stops At.
func TestSpilledMetricsAtCancel(t *testing.T) {
	run, sr := simulateSpilled(t, spillTrace(t), spilledScenarios[0], t.TempDir())
	sm, err := NewSpilledMetrics(sr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sm.AtContext(ctx, 1, run.End); err != context.Canceled {
		t.Fatalf("cancelled: %v", err)
	}
}

// corruptRow overwrites bytes at off in row i of the spill file path
// (rows of size bytes after the header and its meta).
func corruptRow(t *testing.T, path string, size, i, off int, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h [24]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		t.Fatal(err)
	}
	if int(binary.LittleEndian.Uint32(h[16:])) != size {
		t.Fatalf("%s: rows of %d bytes, want %d", path, binary.LittleEndian.Uint32(h[16:]), size)
	}
	at := int64(24) + int64(binary.LittleEndian.Uint32(h[20:])) + int64(i*size+off)
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// Errors reading the files are returned, never swallowed: a record, an
// event and a sample made invalid on disk.
func TestSpilledErrors(t *testing.T) {
	tr := spillTrace(t)
	s := spilledScenarios[2]
	run, sc := simulateWhole(t, tr, s)
	dir := t.TempDir()
	writeSpill(t, tr, run, sc, dir)

	// A sample's queue made negative: the last of worker 0, read at the
	// run's end.
	corruptRow(t, filepath.Join(dir, "states", "samples-0.kvs"), 96, len(run.Samples[0])-1, 32, []byte{0xff, 0xff, 0xff, 0xff})
	sr := openSpilled(t, run, dir)
	if _, err := sr.HitRatioSeries(5); err == nil {
		t.Error("hit ratio series over a bad sample: no error")
	}
	if _, err := sr.QueueSeries(5); err == nil {
		t.Error("queue series over a bad sample: no error")
	}
	if _, err := sr.InFlightSeries(5); err == nil {
		t.Error("in-flight series over a bad sample: no error")
	}
	sm, err := NewSpilledMetrics(sr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.At(1, run.End); err == nil || !strings.Contains(err.Error(), "queue") {
		t.Errorf("metrics over a bad sample: %v", err)
	}

	// A record's padding set: the scans fail.
	corruptRow(t, filepath.Join(dir, "records.kvr"), 120, 0, 7, []byte{1})
	if _, err := sr.TTFTSeries(5); err == nil || !strings.Contains(err.Error(), "padding") {
		t.Errorf("ttft series over a bad record: %v", err)
	}
	if _, err := sm.At(1, run.Start); err == nil || !strings.Contains(err.Error(), "padding") {
		t.Errorf("metrics over a bad record: %v", err)
	}

	// An event's kind out of range: the failures' scan fails.
	corruptRow(t, filepath.Join(dir, "events.kve"), 16, len(run.Events)/2, 14, []byte{0xee})
	if _, err := NewSpilledMetrics(sr); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Errorf("failures over a bad event: %v", err)
	}
}

// endedAt reports whether run's request i counts as ended at t in
// MetricsAt (arrived by t and, a failure, logged by t or, without an
// event log, at all; otherwise its last token by t), with failAt the
// first LogFail instants.
func endedAt(run *sim.Run, failAt map[int32]time.Duration, i int, t time.Duration) bool {
	r := &run.Records[i]
	if r.Arrival > t {
		return false
	}
	if r.Status == sim.Failed {
		at, ok := failAt[r.Index]
		return len(run.Events) == 0 || ok && at <= t
	}
	return r.Done >= 0 && r.Done <= t
}

func firstFails(run *sim.Run) map[int32]time.Duration {
	out := map[int32]time.Duration{}
	for _, e := range run.Events {
		if _, ok := out[e.Req]; !ok && e.Kind == sim.LogFail {
			out[e.Req] = e.T
		}
	}
	return out
}

// checkCheckpoints checks m's checkpoints against the run in memory:
// placed every step rows at the arrival of the row before; each kept
// one's tally counts exactly the requests ended by its instant among the
// rows before it, and its in-flight list is the others, in order, at most
// flyCap of them; a dropped one had more than flyCap in flight. It
// returns how many were dropped.
func checkCheckpoints(t *testing.T, run *sim.Run, m *SpilledMetrics, step, flyCap int) (dropped int) {
	t.Helper()
	n := len(run.Records)
	if m.sorted != 1 || len(m.ck) != (n+step-1)/step {
		t.Fatalf("sorted %d, %d checkpoints for %d records every %d", m.sorted, len(m.ck), n, step)
	}
	failAt := firstFails(run)
	for j, c := range m.ck {
		if c.i != min((j+1)*step, n) || c.t != run.Records[c.i-1].Arrival {
			t.Fatalf("checkpoint %d at row %d, %v", j, c.i, c.t)
		}
		var ended, workerReqs int
		var flying []int32
		for i := range c.i {
			if endedAt(run, failAt, i, c.t) {
				ended++
				if run.Records[i].Worker == 0 {
					workerReqs++
				}
			} else {
				flying = append(flying, int32(i))
			}
		}
		if c.ended == nil {
			dropped++
			if len(flying) <= flyCap || c.flying != nil {
				t.Errorf("checkpoint %d dropped with %d in flight (cap %d), list of %d", j, len(flying), flyCap, len(c.flying))
			}
			continue
		}
		if c.ended.requests != ended || c.ended.reqs[0] != workerReqs || !slices.Equal(c.flying, flying) || len(flying) > flyCap {
			t.Fatalf("checkpoint %d at %v: %d ended (worker 0: %d), in flight %v; want %d (%d), %v, cap %d",
				j, c.t, c.ended.requests, c.ended.reqs[0], c.flying, ended, workerReqs, flying, flyCap)
		}
	}
	return dropped
}

// ckCursors are cursorInstants and every few checkpoint instants (every
// one when few), 1 ns either side of them and halfway to the next.
func ckCursors(run *sim.Run, ck []checkpoint) []time.Duration {
	ts := cursorInstants(run)
	every := max(1, len(ck)/60)
	for j := 0; j < len(ck); j += every {
		c := ck[j].t
		ts = append(ts, c-1, c, c+1)
		if j+1 < len(ck) {
			ts = append(ts, c+(ck[j+1].t-c)/2)
		}
	}
	return ts
}

// At from checkpoints gives the same RunMetrics as At scanning from the
// start (and the in-memory MetricsAt over a sketch tally), field for
// field, on the three scenarios (with failures, with bypasses), at the
// checkpoints' instants, around them, before the run and after it: with
// the default spacing (one checkpoint at the last arrival on this trace),
// and with checkpoints every 1, 7 and 64 rows, taken whenever there is
// one so that every in-flight list is read; with an in-flight cap of 40
// and 120, which drops some checkpoints (this trace keeps hundreds of
// requests in flight at times), and At then starts from an earlier one.
func TestSpilledMetricsCheckpoints(t *testing.T) {
	tr := spillTrace(t)
	for i, s := range spilledScenarios {
		t.Run(s, func(t *testing.T) {
			run, sr := simulateSpilled(t, tr, s, filepath.Join(t.TempDir(), fmt.Sprint(i)))
			ref, err := NewSpilledMetrics(sr)
			if err != nil {
				t.Fatal(err)
			}
			ref.noCheckpoints = true
			wants := map[time.Duration]RunMetrics{} // ref's, checked against the run in memory
			for _, cf := range []struct {
				step, flyCap int
				always       bool
			}{{0, 0, false}, {1, 1 << 20, true}, {7, 1 << 20, true}, {64, 1 << 20, true}, {7, 40, true}, {64, 120, true}} {
				m, err := NewSpilledMetrics(sr)
				if err != nil {
					t.Fatal(err)
				}
				m.ckStep, m.flyCap, m.ckAlways = cf.step, cf.flyCap, cf.always
				// The first call builds the checkpoints (a cursor mid-run).
				mid := run.Start + (run.End-run.Start)/2
				if _, err := m.At(3, mid); err != nil {
					t.Fatal(err)
				}
				step, flyCap := cf.step, cf.flyCap
				if step == 0 {
					step = ckMinStep
				}
				if flyCap == 0 {
					flyCap = max(step/4, 1)
				}
				dropped := checkCheckpoints(t, run, m, step, flyCap)
				used, fellBack, maxFlying := 0, 0, 0
				for _, c := range m.ck {
					maxFlying = max(maxFlying, len(c.flying))
				}
				for _, at := range ckCursors(run, m.ck) {
					const seed = 7
					got, err := m.At(seed, at)
					if err != nil {
						t.Fatal(err)
					}
					want, ok := wants[at]
					if !ok {
						w, err := ref.At(seed, at)
						if err != nil {
							t.Fatal(err)
						}
						if mem := metricsAt(run, seed, at, NewSketchTally(run.Workers)); fmtMetrics(w) != fmtMetrics(mem) {
							t.Fatalf("at %v: scan from the start\n%s\nin memory\n%s", at, fmtMetrics(w), fmtMetrics(mem))
						}
						want, wants[at] = w, w
					}
					if !reflect.DeepEqual(got.FailedReasons, want.FailedReasons) || fmtMetrics(got) != fmtMetrics(want) {
						t.Fatalf("step %d cap %d, at %v from checkpoint %d:\n got %s\nwant %s", step, flyCap, at, m.ckUsed, fmtMetrics(got), fmtMetrics(want))
					}
					if u := m.ckUsed; u >= 0 {
						used++
						if m.ck[u].t > at {
							t.Fatalf("at %v from checkpoint %d at %v", at, u, m.ck[u].t)
						}
						if j := slices.IndexFunc(m.ck, func(c checkpoint) bool { return c.t > at }); j > u+1 || j < 0 && u != len(m.ck)-1 {
							fellBack++
						}
					} else if cf.always && at >= m.ck[0].t && m.ck[0].ended != nil {
						t.Fatalf("at %v: no checkpoint taken", at)
					}
				}
				t.Logf("step %d cap %d: %d checkpoints, %d dropped, at most %d in flight; %d of %d cursors from a checkpoint, %d from an earlier one",
					step, flyCap, len(m.ck), dropped, maxFlying, used, len(ckCursors(run, m.ck)), fellBack)
				if cf.always && used == 0 {
					t.Error("no cursor started from a checkpoint")
				}
				if cf.step == 1 && maxFlying == 0 {
					t.Error("no checkpoint with requests in flight")
				}
				if cf.flyCap > 0 && cf.flyCap < 1000 && (dropped == 0 || dropped == len(m.ck) || fellBack == 0) {
					t.Errorf("cap %d: %d of %d checkpoints dropped, %d cursors fell back: the cap is not tested", cf.flyCap, dropped, len(m.ck), fellBack)
				}
			}
		})
	}
}

// The first At call, which builds the checkpoints in its whole scan and
// tallies only the rows after the last one before the cursor, gives
// the same RunMetrics as a scan without checkpoints: at cursors before
// the run, before, at and after the first checkpoints, mid-run, at the
// last arrival, the run's end and after it; with checkpoints every 7 and
// 64 rows, some dropped (an in-flight cap of 40), and the default
// spacing.
func TestSpilledMetricsFirstCall(t *testing.T) {
	tr := spillTrace(t)
	for i, s := range spilledScenarios {
		t.Run(s, func(t *testing.T) {
			run, sr := simulateSpilled(t, tr, s, filepath.Join(t.TempDir(), fmt.Sprint(i)))
			ref, err := NewSpilledMetrics(sr)
			if err != nil {
				t.Fatal(err)
			}
			ref.noCheckpoints = true
			n := len(run.Records)
			last := run.Records[n-1].Arrival
			for _, cf := range []struct{ step, flyCap int }{{7, 1 << 20}, {64, 1 << 20}, {7, 40}, {0, 0}} {
				step := cmp.Or(cf.step, ckMinStep)
				ts := []time.Duration{-1, run.Start, last - 1, last, run.End, run.End + time.Second,
					run.Start + (run.End-run.Start)/3, run.Start + (run.End-run.Start)/2}
				for _, i := range []int{step, 2 * step, 5 * step, n / 2, n} {
					if i <= n {
						a := run.Records[i-1].Arrival
						ts = append(ts, a-1, a, a+1)
					}
				}
				used := 0
				for _, at := range ts {
					m, err := NewSpilledMetrics(sr)
					if err != nil {
						t.Fatal(err)
					}
					m.ckStep, m.flyCap = cf.step, cf.flyCap
					got, err := m.At(5, at)
					if err != nil {
						t.Fatal(err)
					}
					want, err := ref.At(5, at)
					if err != nil {
						t.Fatal(err)
					}
					if fmtMetrics(got) != fmtMetrics(want) {
						t.Fatalf("step %d cap %d, first call at %v from checkpoint %d:\n got %s\nwant %s", step, cf.flyCap, at, m.ckUsed, fmtMetrics(got), fmtMetrics(want))
					}
					if m.sorted != 1 || len(m.ck) != (n+step-1)/step {
						t.Fatalf("after the first call: sorted %d, %d checkpoints", m.sorted, len(m.ck))
					}
					if m.ckUsed >= 0 {
						used++
					}
				}
				if cf.step > 0 && used == 0 {
					t.Errorf("step %d: no first call started from a checkpoint", step)
				}
			}
		})
	}
}

// Records whose arrivals are not in trace order get no checkpoints: At
// scans from the start, as MetricsAt counts.
func TestSpilledMetricsUnsortedNoCheckpoints(t *testing.T) {
	tr := spillTrace(t)
	run, sc := simulateWhole(t, tr, spilledScenarios[0])
	// A late request's arrival made earlier than its predecessor's.
	k := len(run.Records) * 3 / 4
	run.Records[k].Arrival = run.Records[k-1].Arrival - time.Millisecond
	dir := t.TempDir()
	writeSpill(t, tr, run, sc, dir)
	sr := openSpilled(t, run, dir)
	m, err := NewSpilledMetrics(sr)
	if err != nil {
		t.Fatal(err)
	}
	m.ckStep, m.flyCap, m.ckAlways = 16, 1<<20, true
	for x, at := range grid(run.Start, run.End, 9) {
		if x%2 == 1 { // a first call: the records found out of order after checkpoints were passed
			if m, err = NewSpilledMetrics(sr); err != nil {
				t.Fatal(err)
			}
			m.ckStep, m.flyCap, m.ckAlways = 16, 1<<20, true
		}
		got, err := m.At(1, at)
		if err != nil {
			t.Fatal(err)
		}
		if want := metricsAt(run, 1, at, NewSketchTally(run.Workers)); fmtMetrics(got) != fmtMetrics(want) {
			t.Fatalf("at %v:\n got %s\nwant %s", at, fmtMetrics(got), fmtMetrics(want))
		}
		if m.sorted != -1 || m.ck != nil || m.ckUsed != -1 {
			t.Fatalf("unsorted records: sorted %d, %d checkpoints, started from %d", m.sorted, len(m.ck), m.ckUsed)
		}
	}
}

// A cancelled context stops At from a checkpoint too.
func TestSpilledMetricsCheckpointCancel(t *testing.T) {
	run, sr := simulateSpilled(t, spillTrace(t), spilledScenarios[0], t.TempDir())
	m, err := NewSpilledMetrics(sr)
	if err != nil {
		t.Fatal(err)
	}
	m.ckStep, m.ckAlways = 1000, true
	if _, err := m.At(1, run.End); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.AtContext(ctx, 1, run.End); err != context.Canceled {
		t.Fatalf("cancelled: %v", err)
	}
}

// mergeSketched covers every field of a sketched Tally: a field added to
// Tally must be merged there (or said here to need no merging).
func TestTallyFields(t *testing.T) {
	var names []string
	for f := range reflect.TypeFor[Tally]().Fields() {
		names = append(names, f.Name)
	}
	// ttft, e2e, queue: an exact tally's values; spill, held, err: its
	// spilling (a sketched tally holds none).
	want := []string{"requests", "failed", "bypassed", "completed", "reasons", "reqs", "done", "ttft", "e2e", "queue",
		"sketched", "sTTFT", "sE2E", "sQueue", "spill", "held", "err"}
	if !slices.Equal(names, want) {
		t.Errorf("Tally's fields %v, mergeSketched knows %v", names, want)
	}
}

// Sketched tallies merged in a chain, as the checkpoints are (each
// segment's tally merged into the next, then a copy given more records),
// give the Metrics of one tally given every record, to the bit: counts,
// failure reasons, and every Dist (percentiles, mean and count:
// Sketch.Merge adds bucket counts and the 128-bit integer sum exactly).
func TestMergeSketchedTally(t *testing.T) {
	tr := spillTrace(t)
	for _, s := range spilledScenarios {
		run, _ := simulateWhole(t, tr, s)
		one := NewSketchTally(run.Workers)
		for i := range run.Records {
			one.Add(&run.Records[i])
		}
		// Segments of uneven lengths, in a shuffled order of records.
		order := rand.New(rand.NewPCG(3, 4)).Perm(len(run.Records))
		var cum *Tally
		for lo := 0; lo < len(order); {
			hi := min(len(order), lo+1+lo/3)
			seg := NewSketchTally(run.Workers)
			for _, i := range order[lo:hi] {
				seg.Add(&run.Records[i])
			}
			if cum != nil {
				seg.mergeSketched(cum)
			}
			cum, lo = seg, hi
		}
		cp := NewSketchTally(run.Workers)
		cp.mergeSketched(cum)
		want := one.Metrics(run, 1, math.NaN())
		if got := cp.Metrics(run, 1, math.NaN()); fmtMetrics(got) != fmtMetrics(want) {
			t.Fatalf("%s: merged\n%s\none tally\n%s", s, fmtMetrics(got), fmtMetrics(want))
		}
		for w := range run.Workers {
			for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1} {
				a, b := cp.sTTFT[w].Quantile(q), one.sTTFT[w].Quantile(q)
				c, d := cp.sE2E[w].Quantile(q), one.sE2E[w].Quantile(q)
				if math.Float64bits(a) != math.Float64bits(b) || math.Float64bits(c) != math.Float64bits(d) {
					t.Fatalf("%s worker %d q %v: %v %v, one tally %v %v", s, w, q, a, c, b, d)
				}
			}
			if math.Float64bits(cp.sE2E[w].Mean()) != math.Float64bits(one.sE2E[w].Mean()) {
				t.Fatalf("%s worker %d: mean %v, one tally %v", s, w, cp.sE2E[w].Mean(), one.sE2E[w].Mean())
			}
		}
		// The source is left as it was.
		if cum.requests != len(run.Records) {
			t.Fatalf("%s: the merged-from tally counts %d", s, cum.requests)
		}
	}
}

// One SpilledMetrics.At call over a spilled run, the cursor cycling
// over 8 instants across the run, in ns per request of the run
// (ns/request); the in-memory MetricsAt at the same instants, as many
// times, in the same benchmark run (mem-ns/request), and their ratio
// (spilled/mem). Runs of cache_aware+lru on 4 workers: the Mooncake
// sample (2,000 requests, where the records scan's fixed 1 MiB read
// buffer weighs) and a generated multiturn trace of about 50,000
// requests; each with At's checkpoints (ck) and without (scan: every
// call a scan from the first record). The first At call, which learns
// that the records are in arrival order (so later scans stop at the
// cursor) and builds the checkpoints, is made before timing.
// go test ./analysis -run '^$' -bench SpilledMetricsAt -benchmem
func BenchmarkSpilledMetricsAt(b *testing.B) {
	for _, c := range []struct {
		name string
		tr   func(b *testing.B) *trace.Trace
	}{{"mooncake", func(b *testing.B) *trace.Trace { return spillTrace(b) }}, {"multiturn", benchMultiturn}} {
		for _, noCk := range []bool{false, true} {
			b.Run(c.name+"/"+map[bool]string{false: "ck", true: "scan"}[noCk], func(b *testing.B) {
				benchSpilledMetricsAt(b, c.tr(b), noCk)
			})
		}
	}
}

// benchMultiturn is a generated multiturn trace of about 50,000
// requests.
func benchMultiturn(b *testing.B) *trace.Trace {
	p := gen.DefaultMultiturn()
	p.Clients = 10000
	tr, _ := tracetest.Generate(b, &p, trace.FormatNative, "bench")
	return tr
}

func benchSpilledMetricsAt(b *testing.B, tr *trace.Trace, noCk bool) {
	run, sr := simulateSpilled(b, tr, "cache_aware+lru;workers=4", b.TempDir())
	sm, err := NewSpilledMetrics(sr)
	if err != nil {
		b.Fatal(err)
	}
	sm.noCheckpoints = noCk
	if _, err := sm.At(1, run.End); err != nil {
		b.Fatal(err)
	}
	ts := grid(run.Start, run.End, 8)
	calls := 0
	for b.Loop() {
		if _, err := sm.At(1, ts[calls%len(ts)]); err != nil {
			b.Fatal(err)
		}
		calls++
	}
	spilled := b.Elapsed()
	start := time.Now()
	for i := range calls {
		MetricsAt(run, 1, ts[i%len(ts)])
	}
	mem := time.Since(start)
	per := float64(calls) * float64(len(run.Records))
	b.ReportMetric(float64(spilled.Nanoseconds())/per, "ns/request")
	b.ReportMetric(float64(mem.Nanoseconds())/per, "mem-ns/request")
	b.ReportMetric(float64(spilled)/float64(mem), "spilled/mem")
}

// SpilledMetrics.At at late cursors (8 instants over the last quarter
// of the run, cycled: StateAt memoises the last one), in ns per call
// (ns/op), with checkpoints (ck) and without (scan); the first call's
// time (first-ms: the whole scan, which builds the checkpoints); with
// checkpoints also their heap (ck-kB: what the first call leaves, after
// a GC), their count and the most requests in flight at one
// (max-flying). On
// the generated multiturn trace of about 50,000 requests (cache_aware+lru
// on 4 workers), and on spilled runs named by KVSCOPE_BENCH_SPILLED
// (directories, comma-separated: a 10-million-request run, say), which
// are only read.
// go test ./analysis -run '^$' -bench SpilledMetricsAtLate -benchtime 20x
func BenchmarkSpilledMetricsAtLate(b *testing.B) {
	runs := map[string]func(b *testing.B) SpilledRun{"multiturn": func(b *testing.B) SpilledRun {
		_, sr := simulateSpilled(b, benchMultiturn(b), "cache_aware+lru;workers=4", b.TempDir())
		return sr
	}}
	names := []string{"multiturn"}
	if dirs := os.Getenv("KVSCOPE_BENCH_SPILLED"); dirs != "" {
		for _, dir := range strings.Split(dirs, ",") {
			names = append(names, filepath.Base(filepath.Dir(dir))+"-"+filepath.Base(dir))
			runs[names[len(names)-1]] = func(b *testing.B) SpilledRun {
				sp, err := sim.OpenSpill(dir)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { sp.Close() })
				return SpilledRunOf(sp)
			}
		}
	}
	for _, name := range names {
		for _, noCk := range []bool{false, true} {
			b.Run(name+"/"+map[bool]string{false: "ck", true: "scan"}[noCk], func(b *testing.B) {
				sr := runs[name](b)
				sm, err := NewSpilledMetrics(sr)
				if err != nil {
					b.Fatal(err)
				}
				sm.noCheckpoints = noCk
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				t0 := time.Now()
				if _, err := sm.At(1, sr.End); err != nil {
					b.Fatal(err)
				}
				first := time.Since(t0)
				runtime.GC()
				runtime.ReadMemStats(&after)
				flying := 0
				for _, c := range sm.ck {
					flying = max(flying, len(c.flying))
				}
				// Reported after the loop, which resets them. The heap
				// the first call leaves is the checkpoints' (and the
				// states file's small caches).
				defer func() {
					b.ReportMetric(float64(first.Milliseconds()), "first-ms")
					if !noCk {
						b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1e3, "ck-kB")
						b.ReportMetric(float64(len(sm.ck)), "checkpoints")
						b.ReportMetric(float64(flying), "max-flying")
					}
				}()
				ts := grid(sr.Start+(sr.End-sr.Start)*3/4, sr.End, 8)
				calls, fromCk := 0, 0
				for b.Loop() {
					if _, err := sm.At(1, ts[calls%len(ts)]); err != nil {
						b.Fatal(err)
					}
					if sm.ckUsed >= 0 {
						fromCk++
					}
					calls++
				}
				b.ReportMetric(float64(fromCk)/float64(calls), "from-ck")
			})
		}
	}
}

// RecordFile.Read's cost per row against RecordFile.Scan's (what
// readPerScan stands for), on the generated multiturn trace's records:
// read-ns/row reads every row by index, scan-ns/row scans them all, and
// read/scan is their ratio.
func BenchmarkSpilledRecordReads(b *testing.B) {
	_, sr := simulateSpilled(b, benchMultiturn(b), "cache_aware+lru;workers=4", b.TempDir())
	rf := sr.Sp.Records
	n := rf.Len()
	var rec sim.Record
	var read, scan time.Duration
	for b.Loop() {
		t0 := time.Now()
		for i := range n {
			if err := rf.Read(i, &rec); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		if err := rf.Scan(func(*sim.Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
		read, scan = read+t1.Sub(t0), scan+time.Since(t1)
	}
	b.ReportMetric(float64(read.Nanoseconds())/float64(b.N*n), "read-ns/row")
	b.ReportMetric(float64(scan.Nanoseconds())/float64(b.N*n), "scan-ns/row")
	b.ReportMetric(float64(read)/float64(scan), "read/scan")
}
