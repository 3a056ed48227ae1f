package infperf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/trace"
)

// The 16 measured experiments of ../shared/vllm-groundtruth (read in place:
// the folder has no licence). Each configuration is read a second time
// with a plain YAML decoder, and its generated trace is counted against
// that independent reading and, where the run was measured, against the
// requests inference-perf reports per stage.
func TestGroundTruthConfigs(t *testing.T) {
	dirs := testenv.VLLMExperiments(t)
	measured := 0
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			path := filepath.Join(dir, "results", "config.yaml")
			c := load(t, path)
			raw := plainYAML(t, path)
			data, ld := raw["data"].(map[string]any), raw["load"].(map[string]any)
			sp := data["shared_prefix"].(map[string]any)
			if string(c.Data.Type) != data["type"] || c.Data.SharedPrefix == nil {
				t.Fatalf("data type %q", c.Data.Type)
			}
			got := c.Data.SharedPrefix
			for key, v := range map[string]int64{"num_groups": int64(got.Groups), "num_prompts_per_group": int64(got.PromptsPerGroup),
				"system_prompt_len": got.SystemPromptLen.Const, "question_len": got.QuestionLen.Const, "output_len": got.OutputLen.Const} {
				if want := int64(sp[key].(int)); v != want {
					t.Fatalf("%s: parsed %d, file %d", key, v, want)
				}
			}
			if string(c.Load.Type) != ld["type"] || c.Load.Interval != ld["interval"].(float64) || c.Load.NumWorkers != int64(ld["num_workers"].(int)) {
				t.Fatalf("load %+v, file %v", c.Load, ld)
			}
			stages := ld["stages"].([]any)
			want := make([]int64, len(stages))
			for k, s := range stages {
				m := s.(map[string]any)
				rate, dur := m["rate"].(float64), m["duration"].(int)
				want[k] = int64(rate * float64(dur))
				if c.Load.Stages[k].Rate != rate || c.Load.Stages[k].Duration != int64(dur) {
					t.Fatalf("stage %d: %+v, file %v", k, c.Load.Stages[k], m)
				}
			}
			// The generated trace: requests per stage tag.
			per := make([]int64, len(stages))
			p := &Params{Config: c, BlockSize: 16, Seed: 1}
			sum, err := p.Run(func(r *trace.Request) error {
				per[tagValue(r, "stage")]++
				L := got.SystemPromptLen.Const + got.QuestionLen.Const
				if int64(r.Input) != L || int64(r.Output) != got.OutputLen.Const || len(r.Blocks) != int(L/16) {
					return fmt.Errorf("request %d: %d in, %d out, %d blocks", r.ID, r.Input, r.Output, len(r.Blocks))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for k := range want {
				if per[k] != want[k] || sum.Stages[k].Requests != want[k] {
					t.Fatalf("stage %d: %d requests generated, want int(rate × duration) = %d", k, per[k], want[k])
				}
			}
			// Measured runs: inference-perf sent exactly as many.
			for k := range want {
				f := filepath.Join(dir, "results", fmt.Sprintf("stage_%d_lifecycle_metrics.json", k))
				b, err := os.ReadFile(f)
				if os.IsNotExist(err) {
					continue
				} else if err != nil {
					t.Fatal(err)
				}
				var rep struct {
					Load struct {
						Count         int64   `json:"count"`
						RequestedRate float64 `json:"requested_rate"`
					} `json:"load_summary"`
				}
				if err := json.Unmarshal(b, &rep); err != nil {
					t.Fatal(err)
				}
				if rep.Load.Count != per[k] || rep.Load.RequestedRate != c.Load.Stages[k].Rate {
					t.Fatalf("stage %d: inference-perf sent %d at rate %g, kvscope generated %d at %g",
						k, rep.Load.Count, rep.Load.RequestedRate, per[k], c.Load.Stages[k].Rate)
				}
				if k == 0 {
					measured++
				}
			}
		})
	}
	if measured != 4 {
		t.Fatalf("%d measured experiments, want 4", measured)
	}
}

func plainYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
