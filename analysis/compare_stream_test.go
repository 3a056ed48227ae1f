package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/internal/tracetest"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// sampleBytes are the first sampleLines requests of the embedded Mooncake
// sample, with their ids scrambled (so that consistent_hash tells the
// trace's ids from dense ones).
func sampleBytes(t testing.TB) []byte {
	t.Helper()
	data, err := samples.ReadFile(samples.Mooncake)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfterN(data, []byte("\n"), sampleLines+1)
	return tracetest.ScrambleIDs(bytes.Join(lines[:sampleLines], nil))
}

// openSample opens the sample as sampleTrace names it, keeping the trace's
// ids for the routers that hash them (as the command does).
func openSample(data []byte) OpenFunc {
	return func(sc scenario.Scenario) (*trace.Stream, error) {
		return trace.OpenReader("sample:"+samples.Mooncake, bytes.NewReader(data), trace.ReadOptions{KeepIDs: route.TraceIDs(sc.Router.Name)})
	}
}

// ratioKeys are the metrics only Compare has (CompareStream leaves them
// out).
var ratioKeys = []string{"ratio_vs_opt", "ratio_vs_belady", "k", "harmonic_k", "rlt_bound", "lru_bound"}

// withoutRatios is the JSON of a comparison without the competitive
// ratios, their per-worker details and the notes.
func withoutRatios(t *testing.T, c *Comparison) string {
	t.Helper()
	cp := *c
	drop := func(ms []MetricStat) []MetricStat {
		return slices.DeleteFunc(slices.Clone(ms), func(m MetricStat) bool { return slices.Contains(ratioKeys, m.Key) })
	}
	cp.Scenarios = slices.Clone(c.Scenarios)
	for i := range cp.Scenarios {
		s := &cp.Scenarios[i]
		s.Metrics = drop(s.Metrics)
		s.Workers = slices.Clone(s.Workers)
		for w := range s.Workers {
			s.Workers[w].Metrics = drop(s.Workers[w].Metrics)
		}
		s.Runs = slices.Clone(s.Runs)
		for k := range s.Runs {
			r := &s.Runs[k]
			r.Values = noRatios(r.Values)
			r.Workers = slices.Clone(r.Workers)
			for w := range r.Workers {
				wr := &r.Workers[w]
				wr.Values = noRatios(wr.Values)
				wr.Sequence, wr.PolicyMissed, wr.OptMissed, wr.BeladyMissed, wr.Longest = 0, 0, 0, 0, 0
				wr.OptLabel, wr.BeladyLabel, wr.BoundNote = "", "", ""
			}
		}
	}
	cp.Paired = slices.DeleteFunc(slices.Clone(c.Paired), func(p PairedResult) bool { return slices.Contains(ratioKeys, p.Metric) })
	if c.Sweep != nil {
		sw := *c.Sweep
		sw.Curves = slices.Clone(sw.Curves)
		for i := range sw.Curves {
			sw.Curves[i].Points = slices.Clone(sw.Curves[i].Points)
			for k := range sw.Curves[i].Points {
				sw.Curves[i].Points[k].Metrics = drop(sw.Curves[i].Points[k].Metrics)
			}
		}
		cp.Sweep = &sw
	}
	cp.Notes = nil
	b, err := json.MarshalIndent(&cp, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noRatios is m without the ratio keys.
func noRatios(m map[string]F) map[string]F {
	out := map[string]F{}
	for k, v := range m {
		if !slices.Contains(ratioKeys, k) {
			out[k] = v
		}
	}
	return out
}

// TestCompareStreamMatchesCompare: a streamed comparison of a trace that
// fits gives Compare's comparison to the bit (its charts included), but
// for the competitive ratios it leaves out and says so; with sketches,
// the percentiles (and the TTFT CDF's values) move within the sketch's
// error and nothing else does.
func TestCompareStreamMatchesCompare(t *testing.T) {
	data := sampleBytes(t)
	tr, err := trace.LoadBytes("sample:"+samples.Mooncake, data, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ents := entries(t, "cache_aware+lru", "lbgr+rlt", "round_robin+lru", "consistent_hash+random_leaf")
	opt := CompareOptions{Seeds: 2, Sweep: &Sweep{Key: "workers", Values: []string{"2", "4"}}}
	held, err := Compare(context.Background(), tr, ents, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range held.Scenarios {
		if !s.OK() {
			t.Fatalf("%s: %s", s.Label, s.Error)
		}
	}
	tmp := t.TempDir()
	streamed, err := CompareStream(context.Background(), openSample(data), ents, opt, StreamCompareOptions{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := withoutRatios(t, streamed), withoutRatios(t, held); got != want {
		t.Fatalf("streamed comparison differs from Compare's beside the ratios:\n%s", firstDiff(got, want))
	}
	if !slices.Contains(streamed.Notes, StreamedNote) || !slices.Contains(streamed.Notes, ExactSpilledNote) {
		t.Fatalf("notes %q: want the streamed and exact-percentiles notes", streamed.Notes)
	}
	if v := streamed.Scenarios[0].Metric("ratio_vs_opt"); v.N != 0 {
		t.Fatalf("streamed ratio_vs_opt %+v: want none", v)
	}
	if v := held.Scenarios[0].Metric("ratio_vs_opt"); v.N == 0 {
		t.Fatal("Compare's ratio_vs_opt is empty: the test compares nothing")
	}
	if c := streamed.Scenarios[0].Charts; c == nil || len(c.HitRatio.T) != 120 || len(c.TTFTCDF.T) != cdfPoints || len(c.Queue) != 4 {
		t.Fatalf("streamed charts %+v: want 120 points, a %d-point CDF and 4 queues", c, cdfPoints)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("left in the temporary directory: %v", left)
	}

	sk, err := CompareStream(context.Background(), openSample(data), ents, opt, StreamCompareOptions{Sketch: true, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sk.Notes, SketchNote+"; the TTFT CDF's values too") {
		t.Fatalf("notes %q: want the sketch note", sk.Notes)
	}
	for i := range sk.Scenarios {
		a, b := &sk.Scenarios[i], &streamed.Scenarios[i]
		for _, m := range a.Metrics {
			want := b.Metric(m.Key)
			for k, v := range m.Values {
				x, y := float64(v), float64(want.Values[k])
				tol := 1e-12 * math.Abs(y) // means: the sketch's sum is exact, the values' rounded
				if strings.Contains(m.Key, "_p") && strings.HasSuffix(m.Key, "_ms") {
					tol = SketchRelativeAccuracy * math.Abs(y) * 1.0000001
				}
				if !(math.Abs(x-y) <= tol || math.IsNaN(x) && math.IsNaN(y)) {
					t.Fatalf("%s %s seed %d: sketched %v, exact %v (tolerance %v)", a.Label, m.Key, k+1, x, y, tol)
				}
			}
		}
		cs, ce := a.Charts.TTFTCDF, b.Charts.TTFTCDF
		if !slices.Equal(cs.V, ce.V) || len(cs.T) != len(ce.T) {
			t.Fatalf("%s: sketched CDF's fractions differ", a.Label)
		}
		for j := range cs.T {
			if math.Abs(cs.T[j]-ce.T[j]) > SketchRelativeAccuracy*ce.T[j]*1.0000001 {
				t.Fatalf("%s: sketched CDF point %d: %v, exact %v", a.Label, j, cs.T[j], ce.T[j])
			}
		}
	}
}

// firstDiff shows where two texts first differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			lo := max(0, i-3)
			return fmt.Sprintf("line %d: got\n", i+1) + strings.Join(g[lo:i+1], "\n") + "\nwant\n" + strings.Join(w[lo:i+1], "\n")
		}
	}
	return "one is a prefix of the other"
}

// TestCompareStreamErrors: a trace that cannot be read fails the whole
// comparison with the reader's message; CSV's records are refused; a
// scenario that cannot run fails alone, as in Compare.
func TestCompareStreamErrors(t *testing.T) {
	data := sampleBytes(t)
	ents := entries(t, "round_robin+lru")
	bad := append(slices.Clone(data), []byte("{\"timestamp\": 5, \"input_length\": \"x\"}\n")...)
	_, err := CompareStream(context.Background(), openSample(bad), ents, CompareOptions{Seeds: 1}, StreamCompareOptions{})
	if err == nil || !strings.Contains(err.Error(), ":501:") {
		t.Fatalf("bad line 501: err %v, want the reader's error naming the line", err)
	}
	if ie := new(sim.InputError); errors.As(err, &ie) {
		t.Fatalf("err %v: want the reader's error itself", err)
	}
	over := entries(t, "round_robin+lru", "round_robin+lru;cache_blocks=10;oversize=error")
	c, err := CompareStream(context.Background(), openSample(data), over, CompareOptions{Seeds: 1}, StreamCompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Scenarios[0].OK() || c.Scenarios[1].OK() {
		t.Fatalf("errors %q %q: want the second scenario alone to fail", c.Scenarios[0].Error, c.Scenarios[1].Error)
	}
}

// TestTallyTTFTCDF: the tally's CDF is thinCDF of TTFTCDF to the bit,
// held or spilled (several sorted runs merged back), at a few points and
// at more points than values; a sketched tally's has the same fractions
// and values within the sketch's error.
func TestTallyTTFTCDF(t *testing.T) {
	tr, _ := sampleTrace(t)
	sc := entries(t, "cache_aware+lru")[0].Scenario
	run, err := sim.Simulate(context.Background(), tr, sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, frac := TTFTCDF(run)
	if len(ms) < 100 {
		t.Fatalf("%d completed requests: too few to thin", len(ms))
	}
	for _, n := range []int{7, cdfPoints, len(ms) + 5} {
		want := thinCDF(ms, frac, n)
		for _, kind := range []string{"held", "spilled", "sketched"} {
			tl := NewTally(run.Workers)
			switch kind {
			case "spilled":
				tl.SpillValues(t.TempDir(), 30)
			case "sketched":
				tl = NewSketchTally(run.Workers)
			}
			for i := range run.Records {
				tl.Add(&run.Records[i])
			}
			if kind == "spilled" && !tl.spilled() {
				t.Fatal("the tally did not spill")
			}
			got, err := tl.TTFTCDF(n)
			if err != nil {
				t.Fatal(err)
			}
			tl.Close()
			if !slices.Equal(got.V, want.V) || len(got.T) != len(want.T) {
				t.Fatalf("n=%d %s: fractions %d, want %d equal ones", n, kind, len(got.V), len(want.V))
			}
			for j := range got.T {
				tol := 0.0
				if kind == "sketched" {
					tol = SketchRelativeAccuracy * want.T[j] * 1.0000001
				}
				if math.Abs(got.T[j]-want.T[j]) > tol {
					t.Fatalf("n=%d %s: point %d: %v, want %v", n, kind, j, got.T[j], want.T[j])
				}
			}
		}
	}
}

// TestCompareStreamCSV: a streamed comparison's request rows (spilled to
// unlinked files) give the held comparison's CSV report to the byte, and
// leave nothing in the temporary directory.
func TestCompareStreamCSV(t *testing.T) {
	data := sampleBytes(t)
	tr, err := trace.LoadBytes("sample:"+samples.Mooncake, data, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ents := entries(t, "lbgr+rlt", "round_robin+lru;cache_blocks=100;oversize=fail", "lbgr+rlt")
	opt := CompareOptions{Seeds: 2, KeepRecords: true}
	held, err := Compare(context.Background(), tr, ents, opt)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	streamed, err := CompareStream(context.Background(), openSample(data), ents, opt, StreamCompareOptions{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	defer streamed.Close()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("rows left in the temporary directory: %v", left)
	}
	csvOf := func(c *Comparison) string {
		var b bytes.Buffer
		if err := (&Report{Comparison: c}).WriteCSV(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	want := csvOf(held)
	if !strings.Contains(want, ",failed,") || strings.Count(want, "\n") != 1+3*2*sampleLines-sampleLines {
		t.Fatalf("held CSV: %d lines, failures %v: not the case the test is for", strings.Count(want, "\n"), strings.Contains(want, ",failed,"))
	}
	if got := csvOf(streamed); got != want {
		t.Fatalf("streamed CSV differs:\n%s", firstDiff(got, want))
	}
	if got := csvOf(streamed); got != want {
		t.Fatal("a second CSV of the same comparison differs")
	}
	if err := streamed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := streamed.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}
