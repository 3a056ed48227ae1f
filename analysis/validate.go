package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvscope/kvscope/analysis/measured"
	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/infperf"
)

// Validation (kvscope validate inference-perf): an inference-perf run is
// simulated with the vllm latency model on one worker and its predicted
// figures are put beside the measured lifecycle metrics, when present.
//
// Metric definitions, the same on both sides: ttft_ms and e2e_ms are
// inference-perf's time_to_first_token and request_latency of successful
// requests; itl_ms is per output token, (E2E − TTFT) / (output − 1) per
// request with output the configured output_len (the runs use ignore_eos);
// on the measured side only its mean exists: (mean E2E − mean TTFT) /
// (configured output_len − 1). Percentiles interpolate linearly between
// order statistics on both sides (numpy's default, which inference-perf
// uses). A request not finished ValidateTimeoutS after its arrival failed:
// in the measured runs failed requests' latencies start at 300 s although
// request_timeout is null; the vllm model aborts it then (timeout_s), so
// its blocks are freed as a client disconnect frees them.

// ValidateTimeoutS is the client-side limit of the measured runs.
const ValidateTimeoutS = 300

// VLLMCalibration is the vllm model's settings fitted on the four
// Llama-2-7B ground-truth runs on H100 SXM (and on nothing else; see the
// notes of issue 14 for the procedure): the per-step and per-request CPU
// overheads, the share of HBM bandwidth reached, and the front end's
// hand-off delay. Fitted in two grid steps: step_ms × seq_us ×
// memory_efficiency on the ITL and E2E mean errors of the five stages of
// the three non-overloaded runs, then frontend_ms on their TTFT mean
// errors.
// validate adds them to the latency spec unless it names them.
var VLLMCalibration = map[string]string{"step_ms": "1.4", "seq_us": "10", "memory_efficiency": "0.9", "frontend_ms": "16"}

// ValidateOptions selects what validate simulates. Profile, or GPU with
// Model (a catalogue name or a Hugging Face name) and TP, names the
// hardware; Model and TP default to the experiment's exp-config.yaml.
// Latency is a vllm spec whose keys override those taken from
// exp-config.yaml and VLLMCalibration.
type ValidateOptions struct {
	Profile, GPU, Model string
	TP                  int
	Latency             string
	Seed                uint64
}

// VDist is a distribution's mean and percentiles (ms); nil where unknown.
type VDist struct {
	Mean *float64 `json:"mean"`
	P50  *float64 `json:"p50"`
	P90  *float64 `json:"p90"`
	P99  *float64 `json:"p99"`
}

// Figures are one side of a stage or summary (or their signed errors in
// percent, in the same shape).
type Figures struct {
	TTFT          VDist    `json:"ttft_ms"`
	ITL           VDist    `json:"itl_ms"`
	E2E           VDist    `json:"e2e_ms"`
	ThroughputRPS *float64 `json:"throughput_rps"`
	Completed     *float64 `json:"completed"`
	Failed        *float64 `json:"failed"`
}

// ValidateStage is one load stage, or the summary (Stage −1).
type ValidateStage struct {
	Stage     int      `json:"stage"`
	Rate      float64  `json:"rate,omitempty"`
	Requests  int      `json:"requests"`
	Predicted Figures  `json:"predicted"`
	Measured  *Figures `json:"measured,omitempty"`
	ErrorPct  *Figures `json:"error_pct,omitempty"`
}

// ValidateReport is validate's answer for one experiment.
type ValidateReport struct {
	Dir     string `json:"dir"`
	Profile string `json:"profile"`
	// Scenario is the canonical scenario simulated (with the latency spec).
	Scenario string `json:"scenario"`
	// Configured lengths (system prompt + question, output; means over
	// the generated requests) and, when measured, inference-perf's mean
	// counted lengths of successes.
	PromptLen         float64  `json:"configured_prompt_len"`
	OutputLen         float64  `json:"configured_output_len"`
	MeasuredPromptLen *float64 `json:"measured_prompt_len_mean,omitempty"`
	MeasuredOutputLen *float64 `json:"measured_output_len_mean,omitempty"`
	Preemptions       int64    `json:"predicted_preemptions"`
	TimeoutS          float64  `json:"timeout_s"`

	Stages  []ValidateStage `json:"stages"`
	Summary ValidateStage   `json:"summary"`
}

// Validate simulates the inference-perf run in dir and compares it with
// its measurements.
func Validate(ctx context.Context, dir string, o ValidateOptions) (*ValidateReport, error) {
	rep, _, _, err := validate(ctx, dir, o)
	return rep, err
}

// validate is Validate, also returning the simulated trace and run
// (tests check the stage shift on them).
func validate(ctx context.Context, dir string, o ValidateOptions) (*ValidateReport, *trace.Trace, *sim.Run, error) {
	e, err := measured.LoadExperiment(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	prof, err := validateProfile(e, o)
	if err != nil {
		return nil, nil, nil, err
	}
	lat, err := validateLatency(e, o)
	if err != nil {
		return nil, nil, nil, err
	}
	v, _, err := sim.ParseVLLM(lat)
	if err != nil {
		return nil, nil, nil, err
	}
	tr, stages, err := validateTrace(e, v.BlockSize, o.Seed)
	if err != nil {
		return nil, nil, nil, err
	}
	sc := scenario.Default(param.Spec{Name: "round_robin"}, param.Spec{Name: "lru"})
	sc.Latency, sc.Profile, sc.Workers = lat, prof, 1
	// inference-perf starts a stage once every request of the one before
	// has ended: shift each later stage by the predicted overrun.
	base := make([]time.Duration, len(tr.Requests))
	for i := range tr.Requests {
		base[i] = tr.Requests[i].Arrival
	}
	var run *sim.Run
	shift := time.Duration(0)
	for k := 0; k < len(stages); k++ {
		if run, err = sim.Simulate(ctx, tr, sc, sim.Options{}); err != nil {
			return nil, nil, nil, err
		}
		if k+1 == len(stages) {
			break
		}
		st, next := stages[k], stages[k+1]
		var end time.Duration
		for i := st.from; i < st.to; i++ {
			end = max(end, recordEnd(&run.Records[i], time.Duration(v.TimeoutS*float64(time.Second))))
		}
		// The generator put the next stage right after this one's last
		// arrival; it may start only after this one's last end.
		over := end - tr.Requests[st.to-1].Arrival
		if over <= 0 {
			continue
		}
		shift += over
		for i := next.from; i < len(tr.Requests); i++ {
			tr.Requests[i].Arrival = base[i] + shift
		}
	}
	rep := &ValidateReport{Dir: dir, Profile: prof, Scenario: run.Scenario, Preemptions: run.Preemptions, TimeoutS: v.TimeoutS}
	var in, out float64
	for i := range tr.Requests {
		in += float64(tr.Requests[i].Input)
		out += float64(tr.Requests[i].Output)
	}
	rep.PromptLen, rep.OutputLen = in/float64(len(tr.Requests)), out/float64(len(tr.Requests))
	if e.Summary != nil && e.Summary.PromptLen != nil {
		rep.MeasuredPromptLen = ptr(e.Summary.PromptLen.Mean)
	}
	if e.Summary != nil && e.Summary.OutputLen != nil {
		rep.MeasuredOutputLen = ptr(e.Summary.OutputLen.Mean)
	}
	for k, st := range stages {
		vs := predictStage(tr, run, st.from, st.to, v.TimeoutS)
		vs.Stage, vs.Rate = k, e.Config.Load.Stages[k].Rate
		if k < len(e.Stages) && e.Stages[k] != nil {
			vs.Measured = measuredFigures(e.Stages[k], rep.OutputLen)
		}
		vs.ErrorPct = errorPct(&vs.Predicted, vs.Measured)
		rep.Stages = append(rep.Stages, vs)
	}
	rep.Summary = predictStage(tr, run, 0, len(tr.Requests), v.TimeoutS)
	rep.Summary.Stage = -1
	if e.Summary != nil {
		rep.Summary.Measured = measuredFigures(e.Summary, rep.OutputLen)
	}
	rep.Summary.ErrorPct = errorPct(&rep.Summary.Predicted, rep.Summary.Measured)
	return rep, tr, run, nil
}

type stageRange struct{ from, to int }

// recordEnd is when the client is done with a request: its last token,
// the client's timeout for one aborted by it (inference-perf waits that
// long), else its arrival (refused at once).
func recordEnd(r *sim.Record, timeout time.Duration) time.Duration {
	switch {
	case r.Done >= 0:
		return r.Done
	case strings.HasPrefix(r.Fail, "timeout"):
		return r.Arrival + timeout
	}
	return r.Arrival
}

// validateProfile names the profile: --profile, else --gpu with the model
// and TP of the flags or of exp-config.yaml.
func validateProfile(e *measured.Experiment, o ValidateOptions) (string, error) {
	if o.Profile != "" {
		if o.GPU != "" || o.Model != "" || o.TP != 0 {
			return "", errors.New("give --profile or --gpu (with --model, --tp), not both")
		}
		if _, err := gpuprofile.Lookup(o.Profile); err != nil {
			return "", err
		}
		return o.Profile, nil
	}
	if o.GPU == "" {
		return "", errors.New("no hardware: give --gpu (h100-sxm for the inference-sim runs) or --profile")
	}
	if _, err := gpuprofile.LookupGPU(o.GPU); err != nil {
		return "", fmt.Errorf("--gpu: %w", err)
	}
	model, tp := o.Model, o.TP
	if e.Server != nil {
		if model == "" {
			model = e.Server.Model
		}
		if tp == 0 {
			tp = e.Server.TensorParallelism
		}
	}
	if model == "" {
		return "", fmt.Errorf("%s: no exp-config.yaml names the model: give --model", e.Dir)
	}
	if tp == 0 {
		tp = 1
	}
	name, err := catalogueModel(model)
	if err != nil {
		return "", err
	}
	prof := o.GPU + "-" + name
	if tp > 1 {
		prof += "-tp" + strconv.Itoa(tp)
	}
	if _, err := gpuprofile.Lookup(prof); err != nil {
		return "", err
	}
	return prof, nil
}

// catalogueModel maps a catalogue name or a Hugging Face name (any case)
// to the catalogue's name.
func catalogueModel(name string) (string, error) {
	var names []string
	for _, m := range gpuprofile.Models() {
		if m.Name == name || strings.EqualFold(m.HFName, name) {
			return m.Name, nil
		}
		names = append(names, m.Name)
	}
	return "", fmt.Errorf("model %q is not in the catalogue (by name or Hugging Face name; catalogue: %s): give --model", name, strings.Join(names, ", "))
}

// validateLatency builds the vllm spec: exp-config.yaml's settings, the
// calibration and the timeout, under the keys of o.Latency.
func validateLatency(e *measured.Experiment, o ValidateOptions) (param.Spec, error) {
	sp := param.Spec{Name: "vllm", Params: map[string]string{}}
	if o.Latency != "" {
		var err error
		if sp, err = param.Parse(o.Latency); err != nil {
			return sp, fmt.Errorf("--latency: %w", err)
		}
		if sp.Name != "vllm" {
			return sp, fmt.Errorf("--latency %s: validate simulates vLLM: want vllm[:key=value,...]", sp.Name)
		}
	}
	set := func(k, v string) {
		if _, ok := sp.Params[k]; !ok {
			sp.Params[k] = v
		}
	}
	if s := e.Server; s != nil {
		set("max_num_batched_tokens", strconv.Itoa(s.MaxNumBatchedTokens))
		set("max_num_seqs", strconv.Itoa(s.MaxNumSeqs))
		set("max_model_len", strconv.Itoa(s.MaxModelLen))
	}
	for k, v := range VLLMCalibration {
		set(k, v)
	}
	set("timeout_s", strconv.Itoa(ValidateTimeoutS))
	return sp, nil
}

// validateTrace generates the run's workload in memory.
func validateTrace(e *measured.Experiment, bs int, seed uint64) (*trace.Trace, []stageRange, error) {
	tab := trace.NewTable(false)
	tr := &trace.Trace{Blocks: tab, Info: trace.Info{Source: filepath.Join(e.Results, "config.yaml"), BlockSize: bs}}
	p := &infperf.Params{Config: e.Config, BlockSize: bs, Seed: seed}
	ids := make([]uint64, 0, 256)
	sum, err := p.Run(func(r *trace.Request) error {
		ids = ids[:0]
		for _, b := range r.Blocks {
			ids = append(ids, uint64(b))
		}
		blocks, err := tab.Intern(nil, ids)
		if err != nil {
			return err
		}
		q := *r
		q.Blocks = blocks
		q.Tags = nil
		q.Index = len(tr.Requests)
		q.Source = tr.Info.Source + ": request " + strconv.Itoa(q.Index)
		tr.Requests = append(tr.Requests, q)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var stages []stageRange
	from := 0
	for _, st := range sum.Stages {
		stages = append(stages, stageRange{from, from + int(st.Requests)})
		from += int(st.Requests)
	}
	if len(tr.Requests) == 0 {
		return nil, nil, fmt.Errorf("%s: the configuration sends no request", tr.Info.Source)
	}
	return tr, stages, nil
}

// predictStage summarises requests [from, to) of the run.
func predictStage(tr *trace.Trace, run *sim.Run, from, to int, timeoutS float64) ValidateStage {
	var ttft, e2e, itl []float64
	failed := 0
	first, last := time.Duration(math.MaxInt64), time.Duration(0)
	limit := time.Duration(timeoutS * float64(time.Second))
	for i := from; i < to; i++ {
		r := &run.Records[i]
		first = min(first, r.Arrival)
		if r.Status == sim.Failed || (limit > 0 && r.E2E() > limit) {
			failed++
			continue
		}
		last = max(last, r.Done)
		t, d := msOf(r.TTFT()), msOf(r.E2E())
		ttft, e2e = append(ttft, t), append(e2e, d)
		if out := tr.Requests[i].Output; out > 1 {
			itl = append(itl, (d-t)/float64(out-1))
		}
	}
	vs := ValidateStage{Stage: -1, Requests: to - from}
	f := &vs.Predicted
	f.TTFT, f.E2E, f.ITL = distOf(ttft), distOf(e2e), distOf(itl)
	f.Completed, f.Failed = ptr(float64(len(e2e))), ptr(float64(failed))
	if len(e2e) > 0 && last > first {
		f.ThroughputRPS = ptr(float64(len(e2e)) / (last - first).Seconds())
	}
	return vs
}

func ptr(v float64) *float64 { return &v }

// distOf is the mean and linearly interpolated percentiles of xs.
func distOf(xs []float64) VDist {
	if len(xs) == 0 {
		return VDist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	q := func(p float64) *float64 {
		pos := p / 100 * float64(len(s)-1)
		i := int(pos)
		if i+1 >= len(s) {
			return ptr(s[len(s)-1])
		}
		return ptr(s[i] + (pos-float64(i))*(s[i+1]-s[i]))
	}
	return VDist{Mean: ptr(sum / float64(len(s))), P50: q(50), P90: q(90), P99: q(99)}
}

// measuredFigures reads a lifecycle report in validate's units.
func measuredFigures(l *measured.Lifecycle, outputLen float64) *Figures {
	f := &Figures{TTFT: statDist(l.TTFT), E2E: statDist(l.RequestLatency),
		Completed: ptr(float64(l.Successes)), Failed: ptr(float64(l.Failures))}
	if l.Successes > 0 {
		f.ThroughputRPS = ptr(l.RequestsPerS)
	}
	if f.TTFT.Mean != nil && f.E2E.Mean != nil && outputLen > 1 {
		f.ITL.Mean = ptr((*f.E2E.Mean - *f.TTFT.Mean) / (outputLen - 1))
	}
	return f
}

func statDist(s *measured.Stat) VDist {
	if s == nil {
		return VDist{}
	}
	d := VDist{Mean: ptr(s.Mean * 1e3)}
	for _, x := range []struct {
		q   float64
		dst **float64
	}{{50, &d.P50}, {90, &d.P90}, {99, &d.P99}} {
		if v, ok := s.Percentile(x.q); ok {
			*x.dst = ptr(v * 1e3)
		}
	}
	return d
}

// errorPct is 100 × (predicted − measured) / measured, field by field.
func errorPct(p, m *Figures) *Figures {
	if m == nil {
		return nil
	}
	e := func(a, b *float64) *float64 {
		if a == nil || b == nil || *b == 0 {
			return nil
		}
		return ptr(100 * (*a - *b) / *b)
	}
	d := func(a, b VDist) VDist {
		return VDist{Mean: e(a.Mean, b.Mean), P50: e(a.P50, b.P50), P90: e(a.P90, b.P90), P99: e(a.P99, b.P99)}
	}
	return &Figures{TTFT: d(p.TTFT, m.TTFT), ITL: d(p.ITL, m.ITL), E2E: d(p.E2E, m.E2E),
		ThroughputRPS: e(p.ThroughputRPS, m.ThroughputRPS), Completed: e(p.Completed, m.Completed), Failed: e(p.Failed, m.Failed)}
}
