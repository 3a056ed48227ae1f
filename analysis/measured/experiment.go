package measured

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/kvscope/kvscope/internal/yamlpos"
	"github.com/kvscope/kvscope/replay/trace/infperf"
)

// Server is the vLLM server an experiment ran (exp-config.yaml, as the
// inference-sim/training experiments write it). Other vLLM settings were
// the version's defaults.
type Server struct {
	File                string
	App                 string // the load generator ("inference-perf")
	Model               string
	TensorParallelism   int
	MaxModelLen         int
	MaxNumBatchedTokens int
	MaxNumSeqs          int
}

// LoadServer reads an exp-config.yaml. Every key is required and no other
// is allowed: a vLLM setting kvscope does not know must not pass unseen.
func LoadServer(path string) (*Server, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseServer(path, data)
}

// ParseServer parses an exp-config.yaml.
func ParseServer(file string, data []byte) (*Server, error) {
	root, err := yamlpos.Parse(file, data)
	if err != nil {
		return nil, err
	}
	f, err := root.Map("app", "model", "tensor_parallelism", "max_model_len", "max_num_batched_tokens", "max_num_seqs")
	if err != nil {
		return nil, err
	}
	s := &Server{File: file}
	for key, dst := range map[string]*string{"app": &s.App, "model": &s.Model} {
		if f[key].IsNull() {
			return nil, f[key].Errorf("required")
		}
		if *dst, err = f[key].String(); err != nil {
			return nil, err
		}
	}
	for _, k := range []struct {
		key string
		dst *int
	}{{"tensor_parallelism", &s.TensorParallelism}, {"max_model_len", &s.MaxModelLen},
		{"max_num_batched_tokens", &s.MaxNumBatchedTokens}, {"max_num_seqs", &s.MaxNumSeqs}} {
		n := f[k.key]
		if n.IsNull() {
			return nil, n.Errorf("required")
		}
		v, err := n.Int()
		if err != nil {
			return nil, err
		}
		if v < 1 || v > 1<<31 {
			return nil, n.Errorf("must be in [1, %d] (got %d)", 1<<31, v)
		}
		*k.dst = int(v)
	}
	return s, nil
}

// Experiment is one measured inference-perf run: its configuration, the
// server it ran against when known, and its lifecycle reports when
// present. It is what a later comparison (kvscope validate) reads: the
// configuration generates the workload (infperf.Params), the server
// settings shape the engine model, the reports are the truth.
type Experiment struct {
	// Dir is the experiment folder; Results the folder holding
	// config.yaml and the reports (Dir/results, or Dir itself).
	Dir, Results string
	Config       *infperf.Config
	// Server is nil when there is no exp-config.yaml.
	Server *Server
	// Summary is the run's summary report; nil when absent.
	Summary *Lifecycle
	// Stages has one entry per configured stage; nil where its report is
	// absent.
	Stages []*Lifecycle
}

// Measured reports whether the experiment has any lifecycle report.
func (e *Experiment) Measured() bool {
	return e.Summary != nil || slices.ContainsFunc(e.Stages, func(l *Lifecycle) bool { return l != nil })
}

var stageFile = regexp.MustCompile(`^stage_(\d+)_lifecycle_metrics\.json$`)

// LoadExperiment reads an experiment folder: dir/results/config.yaml (or
// dir/config.yaml when dir is the results folder itself), exp-config.yaml
// beside results/ (or in dir) when present, and the lifecycle reports
// present. The reports must belong to the configuration: a stage report
// past the configured stages, a requested rate other than its stage's, or
// a summary whose count is not the sum of a complete set of stage reports
// is an error.
func LoadExperiment(dir string) (*Experiment, error) {
	e := &Experiment{Dir: dir, Results: filepath.Join(dir, "results")}
	if _, err := os.Stat(filepath.Join(e.Results, "config.yaml")); errors.Is(err, fs.ErrNotExist) {
		if _, err2 := os.Stat(filepath.Join(dir, "config.yaml")); err2 == nil {
			e.Results = dir
		}
	}
	var err error
	if e.Config, err = infperf.LoadConfig(filepath.Join(e.Results, "config.yaml")); err != nil {
		return nil, err
	}
	for _, p := range []string{filepath.Join(dir, "exp-config.yaml"), filepath.Join(filepath.Dir(e.Results), "exp-config.yaml")} {
		if _, err := os.Stat(p); err == nil {
			if e.Server, err = LoadServer(p); err != nil {
				return nil, err
			}
			break
		}
	}
	sumPath := filepath.Join(e.Results, "summary_lifecycle_metrics.json")
	if _, err := os.Stat(sumPath); err == nil {
		if e.Summary, err = LoadLifecycle(sumPath, -1); err != nil {
			return nil, err
		}
	}
	entries, err := os.ReadDir(e.Results)
	if err != nil {
		return nil, err
	}
	stages := e.Config.Load.Stages
	e.Stages = make([]*Lifecycle, len(stages))
	for _, de := range entries {
		m := stageFile.FindStringSubmatch(de.Name())
		if m == nil {
			continue
		}
		path := filepath.Join(e.Results, de.Name())
		k, err := strconv.Atoi(m[1])
		if err != nil || k >= len(stages) {
			return nil, fmt.Errorf("%s: stage %s, but %s configures %d stages", path, m[1], e.Config.File, len(stages))
		}
		l, err := LoadLifecycle(path, k)
		if err != nil {
			return nil, err
		}
		if l.HasRate && l.RequestedRate != stages[k].Rate {
			return nil, fmt.Errorf("%s: load_summary.requested_rate: %g, but %s:%d gives stage %d rate %g",
				path, l.RequestedRate, e.Config.File, stages[k].Line, k, stages[k].Rate)
		}
		e.Stages[k] = l
	}
	if e.Summary != nil && !slices.Contains(e.Stages, nil) {
		var n int64
		for _, l := range e.Stages {
			n += l.Requests
		}
		if n != e.Summary.Requests {
			return nil, fmt.Errorf("%s: load_summary.count: %d requests, but the stage reports hold %d", sumPath, e.Summary.Requests, n)
		}
	}
	return e, nil
}
