package infperf

import (
	"os"

	"github.com/kvscope/kvscope/internal/yamlpos"
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
