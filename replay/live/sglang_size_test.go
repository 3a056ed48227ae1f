package live

import (
	"strings"
	"testing"
)

// sglang's KV pool size comes from its own gauges: max_total_num_tokens
// over page_size (1 when absent), the largest series when every rank
// reports one; vLLM's cache_config_info, when present, wins.
func TestParseMetricsSGLangCacheSize(t *testing.T) {
	for _, c := range []struct {
		text          string
		blocks, bsize int
	}{
		{"sglang:max_total_num_tokens 65536\nsglang:token_usage 0.1\n", 65536, 1},
		{"sglang:max_total_num_tokens{model_name=\"m\"} 65536\nsglang:page_size{model_name=\"m\"} 16\n", 4096, 16},
		{"sglang:max_total_num_tokens{tp_rank=\"0\"} 8000\nsglang:max_total_num_tokens{tp_rank=\"1\"} 8000\n", 8000, 1},
		{"sglang:page_size 64\n", 0, 0},                                 // no pool size: unknown
		{"sglang:max_total_num_tokens 10\nsglang:page_size 64\n", 0, 0}, // less than a page: unknown
		{"vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"2048\"} 1\nsglang:max_total_num_tokens 65536\n", 2048, 16},
	} {
		s, err := ParseMetrics(strings.NewReader(c.text))
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if s.CacheBlocks != c.blocks || s.BlockSize != c.bsize {
			t.Errorf("%q: %d blocks of %d tokens, want %d of %d", c.text, s.CacheBlocks, s.BlockSize, c.blocks, c.bsize)
		}
	}
	if _, err := ParseMetrics(strings.NewReader("sglang:max_total_num_tokens -5\n")); err == nil || !strings.Contains(err.Error(), "sglang:max_total_num_tokens") {
		t.Errorf("a negative pool size: %v", err)
	}
}
