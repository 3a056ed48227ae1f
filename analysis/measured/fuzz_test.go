package measured

import (
	"errors"
	"os"
	"testing"

	"github.com/kvscope/kvscope/internal/yamlpos"
)

func addFile(f *testing.F, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// positioned requires an error to name the file and a line.
func positioned(t *testing.T, err error, file string) {
	var pe *yamlpos.Error
	if !errors.As(err, &pe) || pe.File != file || pe.Line < 1 {
		t.Fatalf("error without a position: %v", err)
	}
}

// FuzzParseLifecycle: any input parses or fails with a positioned error;
// what parses has its counts adding up and its percentiles in order.
func FuzzParseLifecycle(f *testing.F) {
	for _, p := range []string{"testdata/later_schema.json", "testdata/exp/results/summary_lifecycle_metrics.json",
		"testdata/exp/results/stage_1_lifecycle_metrics.json"} {
		addFile(f, p)
	}
	f.Add([]byte(`{"load_summary": {"count": 0}, "successes": {"count": 0, "latency": null}, "failures": {"count": 0}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLifecycle("r.json", data, 0)
		if err != nil {
			positioned(t, err, "r.json")
			return
		}
		if l.Successes+l.Failures != l.Requests || l.Requests < 0 {
			t.Fatalf("counts %d + %d != %d", l.Successes, l.Failures, l.Requests)
		}
		for _, s := range []*Stat{l.ScheduleDelay, l.RequestLatency, l.TTFT, l.TPOT, l.NTPOT, l.ITL, l.PromptLen, l.OutputLen, l.FailedLatency, l.FailedPromptLen} {
			for i := 1; s != nil && i < len(s.Percentiles); i++ {
				if s.Percentiles[i-1].Q > s.Percentiles[i].Q {
					t.Fatalf("percentiles out of order: %v", s.Percentiles)
				}
			}
		}
	})
}

// FuzzParseServer: exp-config.yaml parses or fails with a positioned
// error; what parses has every count positive.
func FuzzParseServer(f *testing.F) {
	addFile(f, "testdata/exp/exp-config.yaml")
	f.Add([]byte("model: m\napp: x\ntensor_parallelism: 1\nmax_model_len: 1.0e3\nmax_num_batched_tokens: 0x800\nmax_num_seqs: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseServer("e.yaml", data)
		if err != nil {
			positioned(t, err, "e.yaml")
			return
		}
		if s.TensorParallelism < 1 || s.MaxModelLen < 1 || s.MaxNumBatchedTokens < 1 || s.MaxNumSeqs < 1 {
			t.Fatalf("%+v", s)
		}
	})
}
