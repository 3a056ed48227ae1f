package gpuprofile

import (
	"encoding/json"
	"math"
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

// TestH100MatchesGroundTruthDatasheet checks the H100 SXM entry against the
// datasheet figures the vLLM ground truth's simulators used
// (../shared/vllm-groundtruth/h100-sxm.json; its tensor figures are with
// sparsity, dense is half).
func TestH100MatchesGroundTruthDatasheet(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.VLLMGroundTruth(t), "h100-sxm.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Compute struct {
			BF16         float64 `json:"bf16_tensor_core"`
			WithSparsity bool    `json:"with_sparsity"`
		} `json:"compute"`
		Memory struct {
			CapacityGB   float64 `json:"capacity_gb"`
			BandwidthTBs float64 `json:"bandwidth_tb_s"`
		} `json:"memory"`
		Interconnect struct {
			NVLinkGBs float64 `json:"nvlink_bandwidth_gb_s"`
		} `json:"interconnect"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	g, err := LookupGPU("h100-sxm")
	if err != nil {
		t.Fatal(err)
	}
	dense := d.Compute.BF16 * 1e12
	if d.Compute.WithSparsity {
		dense /= 2
	}
	// 1979 with sparsity rounds 1978.9: dense 989.5 against the catalogue's 989.4.
	if r := g.BF16FLOPS/dense - 1; r > 2e-4 || r < -2e-4 {
		t.Errorf("bf16 dense %.4g, datasheet %.4g", g.BF16FLOPS, dense)
	}
	if g.MemBandwidth != d.Memory.BandwidthTBs*1e12 || g.MemoryGiB != d.Memory.CapacityGB {
		t.Errorf("memory %v GiB at %v B/s, datasheet %v GB at %v TB/s", g.MemoryGiB, g.MemBandwidth, d.Memory.CapacityGB, d.Memory.BandwidthTBs)
	}
	// The datasheet's NVLink figure is both directions together.
	if g.NVLinkBandwidth != d.Interconnect.NVLinkGBs*1e9/2 {
		t.Errorf("NVLink one way %v B/s, datasheet %v GB/s both ways", g.NVLinkBandwidth, d.Interconnect.NVLinkGBs)
	}
}

func TestAllReduce(t *testing.T) {
	g, _ := LookupGPU("h100-sxm")
	// 16 MiB at TP 4: 6 steps moving 3/4 of it each way.
	const mb = 16 << 20
	want := 1.5*mb/(450e9*366.0/450) + 6*AllReduceStepLatency
	if got := g.AllReduceSeconds(mb, 4); math.Abs(got/want-1) > 1e-12 {
		t.Errorf("AllReduceSeconds(16 MiB, 4) = %g, want %g", got, want)
	}
	if g.AllReduceSeconds(mb, 1) != 0 {
		t.Error("TP 1 communicates")
	}
	if l4, _ := LookupGPU("l4"); l4.AllReduceSeconds(mb, 2) != 0 {
		t.Error("a GPU without an NVLink figure models communication")
	}
	// Llama-2-70B at TP 4, a 2,048-token prefill: 160 all-reduces of
	// 2,048 × 8,192 × 2 bytes, added to the GPU time.
	b, err := ForwardTime("h100-sxm", "llama-2-70b", 4, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ar := 160 * g.AllReduceSeconds(2048*8192*2, 4) * 1e3
	if math.Abs(b.AllReduceMS-ar) > 1e-9 {
		t.Errorf("all-reduce %.4f ms, want %.4f", b.AllReduceMS, ar)
	}
	gpu := math.Max(b.LinearComputeMS, b.LinearMemoryMS) + math.Max(b.AttentionComputeMS, b.AttentionMemoryMS) + ar
	if math.Abs(b.GPUMS-gpu) > 1e-9 || math.Abs(b.TotalMS-(DefaultOverheadMS+gpu)) > 1e-9 {
		t.Errorf("gpu %.4f total %.4f, want %.4f and overhead more", b.GPUMS, b.TotalMS, gpu)
	}
	// 2,048 × 8,192 × 2 bytes = 32 MiB a message: 0.15 ms each, 24 ms in
	// all, beside about 130 ms of compute.
	if !(b.AllReduceMS > 20 && b.AllReduceMS < 30 && b.AllReduceMS < 0.2*b.GPUMS) {
		t.Errorf("all-reduce %.2f ms of %.2f ms GPU time", b.AllReduceMS, b.GPUMS)
	}
	if one, _ := ForwardTime("h100-sxm", "llama-2-7b", 1, 2048); one.AllReduceMS != 0 {
		t.Errorf("TP 1: all-reduce %.4f ms", one.AllReduceMS)
	}
	if _, err := ForwardTime("h100-sxm", "llama-2-70b", 1, 2048); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("70B on one H100: %v", err)
	}
}

// TestMixtralMoECost checks the MoE cost against the config's shape: per
// token 2 of 8 experts of 3 × 4096 × 14336 weights in each of 32 layers, and
// the weights a decode step reads grow with the experts its tokens touch.
func TestMixtralMoECost(t *testing.T) {
	m, _ := LookupModel("mixtral-8x7b")
	expert := int64(3 * 4096 * 14336)
	if m.Params()-m.ActiveParams() != 32*6*expert {
		t.Errorf("total - active = %d, want 32 layers × 6 idle experts × %d", m.Params()-m.ActiveParams(), expert)
	}
	p, err := New("x", "h100-sxm", "mixtral-8x7b", 2)
	if err != nil {
		t.Fatal(err)
	}
	w := p.work(Iteration{DecodeContexts: []int{100}})
	body := float64(m.ActiveParams() - 2*32000*4096)
	if w.linFLOPs != 2*body+2*32000*4096 {
		t.Errorf("one token: %g linear FLOPs, want %g", w.linFLOPs, 2*body+2*32000*4096)
	}
	all := float64(32 * 8 * expert)
	wantBytes := (float64(m.Params())-all)*2 + all*0.25*2 // one token touches 2 of 8 experts a layer
	if math.Abs(w.linBytes/wantBytes-1) > 1e-12 {
		t.Errorf("one token reads %g bytes, want %g", w.linBytes, wantBytes)
	}
}
