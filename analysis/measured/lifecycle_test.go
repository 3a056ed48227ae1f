package measured

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLifecycleFixture(t *testing.T) {
	l, err := LoadLifecycle("testdata/exp/results/stage_1_lifecycle_metrics.json", 1)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stage != 1 || l.Requests != 2 || l.Successes != 1 || l.Failures != 1 || !l.HasRate ||
		l.RequestedRate != 2 || l.AchievedRate != 4 || l.SendDuration != 0.5 {
		t.Fatalf("%+v", l)
	}
	if l.TTFT.Mean != 0.04 || l.TTFT.Min != 0.02 || l.TTFT.Max != 0.066 || len(l.TTFT.Percentiles) != 11 {
		t.Fatalf("ttft %+v", l.TTFT)
	}
	if v, ok := l.TTFT.Percentile(50); !ok || v != 0.038 {
		t.Fatalf("ttft median %v %v", v, ok)
	}
	if v, ok := l.TTFT.Percentile(99.9); !ok || v != 0.065 {
		t.Fatalf("ttft p99.9 %v %v", v, ok)
	}
	if _, ok := l.TTFT.Percentile(42); ok {
		t.Fatal("a percentile the file does not give")
	}
	if l.RequestLatency.Mean != 1 || l.TPOT.Mean != 0.02 || l.NTPOT.Mean != 0.2 || l.ITL.Mean != 0.008 {
		t.Fatalf("latencies %+v %+v %+v %+v", l.RequestLatency, l.TPOT, l.NTPOT, l.ITL)
	}
	if l.PromptLen.Mean != 53 || l.OutputLen.Mean != 4 || l.HasCached || l.FailedLatency.Mean != 60 || l.FailedPromptLen.Mean != 53 {
		t.Fatalf("lengths %+v %+v %+v", l.PromptLen, l.OutputLen, l.FailedPromptLen)
	}
	if l.InputTokensPerS != 104 || l.OutputTokensPerS != 8 || l.TotalTokensPerS != 112 || l.RequestsPerS != 2 {
		t.Fatalf("throughput %+v", l)
	}

	// A run summary has no rate; no failures gives null lists.
	l, err = LoadLifecycle("testdata/exp/results/stage_0_lifecycle_metrics.json", 0)
	if err != nil {
		t.Fatal(err)
	}
	if l.Failures != 0 || l.FailedLatency != nil || l.FailedPromptLen != nil {
		t.Fatalf("%+v", l)
	}
	l, err = LoadLifecycle("testdata/exp/results/summary_lifecycle_metrics.json", -1)
	if err != nil || l.HasRate || l.Stage != -1 || l.Requests != 5 {
		t.Fatalf("%+v %v", l, err)
	}

	// The later schema: prompt_tokens with cached tokens, other
	// percentiles, sections kvscope does not read.
	l, err = LoadLifecycle("testdata/later_schema.json", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !l.HasCached || l.PromptTokensCached != 192 || l.PromptLen.Mean != 53 || l.FailedPromptLen != nil {
		t.Fatalf("prompt tokens %+v %+v", l, l.PromptLen)
	}
	if v, ok := l.RequestLatency.Percentile(90); !ok || v != 1.4 || len(l.RequestLatency.Percentiles) != 4 {
		t.Fatalf("request latency %+v", l.RequestLatency)
	}
}

func TestLifecycleErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/exp/results/stage_0_lifecycle_metrics.json")
	if err != nil {
		t.Fatal(err)
	}
	sub := func(old, new string) string {
		if !strings.Contains(string(good), old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	for _, tc := range []struct{ name, json, want string }{
		{"empty", "", `^r\.json:1: unexpected end of JSON`},
		{"syntax", "{\n\"a\": 1,\n}", `^r\.json:3: JSON: invalid character '}'`},
		{"nan", "{\"load_summary\": NaN}", `^r\.json:1: JSON: invalid character 'N'`},
		{"array", "[1]", `^r\.json:1: must be an object`},
		{"trailing", "{} {}", `^r\.json:1: text after the JSON value`},
		{"missing section", `{"load_summary": {"count": 1}, "successes": {"count": 1}}`, `^r\.json:1: failures: missing`},
		{"count string", sub(`"count": 3,`, `"count": "3",`), `^r\.json:3: load_summary\.count: must be a number`},
		{"count fraction", sub(`"count": 3,`, `"count": 3.5,`), `^r\.json:3: load_summary\.count: must be a non-negative integer \(got 3\.5\)`},
		{"counts disagree", sub(`"count": 3,`, `"count": 4,`), `^r\.json:3: load_summary\.count: 4 requests, but 3 successes \+ 0 failures = 3`},
		{"percentile", sub(`"p90": 0.00028,`, `"p90": null,`), `^r\.json:14: load_summary\.schedule_delay\.p90: must be a number`},
		{"no mean", sub(`"mean": 0.0002,`, ``), `^r\.json:\d+: load_summary\.schedule_delay\.mean: missing`},
		{"latency", sub(`"latency": {`, `"latency": 5, "x": {`), `^r\.json:\d+: successes\.latency: must be an object`},
		{"rate", sub(`"requested_rate": 1.0,`, `"requested_rate": true,`), `^r\.json:\d+: load_summary\.requested_rate: must be a number`},
		{"duplicate", sub(`"count": 3,`, `"count": 3, "count": 3,`), `^r\.json:3: count: duplicate key`},
		{"huge", sub(`"send_duration": 1.9,`, `"send_duration": 1e999,`), `^r\.json:\d+: number 1e999 out of range`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLifecycle("r.json", []byte(tc.json), 0)
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Fatalf("error\n  %v\nwant\n  %s", err, tc.want)
			}
		})
	}
}

func TestExperimentFixture(t *testing.T) {
	e, err := LoadExperiment("testdata/exp")
	if err != nil {
		t.Fatal(err)
	}
	if e.Results != filepath.Join("testdata", "exp", "results") || !e.Measured() || len(e.Stages) != 2 ||
		e.Summary.Requests != 5 || e.Stages[0].Requests != 3 || e.Stages[1].Requests != 2 {
		t.Fatalf("%+v", e)
	}
	want := Server{File: filepath.Join("testdata", "exp", "exp-config.yaml"), App: "inference-perf", Model: "example/model-7b",
		TensorParallelism: 2, MaxModelLen: 8192, MaxNumBatchedTokens: 4096, MaxNumSeqs: 64}
	if *e.Server != want {
		t.Fatalf("server %+v", *e.Server)
	}
	if e.Config.Data.SharedPrefix.Groups != 2 || len(e.Config.Load.Stages) != 2 {
		t.Fatalf("config %+v", e.Config)
	}
	// The results folder itself works too (exp-config.yaml one level up).
	e2, err := LoadExperiment("testdata/exp/results")
	if err != nil || e2.Server == nil || e2.Summary == nil {
		t.Fatalf("%+v %v", e2, err)
	}
}

// copyExp copies the fixture experiment into a temporary folder, where a
// test can break it.
func copyExp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir("testdata/exp", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/exp", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExperimentErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(dir string) error
		want string
	}{
		{"stage past the configuration", func(dir string) error {
			b, _ := os.ReadFile(filepath.Join(dir, "results", "stage_1_lifecycle_metrics.json"))
			return os.WriteFile(filepath.Join(dir, "results", "stage_2_lifecycle_metrics.json"), b, 0o644)
		}, `stage_2_lifecycle_metrics\.json: stage 2, but .*config\.yaml configures 2 stages`},
		{"rate of another stage", func(dir string) error {
			return replaceIn(filepath.Join(dir, "results", "config.yaml"), "rate: 2.0", "rate: 3.0")
		}, `stage_1_lifecycle_metrics\.json: load_summary\.requested_rate: 2, but .*config\.yaml:15 gives stage 1 rate 3`},
		{"summary count", func(dir string) error {
			return replaceIn(filepath.Join(dir, "results", "summary_lifecycle_metrics.json"), `"count": 5,`, `"count": 6,`)
		}, `summary_lifecycle_metrics\.json:3: load_summary\.count: 6 requests, but 4 successes \+ 1 failures = 5`},
		{"summary and stages disagree", func(dir string) error {
			p := filepath.Join(dir, "results", "summary_lifecycle_metrics.json")
			if err := replaceIn(p, `"count": 5,`, `"count": 6,`); err != nil {
				return err
			}
			return replaceIn(p, `"count": 4,`, `"count": 5,`)
		}, `summary_lifecycle_metrics\.json: load_summary\.count: 6 requests, but the stage reports hold 5`},
		{"unknown server key", func(dir string) error {
			return replaceIn(filepath.Join(dir, "exp-config.yaml"), "max_num_seqs: 64", "max_num_seqs: 64\ngpu_memory_utilization: 0.9")
		}, `exp-config\.yaml:6: gpu_memory_utilization: unknown key \(known: app, max_model_len, `},
		{"missing server key", func(dir string) error {
			return replaceIn(filepath.Join(dir, "exp-config.yaml"), "tensor_parallelism: 2\n", "")
		}, `exp-config\.yaml:1: tensor_parallelism: required`},
		{"bad server value", func(dir string) error {
			return replaceIn(filepath.Join(dir, "exp-config.yaml"), "max_num_seqs: 64", "max_num_seqs: 0")
		}, `exp-config\.yaml:5: max_num_seqs: must be in \[1, 2147483648\] \(got 0\)`},
		{"bad config", func(dir string) error {
			return replaceIn(filepath.Join(dir, "results", "config.yaml"), "duration: 1", "duration: 0")
		}, `config\.yaml:16: load\.stages\[1\]\.duration: must be in \[1, 10000000\] seconds \(got 0\)`},
		{"no config", func(dir string) error {
			return os.Remove(filepath.Join(dir, "results", "config.yaml"))
		}, `config\.yaml: no such file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyExp(t)
			if err := tc.edit(dir); err != nil {
				t.Fatal(err)
			}
			_, err := LoadExperiment(dir)
			if err == nil || !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Fatalf("error\n  %v\nwant\n  %s", err, tc.want)
			}
		})
	}
	// Reports are optional: a configuration alone is an unmeasured run.
	dir := copyExp(t)
	for _, f := range []string{"summary_lifecycle_metrics.json", "stage_0_lifecycle_metrics.json", "stage_1_lifecycle_metrics.json"} {
		if err := os.Remove(filepath.Join(dir, "results", f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "exp-config.yaml")); err != nil {
		t.Fatal(err)
	}
	e, err := LoadExperiment(dir)
	if err != nil || e.Measured() || e.Server != nil || len(e.Stages) != 2 {
		t.Fatalf("%+v %v", e, err)
	}
}

func replaceIn(path, old, new string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), old) {
		return os.ErrNotExist
	}
	return os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}
