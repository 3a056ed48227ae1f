package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
)

// The made-up experiment of analysis/measured (two stages, 5 requests,
// output_len 4), simulated as Llama-2-7B on one H100.
func TestValidateMadeUpExperiment(t *testing.T) {
	dir := filepath.Join("measured", "testdata", "exp")
	rep, err := Validate(context.Background(), dir, ValidateOptions{GPU: "h100-sxm", Model: "llama-2-7b", TP: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Profile != "h100-sxm-llama-2-7b" || len(rep.Stages) != 2 || rep.OutputLen != 4 || rep.PromptLen != 52 {
		t.Fatalf("profile %s, %d stages, lengths %g/%g", rep.Profile, len(rep.Stages), rep.PromptLen, rep.OutputLen)
	}
	// exp-config.yaml's server settings reach the latency spec; the
	// calibration and the 300 s timeout are added.
	for _, want := range []string{"max_num_batched_tokens=4096", "max_num_seqs=64", "max_model_len=8192", "timeout_s=300", "step_ms=" + VLLMCalibration["step_ms"]} {
		if !strings.Contains(rep.Scenario, want) {
			t.Errorf("scenario %s lacks %s", rep.Scenario, want)
		}
	}
	s := rep.Summary
	if s.Measured == nil || s.ErrorPct == nil {
		t.Fatal("summary has no measurements")
	}
	m, p := s.Measured, s.Predicted
	// Measured ITL mean is (mean E2E − mean TTFT) / (output − 1), in ms.
	if want := (*m.E2E.Mean - *m.TTFT.Mean) / 3; math.Abs(*m.ITL.Mean-want) > 1e-9 || *m.E2E.Mean != 1000 {
		t.Fatalf("measured itl mean %g, want %g (e2e %g)", *m.ITL.Mean, want, *m.E2E.Mean)
	}
	if m.ITL.P50 != nil || s.ErrorPct.ITL.P50 != nil {
		t.Fatal("measured ITL percentiles cannot be derived")
	}
	for _, c := range []struct{ p, m, e *float64 }{{p.E2E.Mean, m.E2E.Mean, s.ErrorPct.E2E.Mean}, {p.TTFT.P90, m.TTFT.P90, s.ErrorPct.TTFT.P90}} {
		if want := 100 * (*c.p - *c.m) / *c.m; math.Abs(*c.e-want) > 1e-9 {
			t.Fatalf("error %g, want %g", *c.e, want)
		}
	}
	if *p.Completed+*p.Failed != 5 || s.Requests != 5 {
		t.Fatalf("predicted %g completed + %g failed of %d", *p.Completed, *p.Failed, s.Requests)
	}
	// The predicted ITL is per configured output token: each request's
	// (E2E − TTFT)/3, so its mean lies between the extremes of E2E/3.
	if *p.ITL.Mean <= 0 || *p.ITL.Mean > *p.E2E.P99/3 {
		t.Fatalf("predicted itl mean %g, e2e p99 %g", *p.ITL.Mean, *p.E2E.P99)
	}
	// Same inputs, same bytes; every format renders.
	rep2, err := Validate(context.Background(), dir, ValidateOptions{GPU: "h100-sxm", Model: "meta-llama/Llama-2-7b-hf"})
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := rep.WriteJSON(&a); err != nil {
		t.Fatal(err)
	}
	if err := rep2.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	// --tp absent takes exp-config.yaml's 2: a different profile.
	if bytes.Equal(a.Bytes(), b.Bytes()) || rep2.Profile != "h100-sxm-llama-2-7b-tp2" {
		t.Fatalf("tp from exp-config: profile %s", rep2.Profile)
	}
	var j map[string]any
	if err := json.Unmarshal(a.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stages", "summary"} {
		if _, ok := j[k]; !ok {
			t.Fatalf("JSON lacks %s", k)
		}
	}
	sum := j["summary"].(map[string]any)
	for _, k := range []string{"predicted", "measured", "error_pct"} {
		f, ok := sum[k].(map[string]any)
		if !ok {
			t.Fatalf("summary lacks %s", k)
		}
		for _, key := range []string{"ttft_ms", "itl_ms", "e2e_ms", "throughput_rps", "completed", "failed"} {
			if _, ok := f[key]; !ok {
				t.Fatalf("summary.%s lacks %s", k, key)
			}
		}
	}
	for _, f := range Formats {
		var w bytes.Buffer
		if err := rep.Write(&w, f); err != nil || w.Len() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	dir := filepath.Join("measured", "testdata", "exp")
	for _, c := range []struct {
		dir  string
		o    ValidateOptions
		want string
	}{
		{dir, ValidateOptions{Model: "llama-2-7b"}, "give --gpu"},
		{dir, ValidateOptions{GPU: "h100-sxm"}, `model "example/model-7b" is not in the catalogue`},
		{dir, ValidateOptions{GPU: "h100", Model: "llama-2-7b"}, `unknown GPU "h100"`},
		{dir, ValidateOptions{Profile: "h100-sxm-llama-2-7b", GPU: "h100-sxm"}, "not both"},
		{dir, ValidateOptions{GPU: "h100-sxm", Model: "llama-2-7b", Latency: "linear"}, "want vllm"},
		{dir, ValidateOptions{GPU: "h100-sxm", Model: "llama-2-7b", Latency: "vllm:step_ms=-1"}, "step_ms"},
		{dir, ValidateOptions{GPU: "h100-sxm", Model: "llama-2-7b", Latency: "vllm:block_size=0"}, "block_size"},
		{"testdata/no-such-dir", ValidateOptions{GPU: "h100-sxm"}, "no-such-dir"},
	} {
		_, err := Validate(context.Background(), c.dir, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error containing %q", c.o, err, c.want)
		}
	}
}

// Every ground-truth experiment validates; the measured four carry
// errors, the twelve held out predictions only. On the calibration set the
// issue's targets hold: E2E mean within 10%, TTFT mean within 20%, ITL
// mean within 15% on the three non-overloaded runs, and a predicted failed
// share above 50% on the overloaded reasoning run.
func TestValidateGroundTruth(t *testing.T) {
	for _, dir := range testenv.VLLMExperiments(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && !strings.Contains(name, "llama-2-7b-") {
				t.Skip("-short: the four calibration runs only (about 2 s each)")
			}
			rep, err := Validate(context.Background(), dir, ValidateOptions{GPU: "h100-sxm"})
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(filepath.Join(dir, "results", "summary_lifecycle_metrics.json"))
			s := rep.Summary
			if (statErr == nil) != (s.Measured != nil) {
				t.Fatalf("measured %v, summary file %v", s.Measured != nil, statErr)
			}
			if *s.Predicted.Completed+*s.Predicted.Failed != float64(s.Requests) {
				t.Fatalf("%g + %g != %d", *s.Predicted.Completed, *s.Predicted.Failed, s.Requests)
			}
			if s.Measured == nil {
				return
			}
			e := s.ErrorPct
			if strings.Contains(name, "reasoning") {
				if share := *s.Predicted.Failed / float64(s.Requests); share <= 0.5 {
					t.Errorf("predicted failed share %.3f, want > 0.5", share)
				}
				return
			}
			for _, c := range []struct {
				what  string
				err   *float64
				limit float64
			}{{"E2E mean", e.E2E.Mean, 10}, {"TTFT mean", e.TTFT.Mean, 20}, {"ITL mean", e.ITL.Mean, 15}} {
				if math.Abs(*c.err) > c.limit {
					t.Errorf("%s error %+.1f%%, target ±%g%%", c.what, *c.err, c.limit)
				}
			}
		})
	}
}

// BenchmarkValidate is one experiment's validation (the target: under 5 s
// on one core; run with -cpu 1).
func BenchmarkValidate(b *testing.B) {
	dir := filepath.Join(testenv.VLLMGroundTruth(b), "20260217-155451-llama-2-7b-tp1-codegen")
	for b.Loop() {
		if _, err := Validate(context.Background(), dir, ValidateOptions{GPU: "h100-sxm"}); err != nil {
			b.Fatal(err)
		}
	}
}

// inference-perf starts a stage once the one before has ended: with slow
// steps (step_ms=3000) stage 0's requests end long after its last arrival,
// and stage 1's arrivals move past that end, keeping their gaps.
func TestValidateStageShift(t *testing.T) {
	dir := filepath.Join("measured", "testdata", "exp")
	o := ValidateOptions{GPU: "h100-sxm", Model: "llama-2-7b", TP: 1, Latency: "vllm:step_ms=3000"}
	rep, tr, run, err := validate(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	n0 := rep.Stages[0].Requests
	var end0 = run.Records[0].Done
	for i := range n0 {
		end0 = max(end0, run.Records[i].Done)
	}
	first1 := tr.Requests[n0].Arrival
	if end0 <= tr.Requests[n0-1].Arrival || first1 < end0 {
		t.Fatalf("stage 0 ends at %v (last arrival %v); stage 1 starts at %v", end0, tr.Requests[n0-1].Arrival, first1)
	}
	if gap := tr.Requests[n0+1].Arrival - first1; gap <= 0 {
		t.Fatalf("stage 1's gap %v", gap)
	}
}

// ValidateAll's medians are over measured runs with < 10% failed: the
// made-up experiment (1 of 5 failed) is left out; among the four
// Llama-2-7B runs the overloaded reasoning run is.
func TestValidateAll(t *testing.T) {
	o := ValidateOptions{GPU: "h100-sxm", Model: "llama-2-7b", TP: 1}
	set, err := ValidateAll(context.Background(), []string{filepath.Join("measured", "testdata", "exp")}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Experiments) != 1 || len(set.Included) != 0 || set.Median.E2E != nil {
		t.Fatalf("made-up: %d reports, included %v", len(set.Experiments), set.Included)
	}
	var dirs []string
	for _, d := range testenv.VLLMExperiments(t) {
		if strings.Contains(d, "llama-2-7b-") {
			dirs = append(dirs, d)
		}
	}
	set, err = ValidateAll(context.Background(), dirs, ValidateOptions{GPU: "h100-sxm"})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Included) != 3 || slices.ContainsFunc(set.Included, func(n string) bool { return strings.Contains(n, "reasoning") }) {
		t.Fatalf("included %v", set.Included)
	}
	var abs []float64
	for _, r := range set.Experiments {
		if !strings.Contains(r.Dir, "reasoning") {
			abs = append(abs, math.Abs(*r.Summary.ErrorPct.E2E.Mean))
		}
	}
	slices.Sort(abs)
	if *set.Median.E2E != abs[1] {
		t.Fatalf("median %g, errors %v", *set.Median.E2E, abs)
	}
	var b bytes.Buffer
	if err := set.WriteText(&b); err != nil || !strings.Contains(b.String(), "median |error| over 3 measured experiments") {
		t.Fatalf("%v\n%s", err, b.String())
	}
}
