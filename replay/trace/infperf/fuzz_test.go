package infperf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/internal/yamlpos"
	"github.com/kvscope/kvscope/replay/trace"
)

// FuzzParseConfig: any input either parses or fails with a positioned
// error, never a panic; a configuration that parses and is small enough
// generates a trace that passes the timing checks and reads back.
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: {type: shared_prefix, shared_prefix: {num_groups: 2, question_len: {type: poisson, mean: 3, min: 0, max: 9}}}\nload: {stages: [{rate: 2, duration: 3}]}\n"))
	f.Add([]byte("data: {type: synthetic, input_distribution: {type: lognormal, mean: 50, total_count: 9}, output_distribution: {type: uniform, min: 1, max: 4, total_count: 9}}\nload: {type: poisson, stages: [{rate: 1.5, duration: 2}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			var pe *yamlpos.Error
			if !errors.As(err, &pe) || pe.File != "fuzz.yaml" || pe.Line < 1 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		if !small(c) {
			return
		}
		p := &Params{Config: c, BlockSize: 8, Seed: 1}
		if !c.Load.MultiProcess() && c.Load.Type == LoadPoisson && c.Data.Input != nil {
			// A poisson stage without worker processes sends a random
			// count, which may run past total_count: then Run says so.
			if _, err := p.Run(func(*trace.Request) error { return nil }); err != nil {
				if !strings.Contains(err.Error(), "past total_count") {
					t.Fatal(err)
				}
				return
			}
		}
		reqs, sum := collect(t, p)
		checkTiming(t, c, reqs, sum)
		native(t, p)
	})
}

// small bounds the trace a fuzzed configuration may generate.
func small(c *Config) bool {
	var n int64
	for _, s := range c.Load.Stages {
		if s.Rate < 0.1 || s.Duration > 1000 {
			return false
		}
		n += s.Requests()
	}
	if n > 2000 {
		return false
	}
	maxLen := func(l Length) int64 {
		if l.Dist == nil {
			return l.Const
		}
		return max(l.Dist.Max, int64(l.Dist.Mean))
	}
	var in int64
	switch {
	case c.Data.SharedPrefix != nil:
		sp := c.Data.SharedPrefix
		if sp.Prompts() > 1000 {
			return false
		}
		in = maxLen(sp.SystemPromptLen) + maxLen(sp.QuestionLen)
		if sp.MultiTurn {
			in = (in + maxLen(sp.OutputLen)) * (n/int64(sp.Prompts()) + 1)
		}
	case c.Data.Input != nil:
		in = max(c.Data.Input.Max, int64(c.Data.Input.Mean))
	}
	return n*(in/8+1) <= 2_000_000
}
