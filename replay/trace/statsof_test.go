package trace

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// StatsOf over a loaded trace gives exactly what ComputeStats gives over a
// second streaming read of the same file (what compare and the explorer
// used to do).
func TestStatsOfMatchesStream(t *testing.T) {
	for _, c := range []struct {
		path string
		opt  ReadOptions
	}{
		{"testdata/mooncake_300.jsonl", ReadOptions{}},
		{"testdata/azure_code_300.csv", ReadOptions{}},
		{"testdata/azure_code_300.csv", ReadOptions{BlockSize: 64}},
		{"testdata/kvtester_3.tar.xz", ReadOptions{}},
		{"testdata/kvtester_3.tar.xz", ReadOptions{SessionStart: "poisson:rate=2", Seed: 3}},
		{"testdata/kvtester", ReadOptions{}},
		{"../../samples/gsp_small.jsonl", ReadOptions{}},
		{"../../samples/mooncake_conversation_2000.jsonl", ReadOptions{}},
		{"bad-lines", ReadOptions{SkipBad: true}},
	} {
		if c.path == "bad-lines" {
			// Mooncake with two bad lines, skipped and counted.
			raw, err := os.ReadFile("testdata/mooncake_300.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(raw), "\n")
			lines = slices.Insert(lines, 5, "{\"timestamp\": 9, \"input_length\": -3}\n")
			lines = slices.Insert(lines, 40, "not json\n")
			c.path = filepath.Join(t.TempDir(), "bad.jsonl")
			if err := os.WriteFile(c.path, []byte(strings.Join(lines, "")), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(c.path, func(t *testing.T) {
			if _, err := os.Stat(c.path); err != nil {
				t.Fatal(err)
			}
			tr, err := Load(c.path, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(c.path, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			want, err := ComputeStats(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := StatsOf(tr); !reflect.DeepEqual(got, want) {
				t.Fatalf("StatsOf differs from ComputeStats:\n got %+v\nwant %+v", got, want)
			}
			if c.opt.SkipBad && want.SkippedLines != 2 {
				t.Fatalf("skipped %d lines, want 2", want.SkippedLines)
			}
			if want.Requests == 0 {
				t.Fatal("no requests: the case checks nothing")
			}
		})
	}
}
