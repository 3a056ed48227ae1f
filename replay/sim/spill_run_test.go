package sim

import (
	"bytes"
	"context"
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
// records, events, states.
func TestSpillRunMatchesWhole(t *testing.T) {
	tr, err := trace.LoadSample(samples.Mooncake)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"cache_aware+lru;workers=4;cache_blocks=300;oversize=fail",
		"lbgr+rlt;workers=3;cache_blocks=300;oversize=bypass",
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
				run, err := SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, opt)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Close(run.Scenario, run.Trace); err != nil {
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
			w.WriteRun(want)
			if err := w.Close(want.Scenario, want.Trace); err != nil {
				t.Fatal(err)
			}
			fa, fb, fw := dirFiles(t, a), dirFiles(t, b), dirFiles(t, whole)
			if len(fa) != sc.Workers+3 {
				t.Fatalf("files %d, want %d", len(fa), sc.Workers+3)
			}
			for name, x := range fa {
				if !bytes.Equal(x, fb[name]) {
					t.Fatalf("%s differs between two runs of the same scenario", name)
				}
				if !bytes.Equal(x, fw[name]) {
					t.Fatalf("%s: streamed and whole runs differ", name)
				}
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
	if err := w.Close(run.Scenario, run.Trace); err != nil {
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
