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

	"github.com/kvscope/kvscope/samples"
)

// TestDetailMatchesWhole: a streamed run's detail file (OnDetail →
// DetailWriter) holds, row for row, the Scores and Matches of the
// whole-trace run with RequestDetail, zeros for requests failed before
// routing included; hearing the detail changes nothing else of the run;
// a spilled run opens it, and WriteRun writes the same file.
func TestDetailMatchesWhole(t *testing.T) {
	tr := loadSample(t, 0)
	for _, s := range []string{
		"cache_aware+lru;workers=4;cache_blocks=100;oversize=fail",
		"lbgr+rlt;workers=3;cache_blocks=100;oversize=fail",
		"least_load+fifo;workers=2;cache_tokens=40000;oversize=bypass;rate=3",
	} {
		t.Run(s, func(t *testing.T) {
			sc := mustScenario(t, s)
			want, err := Simulate(context.Background(), tr, sc, Options{RequestDetail: true})
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for i := range want.Records {
				if want.Records[i].Worker < 0 {
					failed++
				}
			}
			if strings.Contains(s, "oversize=fail") && failed == 0 {
				t.Fatal("no request failed before routing: not the case the test is for")
			}
			dir := t.TempDir()
			w, err := CreateSpill(dir, sc)
			if err != nil {
				t.Fatal(err)
			}
			var so StreamOptions
			so.IDLimit = -1
			w.Hook(&so)
			if err := w.Detail(&so); err != nil {
				t.Fatal(err)
			}
			var end *Run
			so.OnEnd = func(r *Run) { end = r }
			run, err := SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, so)
			if err != nil {
				w.Abort()
				t.Fatal(err)
			}
			if err := w.Close(end); err != nil {
				t.Fatal(err)
			}
			bare, err := SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, StreamOptions{IDLimit: -1})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(run, bare) {
				t.Fatal("hearing the detail changed the streamed run")
			}
			check := func(dir string) {
				t.Helper()
				sp, err := OpenSpill(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer sp.Close()
				if sp.Detail == nil || sp.Detail.Len() != len(want.Records) {
					t.Fatalf("detail %v: want %d rows", sp.Detail, len(want.Records))
				}
				scores, matches := make([]float32, sc.Workers), make([]int32, sc.Workers)
				for i := range want.Records {
					if err := sp.Detail.Read(i, scores, matches); err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(scores, want.RequestScores(i)) || !slices.Equal(matches, want.RequestMatches(i)) {
						t.Fatalf("request %d: %v %v, whole run %v %v", i, scores, matches, want.RequestScores(i), want.RequestMatches(i))
					}
				}
			}
			check(dir)
			held := t.TempDir()
			hw, err := CreateSpill(held, sc)
			if err != nil {
				t.Fatal(err)
			}
			if err := hw.Detail(nil); err != nil {
				t.Fatal(err)
			}
			hw.WriteRun(want, tr)
			if err := hw.Close(want); err != nil {
				t.Fatal(err)
			}
			check(held)
			a, _ := os.ReadFile(filepath.Join(dir, spillDetailName))
			b, _ := os.ReadFile(filepath.Join(held, spillDetailName))
			if len(a) == 0 || !slices.Equal(a, b) {
				t.Fatalf("detail files of the streamed and the whole run differ (%d and %d bytes)", len(a), len(b))
			}
		})
	}
}

// TestDetailFileErrors: rows out of order, a run shorter than its rows,
// a bad worker count, a negative match and a file of another run's
// workers are errors naming the file; a spilled run without the file
// opens with no detail.
func TestDetailFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.kvd")
	if _, err := CreateDetail(path, 0); err == nil {
		t.Error("0 workers: no error")
	}
	dw, err := CreateDetail(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	dw.Add(3, []float32{1, 2}, []int32{4, 5})
	dw.Add(1, []float32{1, 2}, []int32{4, 5})
	if err := dw.Close(5); err == nil || !strings.Contains(err.Error(), "request 1") {
		t.Errorf("out of order: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed file was left: %v", err)
	}
	dw, _ = CreateDetail(path, 2)
	dw.Add(3, []float32{1, 2}, []int32{4, 5})
	if err := dw.Close(2); err == nil || !strings.Contains(err.Error(), "4 rows for a run of 2") {
		t.Errorf("short run: %v", err)
	}
	dw, _ = CreateDetail(path, 2)
	dw.Add(1, []float32{1.5, -2}, []int32{-7, 5})
	if err := dw.Close(3); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDetail(path, 3); err == nil || !strings.Contains(err.Error(), "row size: 16, want 24") {
		t.Errorf("3 workers: %v", err)
	}
	f, err := OpenDetail(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, m := make([]float32, 2), make([]int32, 2)
	if err := f.Read(0, s, m); err != nil || s[0] != 0 || m[1] != 0 {
		t.Errorf("padded row 0: %v %v (%v)", s, m, err)
	}
	if err := f.Read(1, s, m); err == nil || !strings.Contains(err.Error(), "request 1: match of worker 0") {
		t.Errorf("negative match: %v", err)
	}
	if err := f.Read(3, s, m); err == nil {
		t.Error("row 3 of 3: no error")
	}
}

// FuzzOpenDetail: any bytes open as a detail file of two workers or give
// an error; reading every row never panics and never gives a negative
// match.
func FuzzOpenDetail(f *testing.F) {
	p := filepath.Join(f.TempDir(), "d.kvd")
	dw, err := CreateDetail(p, 2)
	if err != nil {
		f.Fatal(err)
	}
	dw.Add(0, []float32{1, 0.5}, []int32{3, 0})
	dw.Add(2, []float32{-1, 2}, []int32{0, 9})
	if err := dw.Close(4); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte("KVSCOPE\x00DETL"))
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := OpenDetail(fuzzFile(t, "d.kvd", data), 2)
		if err != nil {
			return
		}
		defer df.Close()
		s, m := make([]float32, 2), make([]int32, 2)
		for i := -1; i <= min(df.Len(), 1000); i++ {
			if err := df.Read(i, s, m); err == nil && (m[0] < 0 || m[1] < 0) {
				t.Fatalf("row %d: negative match %v", i, m)
			}
		}
	})
}
