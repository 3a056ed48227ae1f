package infperf

import (
	"fmt"
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
