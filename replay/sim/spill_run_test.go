package sim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// dirFiles reads every file under dir, by relative path.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSpillRunMatchesWhole: a streamed run spilled through its sinks, a
// second streamed run of it, and the whole-trace run written by WriteRun
// give the same bytes, and the spilled run reads back as the whole run:
// records, the trace's requests, events, states, and the run's span,
// capacity, units and preemptions in the records footer.
func TestSpillRunMatchesWhole(t *testing.T) {
	tr := loadSample(t, 0)
	for _, s := range []string{
		"cache_aware+lru;workers=4;cache_blocks=300;oversize=fail",
		"lbgr+rlt;workers=3;cache_blocks=300;oversize=bypass",
		"least_load+lru;workers=2;profile=h100-sxm-llama-3.1-8b;latency=vllm:block_size=512;cache_blocks=40",
	} {
		t.Run(s, func(t *testing.T) {
			sc := mustScenario(t, s)
			want, err := Simulate(context.Background(), tr, sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			base := t.TempDir()
			streamTo := func(dir string) {
				w, err := CreateSpill(dir, sc)
				if err != nil {
					t.Fatal(err)
				}
				var opt StreamOptions
				w.Hook(&opt)
				var ended *Run
				opt.OnEnd = func(r *Run) { ended = r }
				run, err := SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, opt)
				if err != nil {
					t.Fatal(err)
				}
				if ended != run {
					t.Fatalf("OnEnd got %p, SimulateStream returned %p", ended, run)
				}
				if err := w.Close(run); err != nil {
					t.Fatal(err)
				}
			}
			a, b, whole := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "whole")
			streamTo(a)
			streamTo(b)
			w, err := CreateSpill(whole, sc)
			if err != nil {
				t.Fatal(err)
			}
			w.WriteRun(want, tr)
			if err := w.Close(want); err != nil {
				t.Fatal(err)
			}
			fa, fb, fw := dirFiles(t, a), dirFiles(t, b), dirFiles(t, whole)
			if len(fa) != sc.Workers+4 {
				t.Fatalf("files %d, want %d", len(fa), sc.Workers+4)
			}
			for name, x := range fa {
				if !bytes.Equal(x, fb[name]) {
					t.Fatalf("%s differs between two runs of the same scenario", name)
				}
				if !bytes.Equal(x, fw[name]) {
					t.Fatalf("%s: streamed and whole runs differ", name)
				}
			}
			for _, dir := range []string{a, whole} {
				sp, err := OpenSpill(dir)
				if err != nil {
					t.Fatal(err)
				}
				ft := sp.Footer()
				if ft.Start != want.Start || ft.End != want.End || ft.Capacity != want.Capacity || ft.Unit != want.Unit ||
					ft.LoadUnit != want.LoadUnit || ft.Preemptions != want.Preemptions || ft.Scenario != want.Scenario {
					t.Fatalf("%s: footer %+v, want run %s [%v, %v] %d %s, loads in %s, %d preemptions", dir, ft, want.Scenario,
						want.Start, want.End, want.Capacity, want.Unit, want.LoadUnit, want.Preemptions)
				}
				if ft.End <= ft.Start || ft.Capacity < 1 || ft.LoadUnit == "" || strings.Contains(s, "vllm") && ft.Preemptions == 0 {
					t.Fatalf("%s: footer %+v: the run's facts are missing", dir, ft)
				}
				if sp.Requests.Len() != len(tr.Requests) {
					t.Fatalf("%s: %d requests, want %d", dir, sp.Requests.Len(), len(tr.Requests))
				}
				i := 0
				if err := sp.Requests.Scan(func(q *RequestInfo) error {
					if w := requestInfoOf(&tr.Requests[i]); *q != w {
						t.Fatalf("%s: request %d is %+v, want %+v", dir, i, *q, w)
					}
					i++
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				sp.Close()
			}
			sp, err := OpenSpill(a)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			if sp.Records.Len() != len(want.Records) || sp.Events.Len() != len(want.Events) {
				t.Fatalf("%d records, %d events; want %d, %d", sp.Records.Len(), sp.Events.Len(), len(want.Records), len(want.Events))
			}
			for _, i := range []int{0, len(want.Records) / 3, len(want.Records) - 1} {
				var r Record
				if err := sp.Records.Read(i, &r); err != nil || !reflect.DeepEqual(r, want.Records[i]) {
					t.Fatalf("record %d: %+v %v, want %+v", i, r, err, want.Records[i])
				}
				var q RequestInfo
				if err := sp.Requests.Read(i, &q); err != nil || q != requestInfoOf(&tr.Requests[i]) {
					t.Fatalf("request %d: %+v %v, want %+v", i, q, err, requestInfoOf(&tr.Requests[i]))
				}
				e, err := sp.Events.At(i)
				if err != nil || e != want.Events[i] {
					t.Fatalf("event %d: %+v %v, want %+v", i, e, err, want.Events[i])
				}
				at := want.Records[i].Start
				st, err := sp.States.StateAt(at)
				if err != nil || !reflect.DeepEqual(st, want.StateAt(at)) {
					t.Fatalf("state at %v: %+v %v, want %+v", at, st, err, want.StateAt(at))
				}
			}
		})
	}
}

// TestSpillRunAbortAndRefusals: an aborted spill leaves nothing, a
// directory holding a spilled run is not written over, and a directory
// without one says so.
func TestSpillRunAbortAndRefusals(t *testing.T) {
	sc := mustScenario(t, "round_robin+lru;workers=2;cache_blocks=300")
	dir := filepath.Join(t.TempDir(), "spill")
	w, err := CreateSpill(dir, sc)
	if err != nil {
		t.Fatal(err)
	}
	var opt StreamOptions
	w.Hook(&opt)
	if _, err := SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, opt); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("aborted spill left %v", ents)
	}
	if _, err := OpenSpill(dir); err == nil || !strings.Contains(err.Error(), "no spilled run") {
		t.Fatalf("open of an empty directory: %v", err)
	}
	w, err = CreateSpill(dir, sc)
	if err != nil {
		t.Fatal(err)
	}
	w.Hook(&opt)
	run, err := SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(run); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateSpill(dir, sc); err == nil || !strings.Contains(err.Error(), "already holds a spilled run") {
		t.Fatalf("second spill into %s: %v", dir, err)
	}
}

// TestAbortAfterClose: a writer's Abort drops its files also once Close
// has committed them, so a spilled run whose last file fails to commit
// leaves none of the others behind.
func TestAbortAfterClose(t *testing.T) {
	dir := t.TempDir()
	ew, err := CreateEvents(filepath.Join(dir, spillEventsName))
	if err != nil {
		t.Fatal(err)
	}
	ew.Add(Event{T: 1, Req: 0, Worker: 0, Kind: LogArrival})
	sw, err := CreateStates(filepath.Join(dir, spillStatesName), 2, "run")
	if err != nil {
		t.Fatal(err)
	}
	sw.Add(1, &Sample{T: 1})
	sw.AddLoads(1, []float32{0, 1})
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if len(dirFiles(t, dir)) != 4 {
		t.Fatalf("committed: %v", dirFiles(t, dir))
	}
	ew.Abort()
	sw.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left after Abort: %v", ents)
	}
}

// TestSpillRunRefusesMismatch: a spilled run whose requests file does not
// match its records is refused naming both counts; a writer handed the
// run of another cluster, or WriteRun a run of another trace, commits
// nothing.
func TestSpillRunRefusesMismatch(t *testing.T) {
	tr := loadSample(t, 0)
	sc := mustScenario(t, "round_robin+lru;workers=2;cache_blocks=300")
	run, err := Simulate(context.Background(), tr, sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	dir := filepath.Join(base, "ok")
	w, err := CreateSpill(dir, sc)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteRun(run, tr)
	if err := w.Close(run); err != nil {
		t.Fatal(err)
	}
	rw, err := CreateRequests(filepath.Join(dir, spillRequestsName))
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Add(&tr.Requests[0]); err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSpill(dir); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("requests: 1 requests, %d records", len(run.Records))) {
		t.Fatalf("open with a short requests file: %v", err)
	}

	other := *run
	other.Workers = 3
	for name, write := range map[string]func(*SpillWriter) error{
		"workers": func(w *SpillWriter) error { w.WriteRun(run, tr); return w.Close(&other) },
		"trace": func(w *SpillWriter) error {
			w.WriteRun(run, &trace.Trace{Info: tr.Info, Requests: tr.Requests[1:]})
			return w.Close(run)
		},
	} {
		dir := filepath.Join(base, name)
		w, err := CreateSpill(dir, sc)
		if err != nil {
			t.Fatal(err)
		}
		if err := write(w); err == nil {
			t.Fatalf("%s: Close succeeded", name)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("%s: a refused run left %v", name, ents)
		}
	}
}
