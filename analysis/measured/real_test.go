package measured

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kvscope/kvscope/internal/testenv"
)

// The 16 experiments of ../shared/vllm-groundtruth (read in place: the
// folder has no licence). Every value read is compared with a second,
// independent reading of the same file (encoding/json into maps, a plain
// YAML decode).
func TestGroundTruthExperiments(t *testing.T) {
	dirs := testenv.VLLMExperiments(t)
	var measured []string
	for _, dir := range dirs {
		e, err := LoadExperiment(dir)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(dir)
		var srv map[string]any
		b, err := os.ReadFile(filepath.Join(dir, "exp-config.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &srv); err != nil {
			t.Fatal(err)
		}
		s := e.Server
		if s == nil || s.Model != srv["model"] || s.TensorParallelism != srv["tensor_parallelism"] || s.MaxModelLen != srv["max_model_len"] ||
			s.MaxNumBatchedTokens != srv["max_num_batched_tokens"] || s.MaxNumSeqs != srv["max_num_seqs"] || s.App != srv["app"] {
			t.Fatalf("%s: server %+v, file %v", name, s, srv)
		}
		if e.Config.ModelName != s.Model {
			t.Fatalf("%s: inference-perf drove %q, the server ran %q", name, e.Config.ModelName, s.Model)
		}
		if !e.Measured() {
			continue
		}
		measured = append(measured, name)
		for k, l := range append([]*Lifecycle{e.Summary}, e.Stages...) {
			if l == nil {
				t.Fatalf("%s: report %d missing", name, k-1)
			}
			compareReport(t, l)
		}
	}
	if len(measured) != 4 {
		t.Fatalf("measured experiments %v, want the four Llama-2-7B runs", measured)
	}
	for _, m := range measured {
		if !strings.Contains(m, "llama-2-7b") {
			t.Fatalf("measured experiment %s is not a Llama-2-7B run", m)
		}
	}
}

// compareReport checks every field of l against a plain decoding of its
// file.
func compareReport(t *testing.T, l *Lifecycle) {
	t.Helper()
	b, err := os.ReadFile(l.File)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var v any = m
		for _, k := range strings.Split(path, ".") {
			o, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: no %s in the file", l.File, path)
			}
			v = o[k]
		}
		return v
	}
	eq := func(path string, got float64) {
		if want := get(path).(float64); got != want {
			t.Fatalf("%s: %s = %v, file %v", l.File, path, got, want)
		}
	}
	eq("load_summary.count", float64(l.Requests))
	eq("successes.count", float64(l.Successes))
	eq("failures.count", float64(l.Failures))
	if l.HasRate != (l.Stage >= 0) {
		t.Fatalf("%s: stage %d, has rate %v", l.File, l.Stage, l.HasRate)
	}
	if l.HasRate {
		eq("load_summary.requested_rate", l.RequestedRate)
		eq("load_summary.achieved_rate", l.AchievedRate)
		eq("load_summary.send_duration", l.SendDuration)
	}
	eq("successes.throughput.input_tokens_per_sec", l.InputTokensPerS)
	eq("successes.throughput.output_tokens_per_sec", l.OutputTokensPerS)
	eq("successes.throughput.total_tokens_per_sec", l.TotalTokensPerS)
	eq("successes.throughput.requests_per_sec", l.RequestsPerS)
	for path, s := range map[string]*Stat{
		"load_summary.schedule_delay":                        l.ScheduleDelay,
		"successes.latency.request_latency":                  l.RequestLatency,
		"successes.latency.time_to_first_token":              l.TTFT,
		"successes.latency.time_per_output_token":            l.TPOT,
		"successes.latency.normalized_time_per_output_token": l.NTPOT,
		"successes.latency.inter_token_latency":              l.ITL,
		"successes.prompt_len":                               l.PromptLen,
		"successes.output_len":                               l.OutputLen,
		"failures.request_latency":                           l.FailedLatency,
		"failures.prompt_len":                                l.FailedPromptLen,
	} {
		raw := get(path)
		if raw == nil {
			if s != nil {
				t.Fatalf("%s: %s is null, read %+v", l.File, path, s)
			}
			continue
		}
		obj := raw.(map[string]any)
		if s == nil || len(s.Percentiles)+3 != len(obj) {
			t.Fatalf("%s: %s: read %+v, file has %d keys", l.File, path, s, len(obj))
		}
		eq(path+".mean", s.Mean)
		eq(path+".min", s.Min)
		eq(path+".max", s.Max)
		for _, p := range s.Percentiles {
			key := "p" + strconv.FormatFloat(p.Q, 'g', -1, 64)
			if p.Q == 50 {
				key = "median"
			}
			if want, ok := obj[key].(float64); !ok || want != p.V {
				t.Fatalf("%s: %s.%s = %v, file %v", l.File, path, key, p.V, obj[key])
			}
		}
	}
	if l.Failures > 0 && (l.FailedLatency == nil || l.FailedPromptLen == nil) {
		t.Fatalf("%s: %d failures without their summaries", l.File, l.Failures)
	}
}
