package infperf

import (
	"regexp"
	"strings"
	"testing"
)

func TestParseFixtures(t *testing.T) {
	c, err := LoadConfig("testdata/dump_shared_prefix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp := c.Data.SharedPrefix
	if c.Data.Type != DataSharedPrefix || sp == nil || sp.Groups != 4 || sp.PromptsPerGroup != 3 ||
		sp.SystemPromptLen != (Length{Const: 40}) || sp.QuestionLen != (Length{Const: 30}) ||
		sp.OutputLen != (Length{Const: 8}) || sp.MultiTurn || sp.Seed != nil {
		t.Fatalf("shared_prefix %+v", sp)
	}
	l := c.Load
	if l.Type != LoadConstant || l.Interval != 0.5 || l.NumWorkers != 8 || !l.MultiProcess() || len(l.Stages) != 2 {
		t.Fatalf("load %+v", l)
	}
	if s := l.Stages[1]; s.Rate != 4.5 || s.Duration != 2 || s.Requests() != 9 || s.Line != 24 {
		t.Fatalf("stage 1 %+v (requests %d)", s, s.Requests())
	}
	if c.ModelName != "example/model-7b" || c.Tokenizer != "example/model-7b" || !c.IgnoreEOS || !c.Streaming || c.APIType != "completion" {
		t.Fatalf("labels %+v", c)
	}

	c, err = LoadConfig("testdata/input_multi_turn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp = c.Data.SharedPrefix
	if sp.Groups != 2 || sp.PromptsPerGroup != 2 || !sp.MultiTurn || sp.Seed == nil || *sp.Seed != 42 {
		t.Fatalf("shared_prefix %+v", sp)
	}
	if d := sp.QuestionLen.Dist; d == nil || d.Type != DistUniform || d.Min != 5 || d.Max != 12 || d.Mean != 512 || d.StdDev != 200 {
		t.Fatalf("question_len %+v", sp.QuestionLen)
	}
	if c.Load.Type != LoadPoisson || c.Load.Interval != 1 || c.Load.NumWorkers != -1 || !c.Load.MultiProcess() ||
		c.Load.BaseSeed == nil || *c.Load.BaseSeed != 7 || c.Load.Stages[0].Requests() != 12 {
		t.Fatalf("load %+v", c.Load)
	}

	c, err = LoadConfig("testdata/random.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Data.Type != DataRandom || c.Data.Input.TotalCount != 50 || c.Data.Output.Type != DistFixed ||
		c.Data.Output.Mean != 12 || c.Load.MultiProcess() || c.Load.Interval != 0 {
		t.Fatalf("random %+v %+v %+v", c.Data, *c.Data.Input, c.Load)
	}
}

// Defaults are inference-perf's, variance replaces std_dev, legacy
// distribution fields apply to integer lengths.
func TestParseDefaults(t *testing.T) {
	c, err := ParseConfig("c.yaml", []byte(`
data:
  type: shared_prefix
  shared_prefix:
    output_len: 0
    question_distribution: {type: normal, mean: 60, std_dev: 0, variance: 16, min: 1, max: 100}
load:
  stages: [{rate: 0.25, duration: 10}]
`))
	if err != nil {
		t.Fatal(err)
	}
	sp := c.Data.SharedPrefix
	if sp.Groups != 10 || sp.PromptsPerGroup != 10 || sp.SystemPromptLen.Const != 100 || sp.OutputLen != (Length{}) {
		t.Fatalf("%+v", sp)
	}
	if d := sp.QuestionLen.Dist; d == nil || d.StdDev != 4 || d.Mean != 60 || d.Min != 1 {
		t.Fatalf("question %+v", sp.QuestionLen)
	}
	if c.Load.Type != LoadConstant || c.Load.Interval != 1 || c.Load.Stages[0].Requests() != 2 {
		t.Fatalf("%+v", c.Load)
	}
	// int(rate × duration) truncates as Python does.
	if n := (Stage{Rate: 0.1, Duration: 30}).Requests(); n != 3 {
		t.Fatalf("0.1 × 30 = %d requests", n)
	}
	if n := (Stage{Rate: 0.7, Duration: 10}).Requests(); n != 7 {
		t.Fatalf("0.7 × 10 = %d requests", n)
	}
}

func TestParseErrors(t *testing.T) {
	const sp = "data:\n  type: shared_prefix\n  shared_prefix: {}\n"
	const stages = "load:\n  stages: [{rate: 1, duration: 2}]\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"syntax", "data: [1,\n", `^c\.yaml:\d+: YAML: `},
		{"two documents", sp + stages + "---\na: 1\n", `^c\.yaml:6: a second YAML document`},
		{"not a mapping", "- 1\n", `^c\.yaml:1: must be a mapping \(got a list\)`},
		{"unknown top key", "dataa: {}\n", `^c\.yaml:1: dataa: unknown key \(known: api, circuit_breakers, data, `},
		{"duplicate", sp + stages + "load: {}\n", `^c\.yaml:6: load: duplicate key`},
		{"empty", "", `^c\.yaml:1: data\.type: not given: inference-perf's default "mock" is not modelled`},
		{"unknown data type", "data: {type: shared-prefix}\n", `^c\.yaml:1: data\.type: unknown data type "shared-prefix" \(inference-perf knows mock, `},
		{"unmodelled data type", "data:\n  type: shareGPT\n", `^c\.yaml:2: data\.type: "shareGPT" is not modelled`},
		{"missing section", "data:\n  type: shared_prefix\n" + stages, `^c\.yaml:2: data\.shared_prefix: data type shared_prefix needs this section`},
		{"unknown shared key", "data:\n  type: shared_prefix\n  shared_prefix:\n    num_group: 3\n" + stages, `^c\.yaml:4: data\.shared_prefix\.num_group: unknown key \(known: enable_multi_turn_chat, `},
		{"bad count", "data:\n  type: shared_prefix\n  shared_prefix:\n    num_groups: 0\n" + stages, `^c\.yaml:4: data\.shared_prefix\.num_groups: must be in \[1, 16777216\] \(got 0\)`},
		{"alias twice", "data:\n  type: shared_prefix\n  shared_prefix:\n    num_groups: 2\n    num_unique_system_prompts: 2\n" + stages, `^c\.yaml:5: data\.shared_prefix\.num_unique_system_prompts: give num_groups or num_unique_system_prompts, not both`},
		{"string length", "data:\n  type: shared_prefix\n  shared_prefix:\n    question_len: \"50\"\n" + stages, `^c\.yaml:4: data\.shared_prefix\.question_len: must be an integer \(got "50"\)`},
		{"fractional length", "data:\n  type: shared_prefix\n  shared_prefix:\n    question_len: 50.5\n" + stages, `^c\.yaml:4: data\.shared_prefix\.question_len: must be an integer \(got 50\.5\)`},
		{"negative length", "data:\n  type: shared_prefix\n  shared_prefix:\n    output_len: -1\n" + stages, `^c\.yaml:4: data\.shared_prefix\.output_len: must be in \[0, `},
		{"inline and legacy", "data:\n  type: shared_prefix\n  shared_prefix:\n    question_len: {mean: 5, min: 1, max: 9}\n    question_distribution: {mean: 5}\n" + stages, `^c\.yaml:5: data\.shared_prefix\.question_distribution: give an inline distribution on data\.shared_prefix\.question_len or this legacy field, not both`},
		{"dist type", "data:\n  type: shared_prefix\n  shared_prefix:\n    question_len: {type: gauss}\n" + stages, `^c\.yaml:4: data\.shared_prefix\.question_len\.type: unknown distribution type "gauss"`},
		{"variance with std_dev", "data:\n  type: shared_prefix\n  shared_prefix:\n    question_len: {variance: 4}\n" + stages, `^c\.yaml:4: data\.shared_prefix\.question_len\.variance: give either std_dev or variance, not both \(std_dev is 200; its default is 200\)`},
		{"min over max", "data:\n  type: shared_prefix\n  shared_prefix:\n    question_len:\n      min: 9\n      max: 3\n" + stages, `^c\.yaml:5: data\.shared_prefix\.question_len\.min: min 9 is greater than max 3`},
		{"lognormal mean", "data:\n  type: shared_prefix\n  shared_prefix:\n    question_len: {type: lognormal, mean: 0, min: 0}\n" + stages, `^c\.yaml:4: data\.shared_prefix\.question_len\.mean: a lognormal distribution needs mean > 0`},
		{"multimodal", "data:\n  type: shared_prefix\n  shared_prefix:\n    multimodal: {image: {}}\n" + stages, `^c\.yaml:4: data\.shared_prefix\.multimodal: multimodal content is not modelled`},
		{"chat api", "api: {type: chat}\n" + sp + stages, `^c\.yaml:1: api\.type: "chat" is not modelled`},
		{"chat template", "data:\n  type: random\n  use_chat_template: true\n", `^c\.yaml:3: data\.use_chat_template: a chat template adds tokens`},
		{"random without distribution", "data:\n  type: random\n" + stages, `^c\.yaml:2: data\.input_distribution: required by the random and synthetic data types`},
		{"random without total_count", "data:\n  type: random\n  input_distribution: {mean: 20}\n  output_distribution: {mean: 20, total_count: 5}\n" + stages, `^c\.yaml:3: data\.input_distribution: total_count is required`},
		{"random normal mean outside", "data:\n  type: random\n  input_distribution: {mean: 2000, total_count: 5}\n  output_distribution: {mean: 20, total_count: 5}\n" + stages, `^c\.yaml:3: data\.input_distribution: mean 2000 must lie in \[min, max\] = \[10, 1024\]`},
		{"random poisson", "data:\n  type: synthetic\n  input_distribution: {type: poisson, total_count: 5}\n  output_distribution: {mean: 20, total_count: 5}\n" + stages, `^c\.yaml:3: data\.input_distribution: type poisson is not supported by the random and synthetic generators`},
		{"random trace", "data:\n  type: random\n  trace: {file: t.csv}\n", `^c\.yaml:3: data\.trace: lengths read from a trace file are not modelled`},
		{"random total_count too small", "data:\n  type: random\n  input_distribution: {mean: 20, total_count: 5}\n  output_distribution: {mean: 20, total_count: 50}\nload:\n  stages:\n  - {rate: 1, duration: 5}\n  - {rate: 2, duration: 3}\n", `^c\.yaml:7: load\.stages: stage 1 \(line 8\) schedules 6 requests, but the length distributions hold total_count = 5`},
		{"load type", sp + "load:\n  type: concurrent\n", `^c\.yaml:5: load\.type: "concurrent" is not modelled`},
		{"unknown load type", sp + "load:\n  type: steady\n", `^c\.yaml:5: load\.type: unknown load type "steady"`},
		{"sweep", sp + "load:\n  sweep: {type: linear}\n", `^c\.yaml:5: load\.sweep: a sweep picks its stages`},
		{"lora", sp + "load:\n  lora_traffic_split: [{name: a, split: 1}]\n  stages: [{rate: 1, duration: 2}]\n", `^c\.yaml:5: load\.lora_traffic_split: LoRA adapters are not modelled`},
		{"no stages", sp, `^c\.yaml:1: load\.stages: no stages`},
		{"stages not a list", sp + "load:\n  stages: {rate: 1}\n", `^c\.yaml:5: load\.stages: must be a list \(got a mapping\)`},
		{"stage key", sp + "load:\n  stages:\n  - {rate: 1, duration: 2, concurrency: 3}\n", `^c\.yaml:6: load\.stages\[0\]\.concurrency: unknown key \(known: concurrency_level, duration, num_requests, rate\)`},
		{"stage num_requests", sp + "load:\n  stages:\n  - {rate: 1, duration: 2, num_requests: 3}\n", `^c\.yaml:6: load\.stages\[0\]\.num_requests: must not be set for constant and poisson load types`},
		{"stage rate missing", sp + "load:\n  stages:\n  - duration: 2\n", `^c\.yaml:6: load\.stages\[0\]\.rate: required`},
		{"stage rate zero", sp + "load:\n  stages:\n  - {rate: 0, duration: 2}\n", `^c\.yaml:6: load\.stages\[0\]\.rate: must be positive \(got 0\)`},
		{"stage rate inf", sp + "load:\n  stages:\n  - {rate: .inf, duration: 2}\n", `^c\.yaml:6: load\.stages\[0\]\.rate: must be a finite number \(got \.inf\)`},
		{"stage duration", sp + "load:\n  stages:\n  - rate: 1\n    duration: 2.5\n", `^c\.yaml:7: load\.stages\[0\]\.duration: must be an integer \(got 2\.5\)`},
		{"stage too many", sp + "load:\n  stages:\n  - {rate: 1e12, duration: 1000}\n", `^c\.yaml:6: load\.stages\[0\]\.rate: rate × duration = 1e\+15 requests, more than `},
		{"negative workers", sp + "load:\n  num_workers: -2\n  stages: [{rate: 1, duration: 2}]\n", `^c\.yaml:5: load\.num_workers: must not be negative`},
		{"merge key", "x: &a {type: shared_prefix}\ndata:\n  <<: *a\n", `^c\.yaml:1: x: unknown key`},
		{"bool", sp + stages + "server: {ignore_eos: yes please}\n", `^c\.yaml:6: server\.ignore_eos: must be true or false \(got "yes please"\)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("c.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Fatalf("error\n  %v\nwant\n  %s", err, tc.want)
			}
		})
	}
}

// Aliases are followed; keys read by label stay lenient where
// inference-perf's sections do not shape the workload.
func TestParseAliasesAndLenientSections(t *testing.T) {
	c, err := ParseConfig("c.yaml", []byte(`
x-lens: &q {type: fixed, mean: 33}
data:
  type: shared_prefix
  shared_prefix:
    question_len: *q
load:
  stages: [{rate: 1, duration: 2}]
report: {request_lifecycle: {percentiles: [50, 99]}, anything: [1, 2]}
`))
	if err == nil || !strings.Contains(err.Error(), "x-lens: unknown key") {
		t.Fatalf("want an unknown top-level key, got %v", err)
	}
	c, err = ParseConfig("c.yaml", []byte(`
data:
  type: shared_prefix
  shared_prefix:
    question_len: &q {type: fixed, mean: 33}
    output_len: *q
load:
  stages: [{rate: 1, duration: 2}]
report: {request_lifecycle: {percentiles: [50, 99]}, anything: [1, 2]}
storage: {local_storage: {path: out}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Data.SharedPrefix.OutputLen.Dist; d == nil || d.Type != DistFixed || d.Mean != 33 {
		t.Fatalf("output_len %+v", c.Data.SharedPrefix.OutputLen)
	}
}
