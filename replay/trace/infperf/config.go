package infperf

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/kvscope/kvscope/internal/yamlpos"
	"github.com/kvscope/kvscope/replay/trace/gen"
)

// DataType is inference-perf's data.type.
type DataType string

// The data generators kvscope models.
const (
	DataSharedPrefix DataType = "shared_prefix"
	DataRandom       DataType = "random"
	DataSynthetic    DataType = "synthetic"
)

// dataTypesKnown are every data.type inference-perf accepts (HEAD's
// DataGenType), so that an unsupported one is told apart from a misspelt
// one.
var dataTypesKnown = []string{"mock", "shareGPT", "synthetic", "random", "shared_prefix", "cnn_dailymail",
	"infinity_instruct", "billsum_conversations", "otel_trace_replay", "weka_trace_replay",
	"conversation_replay", "visionarena"}

// LoadType is inference-perf's load.type.
type LoadType string

// The load types kvscope models.
const (
	LoadConstant LoadType = "constant"
	LoadPoisson  LoadType = "poisson"
)

var loadTypesKnown = []string{"constant", "poisson", "trace_replay", "concurrent", "trace_session_replay"}

// DistType is a Distribution's type.
type DistType string

// Distribution types (inference-perf's DistributionType).
const (
	DistNormal     DistType = "normal"
	DistSkewNormal DistType = "skew_normal"
	DistLognormal  DistType = "lognormal"
	DistUniform    DistType = "uniform"
	DistPoisson    DistType = "poisson"
	DistFixed      DistType = "fixed"
)

var distTypes = []string{"normal", "skew_normal", "lognormal", "uniform", "poisson", "fixed"}

// Config is the part of an inference-perf configuration that decides the
// workload: the data generator and the load stages, plus the few labels a
// comparison shows (API, server, tokenizer). File is the path it was read
// from.
type Config struct {
	File string
	Data Data
	Load Load
	// API is api.type ("completion") and api.streaming.
	APIType   string
	Streaming bool
	// Server is server.type, server.model_name and server.ignore_eos
	// (true: every request generates exactly its output length).
	ServerType string
	ModelName  string
	IgnoreEOS  bool
	// Tokenizer is tokenizer.pretrained_model_name_or_path ("" if none).
	Tokenizer string
}

// Data is data: the generator and its settings.
type Data struct {
	Type DataType
	// SharedPrefix is set for shared_prefix.
	SharedPrefix *SharedPrefix
	// Input and Output are set for random and synthetic.
	Input, Output *Distribution
}

// SharedPrefix is data.shared_prefix.
type SharedPrefix struct {
	Groups          int // num_groups (alias num_unique_system_prompts)
	PromptsPerGroup int // num_prompts_per_group (alias num_users_per_system_prompt)
	SystemPromptLen Length
	QuestionLen     Length
	OutputLen       Length
	// Seed is inference-perf's own seed (recorded; kvscope draws from
	// --seed); nil when unset.
	Seed *int64
	// MultiTurn is enable_multi_turn_chat.
	MultiTurn bool
}

// Prompts is the number of distinct prompts: Groups × PromptsPerGroup.
func (s *SharedPrefix) Prompts() int { return s.Groups * s.PromptsPerGroup }

// Length is a token length: a constant, or (Dist != nil) a distribution
// sampled per group (system prompt) or per prompt (question, output).
type Length struct {
	Const int64
	Dist  *Distribution
}

func (l Length) String() string {
	if l.Dist == nil {
		return fmt.Sprint(l.Const)
	}
	return l.Dist.String()
}

// Distribution is inference-perf's Distribution with its defaults applied
// and variance resolved into StdDev.
type Distribution struct {
	Type       DistType
	Min, Max   int64
	Mean       float64
	StdDev     float64
	Skew       float64
	TotalCount int64 // -1: unset
}

func (d *Distribution) String() string {
	return fmt.Sprintf("%s(mean=%g,std_dev=%g,min=%d,max=%d)", d.Type, d.Mean, d.StdDev, d.Min, d.Max)
}

// Load is load.
type Load struct {
	Type LoadType
	// Interval is the pause between stages, seconds (load.interval).
	Interval float64
	Stages   []Stage
	// NumWorkers is load.num_workers (-1: unset, inference-perf's default
	// of the CPU count, which is at least 1).
	NumWorkers int64
	// BaseSeed is load.base_seed (recorded; nil when unset).
	BaseSeed *int64
}

// MultiProcess reports whether inference-perf runs the load through
// worker processes (num_workers > 0, its default): each stage then sends
// exactly Requests() requests.
func (l *Load) MultiProcess() bool { return l.NumWorkers != 0 }

// Stage is one load stage.
type Stage struct {
	Rate     float64 // requests per second
	Duration int64   // seconds
	Line     int     // where the stage is written
}

// Requests is the number of requests inference-perf schedules for the
// stage: int(rate × duration), truncated as Python's int() does.
func (s Stage) Requests() int64 { return int64(s.Rate * float64(s.Duration)) }

// Limits on a configuration, far beyond any real run, that keep every
// derived count inside integers.
const (
	// MaxRequests bounds the requests of all stages together.
	MaxRequests = 1 << 36
	// MaxDuration bounds a stage's duration in seconds (about 116 days):
	// a poisson stage is drawn second by second.
	MaxDuration = 10_000_000
	maxPrompts  = 1 << 24
)

// LoadConfig reads and checks an inference-perf configuration file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// ParseConfig parses and checks a configuration; file names it in errors
// ("FILE:LINE: field: reason").
func ParseConfig(file string, data []byte) (*Config, error) {
	root, err := yamlpos.Parse(file, data)
	if err != nil {
		return nil, err
	}
	c := &Config{File: file, APIType: "completion", ServerType: "vllm", IgnoreEOS: true}
	top, err := root.Fields("api", "data", "load", "metrics", "report", "storage", "server", "tokenizer", "circuit_breakers")
	if err != nil {
		return nil, err
	}
	if err := c.parseLabels(top); err != nil {
		return nil, err
	}
	if err := c.parseData(top["data"]); err != nil {
		return nil, err
	}
	if err := c.parseLoad(top["load"]); err != nil {
		return nil, err
	}
	return c, nil
}

// parseLabels reads the few api, server and tokenizer fields a comparison
// shows; the rest of those sections does not shape the workload and is
// left to inference-perf.
func (c *Config) parseLabels(top map[string]yamlpos.Node) error {
	api, err := top["api"].Fields()
	if err != nil {
		return err
	}
	srv, err := top["server"].Fields()
	if err != nil {
		return err
	}
	tok, err := top["tokenizer"].Fields()
	if err != nil {
		return err
	}
	for _, f := range []error{
		opt(api["type"], yamlpos.Node.String, &c.APIType),
		opt(api["streaming"], yamlpos.Node.Bool, &c.Streaming),
		opt(srv["type"], yamlpos.Node.String, &c.ServerType),
		opt(srv["model_name"], yamlpos.Node.String, &c.ModelName),
		opt(srv["ignore_eos"], yamlpos.Node.Bool, &c.IgnoreEOS),
		opt(tok["pretrained_model_name_or_path"], yamlpos.Node.String, &c.Tokenizer),
	} {
		if f != nil {
			return f
		}
	}
	if c.APIType != "completion" {
		return api["type"].Errorf("%q is not modelled: kvscope models the completion API, whose prompt is the generated text as is (a chat template adds tokens kvscope cannot count)", c.APIType)
	}
	return nil
}

func (c *Config) parseData(n yamlpos.Node) error {
	f, err := n.Fields("type", "path", "corpus_file_path", "input_distribution", "output_distribution",
		"shared_prefix", "multimodal", "trace", "otel_trace_replay", "weka_trace_replay",
		"conversation_replay", "visionarena", "use_chat_template")
	if err != nil {
		return err
	}
	typ := "mock" // inference-perf's default
	tn := f["type"]
	if !tn.IsNull() {
		if typ, err = tn.String(); err != nil {
			return err
		}
	}
	if !slices.Contains(dataTypesKnown, typ) {
		return tn.Errorf("unknown data type %q (inference-perf knows %s)", typ, strings.Join(dataTypesKnown, ", "))
	}
	c.Data.Type = DataType(typ)
	switch c.Data.Type {
	case DataSharedPrefix, DataRandom, DataSynthetic:
	default:
		if tn.IsNull() {
			return tn.Errorf("not given: inference-perf's default %q is not modelled (kvscope models shared_prefix, random and synthetic)", typ)
		}
		return tn.Errorf("%q is not modelled (kvscope models shared_prefix, random and synthetic)", typ)
	}
	if mm := f["multimodal"]; !mm.IsNull() {
		return mm.Errorf("multimodal content is not modelled")
	}
	if ct := f["use_chat_template"]; !ct.IsNull() {
		on, err := ct.Bool()
		if err != nil {
			return err
		}
		if on {
			return ct.Errorf("a chat template adds tokens kvscope cannot count: not modelled")
		}
	}
	switch c.Data.Type {
	case DataSharedPrefix:
		sp := f["shared_prefix"]
		if sp.IsNull() {
			return sp.Errorf("data type shared_prefix needs this section (inference-perf refuses to run without it)")
		}
		c.Data.SharedPrefix, err = parseSharedPrefix(sp)
		return err
	default: // random, synthetic
		if tr := f["trace"]; !tr.IsNull() {
			return tr.Errorf("lengths read from a trace file are not modelled")
		}
		if c.Data.Input, err = parseIODistribution(f["input_distribution"]); err != nil {
			return err
		}
		c.Data.Output, err = parseIODistribution(f["output_distribution"])
		return err
	}
}

// parseIODistribution reads a random/synthetic length distribution: it is
// required, needs total_count, and is sampled as inference-perf's
// generate_distribution does (normal, lognormal, uniform, fixed).
func parseIODistribution(n yamlpos.Node) (*Distribution, error) {
	if n.IsNull() {
		return nil, n.Errorf("required by the random and synthetic data types")
	}
	d, err := parseDistribution(n, true)
	if err != nil {
		return nil, err
	}
	if d.TotalCount < 0 {
		return nil, n.Errorf("total_count is required (inference-perf: \"IODistribution requires total_count to be set\")")
	}
	if d.TotalCount == 0 {
		return nil, n.Errorf("total_count must be positive")
	}
	switch d.Type {
	case DistSkewNormal, DistPoisson:
		return nil, n.Errorf("type %s is not supported by the random and synthetic generators (inference-perf's generate_distribution takes normal, lognormal, uniform, fixed)", d.Type)
	case DistNormal:
		if d.Mean < float64(d.Min) || d.Mean > float64(d.Max) {
			return nil, n.Errorf("mean %g must lie in [min, max] = [%d, %d] for a normal distribution", d.Mean, d.Min, d.Max)
		}
	}
	return d, nil
}

// parseDistribution reads a Distribution with inference-perf's defaults and
// checks; io says it feeds generate_distribution (random, synthetic) rather
// than sample_from_distribution (shared_prefix), which differ in what they
// accept.
func parseDistribution(n yamlpos.Node, io bool) (*Distribution, error) {
	f, err := n.Map("min", "max", "mean", "std_dev", "total_count", "type", "variance", "skew")
	if err != nil {
		return nil, err
	}
	d := &Distribution{Type: DistNormal, Min: 10, Max: 1024, Mean: 512, StdDev: 200, TotalCount: -1}
	if err := opt(f["min"], yamlpos.Node.Int, &d.Min); err != nil {
		return nil, err
	}
	if err := opt(f["max"], yamlpos.Node.Int, &d.Max); err != nil {
		return nil, err
	}
	for key, dst := range map[string]*float64{"mean": &d.Mean, "std_dev": &d.StdDev, "skew": &d.Skew} {
		if err := opt(f[key], yamlpos.Node.Float, dst); err != nil {
			return nil, err
		}
	}
	if err := opt(f["total_count"], yamlpos.Node.Int, &d.TotalCount); err != nil {
		return nil, err
	}
	if tn := f["type"]; !tn.IsNull() {
		s, err := tn.String()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(distTypes, s) {
			return nil, tn.Errorf("unknown distribution type %q (known: %s)", s, strings.Join(distTypes, ", "))
		}
		d.Type = DistType(s)
	}
	// inference-perf's checks, in its order: variance excludes a positive
	// std_dev (whose default is 200: give std_dev: 0 with a variance).
	if vn := f["variance"]; !vn.IsNull() {
		v, err := vn.Float()
		if err != nil {
			return nil, err
		}
		if d.StdDev > 0 {
			return nil, vn.Errorf("give either std_dev or variance, not both (std_dev is %g; its default is 200)", d.StdDev)
		}
		if v < 0 {
			return nil, vn.Errorf("must not be negative (got %g)", v)
		}
		d.StdDev = math.Sqrt(v)
	}
	if d.Min > d.Max {
		return nil, f["min"].Errorf("min %d is greater than max %d", d.Min, d.Max)
	}
	if d.StdDev < 0 {
		return nil, f["std_dev"].Errorf("must not be negative (got %g)", d.StdDev)
	}
	// kvscope's own bounds: lengths are token counts.
	if d.Min < 0 {
		return nil, f["min"].Errorf("a token length must not be negative (got %d)", d.Min)
	}
	if d.Max > gen.MaxTokens {
		return nil, f["max"].Errorf("must be at most %d tokens (got %d)", int64(gen.MaxTokens), d.Max)
	}
	if d.Type == DistFixed && (d.Mean < 0 || d.Mean > gen.MaxTokens) {
		return nil, f["mean"].Errorf("a fixed length must lie in [0, %d] (got %g)", int64(gen.MaxTokens), d.Mean)
	}
	if !io && d.Type == DistLognormal && d.Mean <= 0 {
		return nil, f["mean"].Errorf("a lognormal distribution needs mean > 0 (got %g)", d.Mean)
	}
	return d, nil
}

func parseSharedPrefix(n yamlpos.Node) (*SharedPrefix, error) {
	f, err := n.Map("num_groups", "num_unique_system_prompts", "num_prompts_per_group", "num_users_per_system_prompt",
		"system_prompt_len", "question_len", "output_len", "seed", "question_distribution", "output_distribution",
		"enable_multi_turn_chat", "multimodal")
	if err != nil {
		return nil, err
	}
	sp := &SharedPrefix{Groups: 10, PromptsPerGroup: 10,
		SystemPromptLen: Length{Const: 100}, QuestionLen: Length{Const: 50}, OutputLen: Length{Const: 50}}
	if err := aliased(f, "num_groups", "num_unique_system_prompts", &sp.Groups); err != nil {
		return nil, err
	}
	if err := aliased(f, "num_prompts_per_group", "num_users_per_system_prompt", &sp.PromptsPerGroup); err != nil {
		return nil, err
	}
	if int64(sp.Groups)*int64(sp.PromptsPerGroup) > maxPrompts {
		return nil, n.Errorf("%d groups × %d prompts exceed %d prompts", sp.Groups, sp.PromptsPerGroup, int64(maxPrompts))
	}
	if sp.SystemPromptLen, err = parseLength(f["system_prompt_len"], sp.SystemPromptLen, yamlpos.Node{}); err != nil {
		return nil, err
	}
	if sp.QuestionLen, err = parseLength(f["question_len"], sp.QuestionLen, f["question_distribution"]); err != nil {
		return nil, err
	}
	if sp.OutputLen, err = parseLength(f["output_len"], sp.OutputLen, f["output_distribution"]); err != nil {
		return nil, err
	}
	if sn := f["seed"]; !sn.IsNull() {
		v, err := sn.Int()
		if err != nil {
			return nil, err
		}
		sp.Seed = &v
	}
	if err := opt(f["enable_multi_turn_chat"], yamlpos.Node.Bool, &sp.MultiTurn); err != nil {
		return nil, err
	}
	if mm := f["multimodal"]; !mm.IsNull() {
		return nil, mm.Errorf("multimodal content is not modelled")
	}
	return sp, nil
}

// aliased reads a count given under its name or its alias (pydantic's
// AliasChoices); giving both is an error here.
func aliased(f map[string]yamlpos.Node, name, alias string, dst *int) error {
	a, b := f[name], f[alias]
	if !a.IsNull() && !b.IsNull() {
		return b.Errorf("give %s or %s, not both", name, alias)
	}
	n := a
	if n.IsNull() {
		n = b
	}
	if n.IsNull() {
		return nil
	}
	v, err := n.Int()
	if err != nil {
		return err
	}
	if v < 1 || v > maxPrompts {
		return n.Errorf("must be in [1, %d] (got %d)", int64(maxPrompts), v)
	}
	*dst = int(v)
	return nil
}

// parseLength reads an integer or an inline distribution; a legacy
// distribution (question_distribution, output_distribution) applies when
// the length is an integer, and an inline one beside it is an error, as in
// inference-perf.
func parseLength(n yamlpos.Node, def Length, legacy yamlpos.Node) (Length, error) {
	l := def
	if !n.IsNull() {
		if n.IsMap() {
			d, err := parseDistribution(n, false)
			if err != nil {
				return l, err
			}
			if !legacy.IsNull() {
				return l, legacy.Errorf("give an inline distribution on %s or this legacy field, not both", n.Path())
			}
			return Length{Dist: d}, nil
		}
		v, err := n.Int()
		if err != nil {
			return l, err
		}
		if v < 0 || v > gen.MaxTokens {
			return l, n.Errorf("must be in [0, %d] tokens (got %d)", int64(gen.MaxTokens), v)
		}
		l = Length{Const: v}
	}
	if !legacy.IsNull() {
		d, err := parseDistribution(legacy, false)
		if err != nil {
			return l, err
		}
		l = Length{Dist: d}
	}
	return l, nil
}

func (c *Config) parseLoad(n yamlpos.Node) error {
	f, err := n.Fields("type", "interval", "stages", "sweep", "num_workers", "worker_max_concurrency",
		"worker_max_tcp_connections", "trace", "circuit_breakers", "request_timeout", "lora_traffic_split", "base_seed")
	if err != nil {
		return err
	}
	l := &c.Load
	l.Type, l.Interval, l.NumWorkers = LoadConstant, 1.0, -1
	if tn := f["type"]; !tn.IsNull() {
		s, err := tn.String()
		if err != nil {
			return err
		}
		if !slices.Contains(loadTypesKnown, s) {
			return tn.Errorf("unknown load type %q (inference-perf knows %s)", s, strings.Join(loadTypesKnown, ", "))
		}
		if s != string(LoadConstant) && s != string(LoadPoisson) {
			return tn.Errorf("%q is not modelled (kvscope models constant and poisson)", s)
		}
		l.Type = LoadType(s)
	}
	if err := opt(f["interval"], yamlpos.Node.Float, &l.Interval); err != nil {
		return err
	}
	if err := opt(f["num_workers"], yamlpos.Node.Int, &l.NumWorkers); err != nil {
		return err
	}
	if l.NumWorkers < -1 {
		return f["num_workers"].Errorf("must not be negative (got %d)", l.NumWorkers)
	}
	if sn := f["base_seed"]; !sn.IsNull() {
		v, err := sn.Int()
		if err != nil {
			return err
		}
		l.BaseSeed = &v
	}
	if sw := f["sweep"]; !sw.IsNull() {
		return sw.Errorf("a sweep picks its stages from a saturation probe at run time; they are not in the configuration, so kvscope cannot generate them")
	}
	if lo := f["lora_traffic_split"]; !lo.IsNull() {
		return lo.Errorf("LoRA adapters are not modelled (their requests never share cached blocks across adapters)")
	}
	stages, err := f["stages"].Seq()
	if err != nil {
		return err
	}
	if len(stages) == 0 {
		return f["stages"].Errorf("no stages: inference-perf would send nothing")
	}
	var total int64
	for _, sn := range stages {
		s, err := parseStage(sn)
		if err != nil {
			return err
		}
		total += s.Requests()
		if total > MaxRequests {
			return sn.Errorf("the stages schedule more than %d requests", int64(MaxRequests))
		}
		l.Stages = append(l.Stages, s)
	}
	return c.checkRandomCounts(f["stages"])
}

func parseStage(n yamlpos.Node) (Stage, error) {
	f, err := n.Map("rate", "duration", "num_requests", "concurrency_level")
	if err != nil {
		return Stage{}, err
	}
	s := Stage{Line: n.Line()}
	rn, dn := f["rate"], f["duration"]
	if rn.IsNull() {
		return s, rn.Errorf("required")
	}
	if s.Rate, err = rn.Float(); err != nil {
		return s, err
	}
	if !(s.Rate > 0) {
		return s, rn.Errorf("must be positive (got %g)", s.Rate)
	}
	if dn.IsNull() {
		return s, dn.Errorf("required")
	}
	if s.Duration, err = dn.Int(); err != nil {
		return s, err
	}
	if s.Duration <= 0 || s.Duration > MaxDuration {
		return s, dn.Errorf("must be in [1, %d] seconds (got %d)", MaxDuration, s.Duration)
	}
	if s.Rate*float64(s.Duration) > MaxRequests {
		return s, rn.Errorf("rate × duration = %g requests, more than %d", s.Rate*float64(s.Duration), int64(MaxRequests))
	}
	for _, k := range []string{"num_requests", "concurrency_level"} {
		if !f[k].IsNull() {
			return s, f[k].Errorf("must not be set for constant and poisson load types")
		}
	}
	return s, nil
}

// checkRandomCounts: random and synthetic index their length lists by the
// request's number within its stage, so every stage must fit in
// total_count (inference-perf would fail the requests past it).
func (c *Config) checkRandomCounts(stages yamlpos.Node) error {
	if c.Data.Input == nil {
		return nil
	}
	have := min(c.Data.Input.TotalCount, c.Data.Output.TotalCount)
	for i, s := range c.Load.Stages {
		if !c.Load.MultiProcess() && c.Load.Type == LoadPoisson {
			continue // counted while generating
		}
		if s.Requests() > have {
			return stages.Errorf("stage %d (line %d) schedules %d requests, but the length distributions hold total_count = %d (each stage reads them from the start)",
				i, s.Line, s.Requests(), have)
		}
	}
	return nil
}

// opt reads an optional value with read into dst; null or absent leaves
// dst (its default) as it is.
func opt[T any](n yamlpos.Node, read func(yamlpos.Node) (T, error), dst *T) error {
	if n.IsNull() {
		return nil
	}
	v, err := read(n)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
