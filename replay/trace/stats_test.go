package trace

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

func statsFile(t testing.TB, path string, opt ReadOptions) *Stats {
	t.Helper()
	s, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := ComputeStats(s)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestStatsHand checks every statistic on a trace small enough to count by
// hand.
func TestStatsHand(t *testing.T) {
	// Block size 4. Arrivals 0, 0.5, 1.2, 61 s.
	const data = `{"format":"kvscope-trace","version":1,"block_size":4}
{"arrival_s":0,"input":10,"output":1,"blocks":[1,2,3],"last_block_tokens":2,"session":0}
{"arrival_s":0.5,"input":8,"output":2,"blocks":[1,2],"session":0}
{"arrival_s":1.2,"input":14,"output":3,"blocks":[1,2,3],"last_block_tokens":2,"session":5}
{"arrival_s":61,"input":5,"output":4,"blocks":[9],"session":7,"tags":["subagent"]}
`
	st, err := statsOf(t, "hand", data, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Tail tokens: request 3 has 14 input tokens, its chain covers 10 (4);
	// request 4 has 5 and one full block (1).
	want := Stats{
		Requests: 4, SubagentRequests: 1, TopLevelRequests: 3,
		DurationS: 61, MeanRate: 4.0 / 61, PeakRate1s: 2, PeakRate60s: 3.0 / 60,
		InputTokens: 37, OutputTokens: 10,
		Input:     Lengths{Mean: 37.0 / 4, P50: 8, P90: 14, P99: 14, Max: 14},
		Output:    Lengths{Mean: 2.5, P50: 2, P90: 4, P99: 4, Max: 4},
		BlockSize: 4, Blocks: 9, UniqueBlocks: 4, TailTokens: 5, Sessions: 3,
		// Hits: request 2 hits 1,2 (8 tokens); request 3 hits 1,2,3 (4+4+2).
		HitBlocks: 5, HitTokens: 18,
		IdealBlockHitRatio: 5.0 / 9, IdealTokenHitRatio: 18.0 / 37,
		MaxRequestBlocks: 3, DeepestSharedPrefix: 3,
		// Blocks 1 and 2 in 3 requests, 3 in 2, 9 in 1.
		Sharing: []SharingBin{{1, 1, 1}, {2, 3, 3}},
	}
	st.Info = Info{}
	if !statsEqual(st, &want) {
		g, _ := json.Marshal(st)
		w, _ := json.Marshal(&want)
		t.Fatalf("got  %s\nwant %s", g, w)
	}
}

func statsEqual(a, b *Stats) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// TestStatsGolden compares the JSON statistics of the test slices with
// golden files (go test -update rewrites them).
func TestStatsGolden(t *testing.T) {
	for _, c := range []struct {
		golden, path string
		opt          ReadOptions
	}{
		{"mooncake_300", "testdata/mooncake_300.jsonl", ReadOptions{}},
		{"azure_code_300", "testdata/azure_code_300.csv", ReadOptions{}},
		{"kvtester_3", "testdata/kvtester_3.tar.xz", ReadOptions{SessionStart: "poisson:rate=0.001", Seed: 7}},
	} {
		st := statsFile(t, c.path, c.opt)
		got, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		p := filepath.Join("testdata", "golden", c.golden+".stats.json")
		if *update {
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: statistics differ from %s:\n%s", c.path, p, got)
		}
	}
}

// TestSharedTraces checks the figures of SPEC §2 and the shared traces'
// README on the real files.
func TestSharedTraces(t *testing.T) {
	dir := testenv.SharedTraces(t)
	t.Run("mooncake", func(t *testing.T) {
		testenv.SkipIfShort(t, "reads the whole Mooncake trace (12,031 requests); testdata/mooncake_300.jsonl is read in every run")
		st := statsFile(t, filepath.Join(dir, "mooncake", "conversation_trace.jsonl"), ReadOptions{})
		if st.Requests != 12031 || math.Abs(st.IdealBlockHitRatio-0.366412) > 1e-6 ||
			st.HitBlocks != 105710 || st.Blocks != 288500 || st.UniqueBlocks != 182790 || st.MaxRequestBlocks != 247 {
			t.Fatalf("requests %d ratio %.7f hits %d/%d unique %d longest %d",
				st.Requests, st.IdealBlockHitRatio, st.HitBlocks, st.Blocks, st.UniqueBlocks, st.MaxRequestBlocks)
		}
	})
	t.Run("azure", func(t *testing.T) {
		// The shared README says 8,818 and 19,365: the files hold 8,819 and
		// 19,366 data rows after the header (Python's csv module agrees).
		for name, want := range map[string]int{"AzureLLMInferenceTrace_code.csv": 8819, "AzureLLMInferenceTrace_conv.csv": 19366} {
			st := statsFile(t, filepath.Join(dir, "azure2023", name), ReadOptions{})
			if st.Requests != want || st.IdealBlockHitRatio != 0 || st.DurationS < 3000 || st.DurationS > 3600 {
				t.Fatalf("%s: %d requests, ratio %v, duration %v", name, st.Requests, st.IdealBlockHitRatio, st.DurationS)
			}
		}
	})
	t.Run("kvtester", func(t *testing.T) {
		testenv.SkipIfShort(t, "reads the whole kv-cache-tester archive (441 MB of JSON); testdata/kvtester_3.tar.xz is read in every run")
		st := statsFile(t, filepath.Join(dir, "kv-cache-tester", "traces.tar.xz"), ReadOptions{})
		if st.Requests != 49334 || st.TopLevelRequests != 48658 || st.SubagentRequests != 676 || st.Sessions != 710 {
			t.Fatalf("requests %d (top-level %d, sub-agents %d), sessions %d", st.Requests, st.TopLevelRequests, st.SubagentRequests, st.Sessions)
		}
		// README: ideal per-session block hit ratio 0.963.
		if math.Abs(st.IdealBlockHitRatio-0.963) > 0.0005 || st.Blocks != 94310647 {
			t.Fatalf("ratio %.6f over %d lookups", st.IdealBlockHitRatio, st.Blocks)
		}
	})
}

func TestStatsText(t *testing.T) {
	st := statsFile(t, "testdata/mooncake_300.jsonl", ReadOptions{})
	txt := st.String()
	for _, w := range []string{"requests                     300", "ideal block hit ratio", "peak rate (1 s bins)", "requests sharing a block"} {
		if !strings.Contains(txt, w) {
			t.Errorf("text lacks %q:\n%s", w, txt)
		}
	}
}
