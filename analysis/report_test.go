package analysis

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var (
	goldenOnce sync.Once
	goldenRep  *Report
	goldenErr  error
)

// goldenReport is the comparison the golden files hold: the first 500
// requests of the Mooncake sample, three scenarios (two randomized, one
// deterministic), three seeds, a sweep over cache_blocks.
func goldenReport(t testing.TB) *Report {
	t.Helper()
	tr, st := sampleTrace(t)
	goldenOnce.Do(func() {
		sw, err := ParseSweep("cache_blocks=500,2000")
		if err != nil {
			goldenErr = err
			return
		}
		es := entries(t, "lbgr+rlt", "cache_aware+rlt", "cache_aware+lru")
		cmp, err := Compare(context.Background(), tr, es, CompareOptions{Seeds: 3, Points: 24, Sweep: &sw, KeepRecords: true})
		if err != nil {
			goldenErr = err
			return
		}
		goldenRep = &Report{
			Command: "kvscope compare sample -s lbgr+rlt -s cache_aware+rlt -s cache_aware+lru --workers 4 --cache-blocks 1000 --latency linear:miss_ms=0.02 --seeds 3 --sweep cache_blocks=500,2000 -o r.md",
			Version: "test", Stats: st, Comparison: cmp,
		}
	})
	if goldenErr != nil {
		t.Fatal(goldenErr)
	}
	return goldenRep
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run with -update if the change is intended)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: %d lines, want %d (run with -update if intended)", path, len(gl), len(wl))
	}
}

func render(t *testing.T, r *Report, f Format) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b, f); err != nil {
		t.Fatal(err)
	}
	// Twice: the same inputs give the same bytes.
	var b2 bytes.Buffer
	if err := r.Write(&b2, f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), b2.Bytes()) {
		t.Fatalf("%s report differs between two renderings", f)
	}
	return b.Bytes()
}

func TestReportMarkdownGolden(t *testing.T) {
	r := goldenReport(t)
	out := render(t, r, FormatMarkdown)
	s := string(out)
	for _, want := range []string{
		"kvscope compare sample -s lbgr+rlt", "kvscope test", "## Trace", "| requests | 500 |",
		NoInterval, "mean ± 95% t, seeds 1..3 (df 2)", "★", "## Paired comparisons", "## Per worker",
		"## Sweep over cache_blocks", "### Cluster token hit ratio over time", "### TTFT CDF",
		"### Competitive ratio per worker", "### token hit ratio against cache_blocks",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(s, "\x1b[") {
		t.Error("markdown contains ANSI escapes")
	}
	checkGolden(t, "report.md.golden", out)
}

func TestReportJSONGolden(t *testing.T) {
	r := goldenReport(t)
	out := render(t, r, FormatJSON)
	var doc struct {
		Version   int `json:"version"`
		Scenarios []struct {
			Label    string   `json:"label"`
			Interval string   `json:"interval"`
			Seeds    []uint64 `json:"seeds"`
			Metrics  []struct {
				Key    string `json:"key"`
				Values []F    `json:"values"`
				Det    bool   `json:"deterministic"`
			} `json:"metrics"`
			Runs []struct {
				Workers []struct {
					Values map[string]F `json:"values"`
				} `json:"workers"`
			} `json:"runs"`
		} `json:"scenarios"`
		Paired []PairedResult `json:"paired"`
		Sweep  *SweepResult   `json:"sweep"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || len(doc.Scenarios) != 3 || doc.Sweep == nil || len(doc.Paired) == 0 {
		t.Fatalf("version %d, %d scenarios, sweep %v, %d pairs", doc.Version, len(doc.Scenarios), doc.Sweep != nil, len(doc.Paired))
	}
	for _, s := range doc.Scenarios {
		if len(s.Metrics) != len(MetricDefs) {
			t.Fatalf("%s: %d metrics, want %d", s.Label, len(s.Metrics), len(MetricDefs))
		}
		for _, m := range s.Metrics {
			if len(m.Values) != len(s.Seeds) {
				t.Fatalf("%s %s: %d per-seed values for %d seeds", s.Label, m.Key, len(m.Values), len(s.Seeds))
			}
		}
		if len(s.Runs) != len(s.Seeds) || len(s.Runs[0].Workers) != 4 || len(s.Runs[0].Workers[0].Values) != len(WorkerDefs) {
			t.Fatalf("%s: per-seed worker tables missing", s.Label)
		}
	}
	if doc.Scenarios[2].Interval != NoInterval || !doc.Scenarios[2].Metrics[0].Det {
		t.Fatalf("deterministic scenario: %q", doc.Scenarios[2].Interval)
	}
	checkGolden(t, "report.json.golden", out)
}

func TestReportCSVGolden(t *testing.T) {
	r := goldenReport(t)
	out := render(t, r, FormatCSV)
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// 500 requests × (3 + 3 + 1) runs, plus the header.
	if want := 1 + sampleLines*7; len(rows) != want {
		t.Fatalf("%d rows, want %d", len(rows), want)
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("header %v", rows[0])
	}
	seen := map[string]int{}
	for _, row := range rows[1:] {
		seen[row[0]+"/"+row[1]]++
	}
	for _, k := range []string{"lbgr+rlt/1", "lbgr+rlt/2", "lbgr+rlt/3", "cache_aware+rlt/3", "cache_aware+lru/1"} {
		if seen[k] != sampleLines {
			t.Fatalf("%s: %d rows, want %d (all: %v)", k, seen[k], sampleLines, seen)
		}
	}
	checkGolden(t, "report.csv.golden", out)
}

func TestReportCSVNeedsRecords(t *testing.T) {
	tr, _ := sampleTrace(t)
	cmp, err := Compare(context.Background(), tr, entries(t, "lbgr+lru"), CompareOptions{Points: 5})
	if err != nil {
		t.Fatal(err)
	}
	err = (&Report{Comparison: cmp}).WriteCSV(&bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "lbgr+lru") {
		t.Fatalf("CSV without records: %v", err)
	}
}

func TestReportHTMLSelfContained(t *testing.T) {
	r := goldenReport(t)
	s := string(render(t, r, FormatHTML))
	for _, bad := range []string{"<script", "http://", "https://", "<link", "@import", "<?xml"} {
		// The SVG namespace URIs are names, not fetches.
		rest := strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, "")
		rest = strings.ReplaceAll(rest, `xmlns:xlink="http://www.w3.org/1999/xlink"`, "")
		if strings.Contains(rest, bad) {
			t.Errorf("HTML report contains %q", bad)
		}
	}
	// hit ratio, 3 queue charts, TTFT CDF, competitive, a sweep chart per
	// headline metric.
	if n, want := strings.Count(s, "<svg "), 1+3+1+1+len(headline()); n != want {
		t.Errorf("%d SVG charts, want %d", n, want)
	}
	if !strings.Contains(s, NoInterval) || !strings.Contains(s, `class="n best"`) {
		t.Error("HTML lacks the no-interval note or best marks")
	}
}

// TestReportHTMLChromium loads the HTML report in headless Chromium: it
// must render without console errors, draw a non-blank screenshot and
// keep every chart in the DOM. The screenshot is kept as
// testdata/report.png (refreshed with -update).
func TestReportHTMLChromium(t *testing.T) {
	r := goldenReport(t)
	page := render(t, r, FormatHTML)
	shot, dom := chromiumRender(t, page)
	checkScreenshot(t, shot, 1000, 3000)

	if n, want := strings.Count(dom, "<svg "), strings.Count(string(page), "<svg "); n != want || n == 0 {
		t.Fatalf("DOM has %d SVG charts, want %d", n, want)
	}
	for _, id := range []string{"chart-hit-ratio", "chart-ttft-cdf", "chart-competitive", "chart-queue-0", "chart-sweep-token_hit_ratio"} {
		if !strings.Contains(dom, `id="`+id+`"`) {
			t.Errorf("DOM lacks chart %s", id)
		}
	}
	// The charts drew: every SVG holds paths (lines, axes) and text.
	if strings.Count(dom, "<path") < 50 || strings.Count(dom, "<text") < 50 {
		t.Fatalf("charts look empty: %d paths, %d texts", strings.Count(dom, "<path"), strings.Count(dom, "<text"))
	}
	if *update {
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "report.png"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
