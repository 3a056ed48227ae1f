package gpuprofile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
)

// hfConfig is the part of a Hugging Face config.json the catalogue encodes.
type hfConfig struct {
	Hidden       int    `json:"hidden_size"`
	Intermediate int    `json:"intermediate_size"`
	Layers       int    `json:"num_hidden_layers"`
	Heads        int    `json:"num_attention_heads"`
	KVHeads      int    `json:"num_key_value_heads"`
	HeadDim      int    `json:"head_dim"`
	Vocab        int    `json:"vocab_size"`
	Tied         bool   `json:"tie_word_embeddings"`
	Experts      int    `json:"num_local_experts"`
	PerToken     int    `json:"num_experts_per_tok"`
	DType        string `json:"torch_dtype"`
}

// TestCatalogueMatchesGroundTruthConfigs checks every shape field of the
// catalogue entries of the vLLM ground-truth models (Llama-2-7B, Llama-2-70B,
// CodeLlama-34B, Mixtral-8x7B) against the config.json files the measured
// runs served, read from ../shared/vllm-groundtruth/model_configs.
func TestCatalogueMatchesGroundTruthConfigs(t *testing.T) {
	dir := filepath.Join(testenv.VLLMGroundTruth(t), "model_configs")
	tests := []struct{ folder, model string }{
		{"Llama-2-7b-hf", "llama-2-7b"},
		{"Llama-2-70b-hf", "llama-2-70b"},
		{"CodeLlama-34b-Instruct-hf", "codellama-34b"},
		{"Mixtral-8x7B-v0.1", "mixtral-8x7b"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.folder, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			var c hfConfig
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatalf("%s: %v", tt.folder, err)
			}
			if c.HeadDim == 0 { // Llama and Mixtral configs: head_dim = hidden / heads
				c.HeadDim = c.Hidden / c.Heads
			}
			if c.KVHeads == 0 { // absent: multi-head attention
				c.KVHeads = c.Heads
			}
			m, err := LookupModel(tt.model)
			if err != nil {
				t.Fatal(err)
			}
			byHF, err := LookupModelHF(strings.ToLower(m.HFName))
			if err != nil || byHF.Name != m.Name {
				t.Errorf("LookupModelHF(%q) = %q, %v", m.HFName, byHF.Name, err)
			}
			if !strings.HasSuffix(m.HFName, "/"+tt.folder) {
				t.Errorf("hf_name %q, config folder %q", m.HFName, tt.folder)
			}
			for _, f := range []struct {
				name      string
				got, want int
			}{
				{"hidden_size", m.Hidden, c.Hidden},
				{"intermediate_size", m.Intermediate, c.Intermediate},
				{"num_hidden_layers", m.Layers, c.Layers},
				{"num_attention_heads", m.Heads, c.Heads},
				{"num_key_value_heads", m.KVHeads, c.KVHeads},
				{"head_dim", m.HeadDim, c.HeadDim},
				{"vocab_size", m.Vocab, c.Vocab},
				{"num_local_experts", m.Experts, c.Experts},
				{"num_experts_per_tok", m.ExpertsPerToken, c.PerToken},
			} {
				if f.got != f.want {
					t.Errorf("%s: catalogue %d, config.json %d", f.name, f.got, f.want)
				}
			}
			if m.Tied != c.Tied {
				t.Errorf("tie_word_embeddings: catalogue %v, config.json %v", m.Tied, c.Tied)
			}
			if m.QKVBias {
				t.Errorf("qkv bias set; Llama and Mixtral have none")
			}
			// The catalogue models weights as 2 bytes; all four ship 16-bit.
			if c.DType != "float16" && c.DType != "bfloat16" {
				t.Errorf("torch_dtype %q is not 16-bit", c.DType)
			}
		})
	}
}

// TestGroundTruthModelParams checks the parameter counts derived from the
// new entries' shapes against the published counts:
// github.com/togethercomputer/together-python src/together/finetune.py
// (model_param_count: llama-2-7b 6,738,415,616, llama-2-70b 68,976,648,192)
// and Together's model listing for Phind-CodeLlama-34B-v2, a fine-tune of
// CodeLlama-34B with its shape (num_parameters 33,743,970,304).
func TestGroundTruthModelParams(t *testing.T) {
	for _, tt := range []struct {
		model string
		want  int64
	}{
		{"llama-2-7b", 6738415616},
		{"llama-2-70b", 68976648192},
		{"codellama-34b", 33743970304},
	} {
		m, err := LookupModel(tt.model)
		if err != nil {
			t.Fatal(err)
		}
		if m.Params() != tt.want || m.ActiveParams() != tt.want {
			t.Errorf("%s: params %d, active %d, want %d", tt.model, m.Params(), m.ActiveParams(), tt.want)
		}
	}
	// KV bytes per token at the ground truth's TP (16-bit KV): Llama-2-7B has
	// no GQA, so 32 KV heads; the others split 8 KV heads over the ranks.
	for _, tt := range []struct {
		model string
		tp    int
		want  int64
	}{
		{"llama-2-7b", 1, 2 * 32 * 32 * 128 * 2}, // 524,288: 512 KiB a token
		{"llama-2-70b", 4, 2 * 80 * 8 * 128 * 2},
		{"codellama-34b", 2, 2 * 48 * 8 * 128 * 2},
	} {
		m, _ := LookupModel(tt.model)
		if got := m.KVBytesPerTokenTP(tt.tp, 2); got != tt.want {
			t.Errorf("%s tp%d: KV bytes per token %d, want %d", tt.model, tt.tp, got, tt.want)
		}
	}
	if _, err := LookupModelHF("meta-llama/Llama-2-13b-hf"); err == nil || !strings.Contains(err.Error(), "meta-llama/Llama-2-7b-hf") {
		t.Errorf("unknown HF name: want the valid names listed, got %v", err)
	}
}
