package analysis

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// TestPlanStreamMatchesPlan: a plan whose cells read the trace anew
// (StreamPlanRunner) gives Plan's result on the held trace to the bit, its
// notes aside, at any parallelism; with sketches the SLO metrics move
// within the sketch's error; a reading error fails the plan with the
// reader's message.
func TestPlanStreamMatchesPlan(t *testing.T) {
	data := sampleBytes(t)
	tr, err := trace.LoadBytes("sample:"+samples.Mooncake, data, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slos, err := ParseSLOs("ttft_p90=2s,e2e_mean=2s,tpot_p99=1ms")
	if err != nil {
		t.Fatal(err)
	}
	const lat = ";cache_blocks=1000;latency=linear:miss_ms=0.02,out_ms=0.5"
	entries := []Entry{fakeEntry(t, "lbgr+rlt"+lat), fakeEntry(t, "consistent_hash:n=3+lru"+lat),
		fakeEntry(t, "round_robin+lru;cache_blocks=10;time_scale=0.05")}
	opt := PlanOptions{SLOs: slos, MaxWorkers: 6, Seeds: 2}
	held, err := Plan(context.Background(), tr, entries, opt)
	if err != nil {
		t.Fatal(err)
	}
	tpot := held.Scenarios[0].Candidates[0].Probes[0].SLOs[2]
	if held.Scenarios[0].Workers == nil || len(held.Failures()) != 1 || tpot.Value.Mean == 0 {
		t.Fatalf("held plan: answer %v, failures %q, tpot %v: not the case the test is for",
			held.Scenarios[0].Workers, held.Failures(), tpot.Value.Mean)
	}
	render := func(res *PlanResult) string {
		var b bytes.Buffer
		if err := (&PlanReport{Command: "x", Version: "test", PlanResult: res}).WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	stream := func(par int, sketch bool, open OpenFunc) (*PlanResult, *StreamPlanRunner, error) {
		r := &StreamPlanRunner{Open: open, Parallel: par, Options: StreamCompareOptions{Sketch: sketch, TempDir: t.TempDir()}}
		o := opt
		o.Runner, o.BlockSize = r.Run, tr.Info.BlockSize
		res, err := Plan(context.Background(), nil, entries, o)
		if err == nil {
			res.Trace = r.Info()
		}
		return res, r, err
	}
	want := render(held)
	for _, par := range []int{1, 3} {
		res, r, err := stream(par, false, openSample(data))
		if err != nil {
			t.Fatal(err)
		}
		notes := r.Notes()
		if !slices.Contains(notes, StreamedPlanNote) {
			t.Errorf("notes %q lack the streamed note", notes)
		}
		if got := render(res); got != want {
			t.Fatalf("parallel %d: streamed plan differs:\n%s", par, firstDiff(got, want))
		}
	}
	sk, _, err := stream(2, true, openSample(data))
	if err != nil {
		t.Fatal(err)
	}
	if sk.Runs != held.Runs {
		t.Logf("sketched plan ran %d cells, the exact one %d (a margin near 0 can move the search)", sk.Runs, held.Runs)
	}
	for i, s := range sk.Scenarios {
		for k, c := range s.Candidates {
			hc := held.Scenarios[i].Candidates[k]
			for _, p := range c.Probes {
				for _, hp := range hc.Probes {
					if hp.Workers != p.Workers {
						continue
					}
					for m, v := range p.SLOs {
						x, y := float64(v.Value.Mean), float64(hp.SLOs[m].Value.Mean)
						if !(math.Abs(x-y) <= SketchRelativeAccuracy*math.Abs(y)*1.0000001+1e-9*math.Abs(y) || math.IsNaN(x) && math.IsNaN(y)) {
							t.Fatalf("%s %d workers %s: sketched %v, exact %v", s.Label, p.Workers, v.Metric, x, y)
						}
					}
				}
			}
		}
	}
	bad := append(slices.Clone(data), []byte("{\"timestamp\": 5, \"input_length\": \"x\"}\n")...)
	if _, _, err := stream(2, false, openSample(bad)); err == nil || !strings.Contains(err.Error(), ":501:") {
		t.Fatalf("bad line 501: err %v, want the reader's error naming it", err)
	}
}
