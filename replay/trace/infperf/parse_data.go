package infperf

import (
	"math"
	"slices"
	"strings"

	"github.com/kvscope/kvscope/internal/yamlpos"
	"github.com/kvscope/kvscope/replay/trace/gen"
)

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
