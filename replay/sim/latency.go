package sim

import (
	"fmt"
	"strings"

	"github.com/kvscope/kvscope/replay/param"
)

// LatencyInfo describes a registered latency model: everything other code
// asks about it (help, `kvscope list latency`, the scenario grammar, the
// simulator, analysis), so nothing outside its file asks by name. One file
// per model: linear.go and model.go (linear), engine.go (engine), vllm.go
// and vllm_*.go (vllm).
type LatencyInfo struct {
	// Doc is one line for --help and `kvscope list latency`.
	Doc string
	// ParamDocs gives each parameter the model reads a one-line doc.
	ParamDocs map[string]string
	// NeedsProfile models need a scenario's GPU profile (iteration times,
	// KV pool size).
	NeedsProfile bool
	// LowerBound models admit SPEC §9's max-load lower bound (one request
	// at a time, costs known in advance: the linear model).
	LowerBound bool
	// read takes the model's parameters from a into cfg.
	read func(a *param.Args, cfg *config) error
}

// latencies is the table of latency models: name → descriptor.
var latencies = param.NewRegistry(map[string]LatencyInfo{
	"linear": {read: readLinear, LowerBound: true, ParamDocs: linearParamDocs,
		Doc: "one request at a time per worker, FCFS: ms per cached and missed input token and per output token"},
	"engine": {read: readEngine, NeedsProfile: true, ParamDocs: engineParamDocs,
		Doc: "continuous batching with chunked prefill, iteration times of --profile, no preemption"},
	"vllm": {read: readVLLM, NeedsProfile: true, ParamDocs: vllmParamDocs,
		Doc: "vLLM v0.15.1's V1 scheduler, block pool, prefix cache and preemption by recomputation, timed by --profile"},
})

// LatencyNames lists the latency models, sorted.
func LatencyNames() []string { return latencies.Names() }

// LookupLatency returns a latency model's descriptor.
func LookupLatency(name string) (LatencyInfo, error) {
	in, ok := latencies.Get(name)
	if !ok {
		names := LatencyNames()
		return LatencyInfo{}, fmt.Errorf("unknown latency model %q (valid: %s)%s", name, strings.Join(names, ", "), param.DidYouMean(name, names))
	}
	return in, nil
}

// LatencyParams returns the parameters a latency spec reads, with their
// defaults and ranges.
func LatencyParams(sp param.Spec) ([]param.Decl, error) {
	in, err := LookupLatency(sp.Name)
	if err != nil {
		return nil, err
	}
	a := param.NewArgs(sp)
	if err := in.read(a, &config{}); err != nil {
		return nil, err
	}
	if _, err := a.Canonical(); err != nil {
		return nil, err
	}
	return a.Decls(), nil
}

// readLatency reads the scenario's latency spec into cfg and returns its
// canonical form.
func (cfg *config) readLatency(sp param.Spec) (string, error) {
	in, err := LookupLatency(sp.Name)
	if err != nil {
		return "", err
	}
	if in.NeedsProfile && cfg.sc.Profile == "" {
		return "", fmt.Errorf("scenario %s: latency=%s needs a profile", cfg.sc.String(), sp.Name)
	}
	a := param.NewArgs(sp)
	if err := in.read(a, cfg); err != nil {
		return "", err
	}
	return a.Canonical()
}
