package gpuprofile

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/kvscope/kvscope/internal/suggest"
)

// GPU is one accelerator's datasheet figures.
type GPU struct {
	Name    string `json:"name"`
	Display string `json:"display"`
	// BF16FLOPS is dense (no sparsity) bf16 tensor throughput, FLOP/s.
	BF16FLOPS float64 `json:"bf16_flops"`
	// MemBandwidth is peak memory bandwidth, bytes/s.
	MemBandwidth float64 `json:"mem_bandwidth"`
	// MemoryGiB is device memory (datasheet figure, taken as GiB).
	MemoryGiB float64 `json:"memory_gib"`
	// NVLinkBandwidth is one GPU's NVLink bandwidth in one direction,
	// bytes/s (half the datasheet's bidirectional figure); 0 where the
	// catalogue has no sourced figure (PCIe-only cards, other vendors):
	// tensor-parallel communication is then not modelled.
	NVLinkBandwidth float64 `json:"nvlink_bandwidth,omitempty"`
	// Sources names where each figure was found.
	Sources []string `json:"sources,omitempty"`
	// Unverified lists fields whose figure no found source confirms.
	Unverified []string `json:"unverified,omitempty"`
}

// MemoryBytes is the device memory in bytes.
func (g GPU) MemoryBytes() float64 { return g.MemoryGiB * (1 << 30) }

// Model is one model's architecture.
type Model struct {
	Name         string `json:"name"`
	HFName       string `json:"hf_name"`
	Layers       int    `json:"layers"`
	Hidden       int    `json:"hidden"`
	Heads        int    `json:"heads"`
	KVHeads      int    `json:"kv_heads"`
	HeadDim      int    `json:"head_dim"`
	Intermediate int    `json:"intermediate"`
	Vocab        int    `json:"vocab"`
	Tied         bool   `json:"tied_embeddings,omitempty"`
	QKVBias      bool   `json:"qkv_bias,omitempty"`
	// Experts and ExpertsPerToken describe a mixture-of-experts MLP (0 = dense).
	Experts         int      `json:"experts,omitempty"`
	ExpertsPerToken int      `json:"experts_per_token,omitempty"`
	Sources         []string `json:"sources,omitempty"`
	Unverified      []string `json:"unverified,omitempty"`
}

// param counts, derived from the shape.
func (m Model) embedParams() int64 { return int64(m.Vocab) * int64(m.Hidden) }

func (m Model) attnParams() int64 {
	h, q, kv := int64(m.Hidden), int64(m.Heads*m.HeadDim), int64(m.KVHeads*m.HeadDim)
	p := h*q + 2*h*kv + q*h
	if m.QKVBias {
		p += q + 2*kv
	}
	return p
}

func (m Model) expertParams() int64 { return 3 * int64(m.Hidden) * int64(m.Intermediate) }

func (m Model) layerParams(experts int) int64 {
	p := m.attnParams() + 2*int64(m.Hidden) // two RMSNorms
	if m.Experts > 0 {
		p += int64(m.Hidden) * int64(m.Experts) // router
		p += int64(experts) * m.expertParams()
	} else {
		p += m.expertParams()
	}
	return p
}

func (m Model) headParams() int64 {
	if m.Tied {
		return 0
	}
	return m.embedParams()
}

// Params is the total parameter count.
func (m Model) Params() int64 {
	e := m.Experts
	return m.embedParams() + m.headParams() + int64(m.Layers)*m.layerParams(e) + int64(m.Hidden)
}

// ActiveParams is the parameter count one token uses (all of them for a
// dense model; the routed experts only for MoE).
func (m Model) ActiveParams() int64 {
	e := m.Experts
	if e > 0 {
		e = m.ExpertsPerToken
	}
	return m.embedParams() + m.headParams() + int64(m.Layers)*m.layerParams(e) + int64(m.Hidden)
}

// KVBytesPerTokenTP is the KV bytes one token takes in a replica of tp ranks.
func (m Model) KVBytesPerTokenTP(tp, bytesPerElement int) int64 {
	kv := m.KVHeads
	if tp > kv {
		kv = tp
	}
	return 2 * int64(m.Layers) * int64(kv) * int64(m.HeadDim) * int64(bytesPerElement)
}

const (
	srcGlennH100  = "https://glennklockwood.com/garden/processors/h100 (BF16 matrix 989.4 TFLOPS dense; 80 GB HBM3; 3.35 TB/s)"
	srcHPCTech    = "https://archive-lib.hpctech.co.jp/gpuproduct/nvidia-h100.html (H100 SXM: BF16 1,979 TFLOPS with sparsity, 1/2 without; 80 GB; 3,350 GB/s)"
	srcAIWikiH200 = "https://aiwiki.ai/wiki/nvidia_h200/raw (141 GB HBM3e at 4.8 TB/s; same GH100 compute as H100)"
	srcH200BF16   = "https://ai-hpc.github.io/ai-hardware-engineer-roadmap/ (8x H200 page: BF16 Tensor Core ~1,979 TFLOPS per GPU, with sparsity)"
	srcGlennA100  = "https://glennklockwood.com/garden/processors/A100 (A100 80G: BF16 matrix 312 TFLOPS; 80 GB HBM2e; 2.039 TB/s; citing NVIDIA's A100 datasheet)"
	srcMulletL40  = "https://www.mullet.se/product.html?product_id=355414 (NVIDIA L40/L40S table: BF16 181.05 / 362.05 TFLOPS dense; 48 GB GDDR6; 864 GB/s)"
	srcL4Grok     = "https://grokipedia.com/page/NVIDIA_L4_vs_L40S (L4: 24 GB GDDR6, 300 GB/s, 242 TFLOPS FP16 tensor with sparsity)"
	srcL4HMC      = "https://hmc-tech.com/gpu/nvidia-l4-vs-nvidia-l40 (L4 BF16 tensor 125.34 TFLOPS dense at boost clock)"
	srcBaseten    = "https://www.baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-inference/ (A10G: 24 GB GDDR6, 600 GB/s; tensor compute differs from A10, figure not in the excerpt found)"
	srcGlennB200  = "https://glennklockwood.com/garden/processors/B200 (HGX B200 at 1,000 W: BF16 matrix 2,250 TFLOPS dense; 8 TB/s)"
	srcVultrB200  = "https://docs.vultr.com/inference-cookbook/cuda/getting-started/hardware-overview (HGX B200: 179 GB HBM3e as nvidia-smi reports, 8.0 TB/s)"
	srcMI300X     = "https://www.jaredwatkins.com/research/ai-accelerators/amd-instinct/mi300-series/ (MI300X: 192 GB HBM3, 5.3 TB/s, ~1.3 PFLOPS FP16)"
	srcNVLink4    = "https://petronellatech.com/hardware/h100-h200-nvlink-cluster-scaling/ (NVLink 4.0: 18 links per H100 or H200, each 50 GB/s bidirectional, 25 GB/s each way: 900 GB/s bidirectional per GPU; A100: 12 NVLink 3.0 links, 600 GB/s)"
	srcGTH100     = "github.com/inference-sim/training default_args/h100-sxm.json (H100 SXM: bf16 tensor 1979 TFLOPS with sparsity, 80 GB, 3.35 TB/s, NVLink 900 GB/s)"
)

// Tensor-parallel all-reduce on NVLink. NCCL's ring all-reduce moves
// 2(tp−1)/tp of the message through each GPU's link in each direction, in
// 2(tp−1) steps. AllReduceEfficiency is the share of the one-way NVLink
// bandwidth an all-reduce reaches: nccl-tests on 4× H100 SXM gave a bus
// bandwidth of about 366 GB/s of 450 (https://waynehacking8.github.io/blog/nccl-nvlink-bandwidth/,
// "All-reduce bus bandwidth ≈ 366 GB/s"). AllReduceStepLatency is the
// latency of one ring step: unverified (no measurement found; NVLink's
// latency is quoted at 1–2 µs in
// https://fridayswithfaraday.com/posts/gpu-hw-nvlink-nvswitch-interconnect, a
// figure for one hop, not for NCCL's step).
const (
	AllReduceEfficiency  = 366.0 / 450.0
	AllReduceStepLatency = 2e-6 // seconds, unverified
)

// AllReduceSeconds is the modelled time of one ring all-reduce of bytes
// across tp GPUs of this kind: 2(tp−1)/tp · bytes / (NVLink one-way
// bandwidth · AllReduceEfficiency) + 2(tp−1) · AllReduceStepLatency. Zero
// for tp ≤ 1 or a GPU without an NVLink figure.
func (g GPU) AllReduceSeconds(bytes float64, tp int) float64 {
	if tp <= 1 || g.NVLinkBandwidth <= 0 || bytes <= 0 {
		return 0
	}
	steps := 2 * float64(tp-1)
	return steps/float64(tp)*bytes/(g.NVLinkBandwidth*AllReduceEfficiency) + steps*AllReduceStepLatency
}

// gpus is the GPU catalogue. Each figure's source is in Sources; a figure no
// found source confirms is named in Unverified.
var gpus = []GPU{
	{Name: "h100-sxm", Display: "NVIDIA H100 SXM 80GB", BF16FLOPS: 989.4e12, MemBandwidth: 3.35e12, MemoryGiB: 80,
		NVLinkBandwidth: 450e9, Sources: []string{srcGlennH100, srcHPCTech, srcNVLink4, srcGTH100}},
	// H200 SXM: same chip and compute as H100 SXM; dense = 1,979 / 2.
	{Name: "h200", Display: "NVIDIA H200 SXM 141GB", BF16FLOPS: 989.4e12, MemBandwidth: 4.8e12, MemoryGiB: 141,
		NVLinkBandwidth: 450e9, Sources: []string{srcAIWikiH200, srcH200BF16, srcNVLink4}},
	{Name: "a100-80gb", Display: "NVIDIA A100 SXM 80GB", BF16FLOPS: 312e12, MemBandwidth: 2.039e12, MemoryGiB: 80,
		NVLinkBandwidth: 300e9, Sources: []string{srcGlennA100, srcNVLink4}},
	{Name: "l40s", Display: "NVIDIA L40S 48GB", BF16FLOPS: 362.05e12, MemBandwidth: 864e9, MemoryGiB: 48,
		Sources: []string{srcMulletL40}},
	{Name: "l40", Display: "NVIDIA L40 48GB", BF16FLOPS: 181.05e12, MemBandwidth: 864e9, MemoryGiB: 48,
		Sources: []string{srcMulletL40}},
	// L4: 242 TFLOPS FP16 with sparsity → 121 dense; BF16 runs at the FP16 rate (hmc-tech: 125.34 at boost).
	{Name: "l4", Display: "NVIDIA L4 24GB", BF16FLOPS: 121e12, MemBandwidth: 300e9, MemoryGiB: 24,
		Sources: []string{srcL4Grok, srcL4HMC}},
	// A10G: the bf16 tensor figure (70 TFLOPS) is not confirmed by any source found: unverified.
	{Name: "a10g", Display: "NVIDIA A10G 24GB (AWS G5)", BF16FLOPS: 70e12, MemBandwidth: 600e9, MemoryGiB: 24,
		Sources: []string{srcBaseten}, Unverified: []string{"bf16_flops"}},
	// B200 (HGX, 1,000 W). Memory: 180 GB per the HGX B200 listing; 179 GB reported by nvidia-smi.
	{Name: "b200", Display: "NVIDIA B200 (HGX) 180GB", BF16FLOPS: 2250e12, MemBandwidth: 8e12, MemoryGiB: 180,
		Sources: []string{srcGlennB200, srcVultrB200}},
	// MI300X: ~1.3 PFLOPS FP16 found; BF16 at the same dense rate (1307.4) is not confirmed: unverified.
	{Name: "mi300x", Display: "AMD Instinct MI300X 192GB", BF16FLOPS: 1307.4e12, MemBandwidth: 5.3e12, MemoryGiB: 192,
		Sources: []string{srcMI300X}, Unverified: []string{"bf16_flops"}},
}

const (
	srcLlama8B  = "github.com/citsjtu2020/LLM-Prof sglang/Model_Config.md (Llama-3.1-8B config.json: hidden 4096, intermediate 14336, 32 layers, 32 heads, 8 KV heads, vocab 128256, untied)"
	srcLlama70B = "github.com/vulkomilev/oumi configs/recipes/llama3_1/README.md (70B: vocab 128256, hidden 8192, intermediate 28672, 80 layers, 64 heads, 8 KV heads, untied)"
	srcQwen7B   = "github.com/Retruth/deontic nlp_models/qwen2/README.md (Qwen2-7B module dump: embed 152064x3584, 28 layers, q 3584, k/v 512 with bias, MLP 18944, untied); Qwen2.5-7B shares the Qwen2-7B shape"
	srcQwen32B  = "github.com/ZHUI/paddlenlp_model_readme Qwen/Qwen2.5-32B/index.md (64 layers, 40 Q / 8 KV heads, QKV bias, 32.5B parameters)"
	srcQwen72B  = "github.com/ZHUI/paddlenlp_model_readme Qwen/Qwen2.5-72B/index.md (80 layers, 64 Q / 8 KV heads, QKV bias, 72.7B parameters)"
	srcMixtral  = "github.com/keras-team/keras-hub keras_hub/src/models/mixtral/README.md (MixtralForCausalLM dump: embed 32000x4096, 32 layers, k/v 1024, 8 experts of 14336, untied)"
	srcMistral  = "github.com/edadaltocg/mistral-src-finetune finetune/config.py (Mistral-7B-v0.2: dim 4096, 32 layers, head_dim 128, hidden 14336, 32 heads, 8 KV heads, vocab 32000)"
	// The Hugging Face config.json files of the models the vLLM ground truth
	// (../shared/vllm-groundtruth, from github.com/inference-sim/training
	// commit ed5c1d2, default_args/model_configs) served; a test reads them.
	srcGTLlama2_7B   = "github.com/inference-sim/training default_args/model_configs/Llama-2-7b-hf/config.json (hidden 4096, intermediate 11008, 32 layers, 32 heads, 32 KV heads, vocab 32000, untied, float16)"
	srcGTLlama2_70B  = "github.com/inference-sim/training default_args/model_configs/Llama-2-70b-hf/config.json (hidden 8192, intermediate 28672, 80 layers, 64 heads, 8 KV heads, vocab 32000, untied, float16)"
	srcGTCodeLlama34 = "github.com/inference-sim/training default_args/model_configs/CodeLlama-34b-Instruct-hf/config.json (hidden 8192, intermediate 22016, 48 layers, 64 heads, 8 KV heads, vocab 32000, untied, bfloat16)"
	srcGTMixtral     = "github.com/inference-sim/training default_args/model_configs/Mixtral-8x7B-v0.1/config.json (hidden 4096, intermediate 14336, 32 layers, 32 heads, 8 KV heads, 8 local experts, 2 per token, vocab 32000, untied)"
)

// models is the model catalogue; head_dim = hidden/heads where the source
// gives no head_dim.
var models = []Model{
	{Name: "llama-3.1-8b", HFName: "meta-llama/Llama-3.1-8B", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, HeadDim: 128,
		Intermediate: 14336, Vocab: 128256, Sources: []string{srcLlama8B}},
	{Name: "llama-3.1-70b", HFName: "meta-llama/Llama-3.1-70B", Layers: 80, Hidden: 8192, Heads: 64, KVHeads: 8, HeadDim: 128,
		Intermediate: 28672, Vocab: 128256, Sources: []string{srcLlama70B}},
	{Name: "mixtral-8x7b", HFName: "mistralai/Mixtral-8x7B-v0.1", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, HeadDim: 128,
		Intermediate: 14336, Vocab: 32000, Experts: 8, ExpertsPerToken: 2, Sources: []string{srcMixtral, srcGTMixtral},
		// top-2 routing is in the first source's class name (MixtralBlockSparseTop2MLP)
		// and in the config's num_experts_per_tok.
	},
	{Name: "qwen2.5-7b", HFName: "Qwen/Qwen2.5-7B", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4, HeadDim: 128,
		Intermediate: 18944, Vocab: 152064, QKVBias: true, Sources: []string{srcQwen7B},
		// The dump found is Qwen2-7B's; the 2.5 vocabulary is not confirmed by it.
		Unverified: []string{"vocab"}},
	{Name: "qwen2.5-32b", HFName: "Qwen/Qwen2.5-32B", Layers: 64, Hidden: 5120, Heads: 40, KVHeads: 8, HeadDim: 128,
		Intermediate: 27648, Vocab: 152064, QKVBias: true, Sources: []string{srcQwen32B},
		// Seen only in unattributed search excerpts: no citable source found.
		Unverified: []string{"hidden", "intermediate", "vocab"}},
	{Name: "qwen2.5-72b", HFName: "Qwen/Qwen2.5-72B", Layers: 80, Hidden: 8192, Heads: 64, KVHeads: 8, HeadDim: 128,
		Intermediate: 29568, Vocab: 152064, QKVBias: true, Sources: []string{srcQwen72B},
		Unverified: []string{"hidden", "intermediate", "vocab"}},
	{Name: "mistral-7b", HFName: "mistralai/Mistral-7B-v0.1", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, HeadDim: 128,
		Intermediate: 14336, Vocab: 32000, Sources: []string{srcMistral}},
	// The models of the vLLM ground truth. Llama-2 and CodeLlama have no
	// head_dim in their config: hidden/heads = 128. Llama-2-7B has full
	// multi-head attention (32 KV heads); the 70B and CodeLlama-34B use GQA (8).
	{Name: "llama-2-7b", HFName: "meta-llama/Llama-2-7b-hf", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 32, HeadDim: 128,
		Intermediate: 11008, Vocab: 32000, Sources: []string{srcGTLlama2_7B}},
	{Name: "llama-2-70b", HFName: "meta-llama/Llama-2-70b-hf", Layers: 80, Hidden: 8192, Heads: 64, KVHeads: 8, HeadDim: 128,
		Intermediate: 28672, Vocab: 32000, Sources: []string{srcGTLlama2_70B}},
	{Name: "codellama-34b", HFName: "codellama/CodeLlama-34b-Instruct-hf", Layers: 48, Hidden: 8192, Heads: 64, KVHeads: 8, HeadDim: 128,
		Intermediate: 22016, Vocab: 32000, Sources: []string{srcGTCodeLlama34}},
}

// GPUs returns the GPU catalogue sorted by name.
func GPUs() []GPU {
	out := append([]GPU(nil), gpus...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Models returns the model catalogue sorted by name.
func Models() []Model {
	out := append([]Model(nil), models...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupGPU finds a catalogue GPU by name.
func LookupGPU(name string) (GPU, error) {
	for _, g := range gpus {
		if g.Name == name {
			return g, nil
		}
	}
	var names []string
	for _, g := range GPUs() {
		names = append(names, g.Name)
	}
	return GPU{}, fmt.Errorf("unknown GPU %q (valid: %s)%s", name, strings.Join(names, ", "), suggest.DidYouMean(name, names))
}

// LookupModelHF finds a catalogue model by its Hugging Face name (as
// `vllm serve` and inference-perf configurations name it), ignoring case.
func LookupModelHF(hfName string) (Model, error) {
	for _, m := range models {
		if strings.EqualFold(m.HFName, hfName) {
			return m, nil
		}
	}
	var names []string
	for _, m := range Models() {
		names = append(names, m.HFName)
	}
	return Model{}, fmt.Errorf("unknown Hugging Face model %q (valid: %s)%s", hfName, strings.Join(names, ", "), suggest.DidYouMean(hfName, names))
}

// LookupModel finds a catalogue model by name.
func LookupModel(name string) (Model, error) {
	for _, m := range models {
		if m.Name == name {
			return m, nil
		}
	}
	var names []string
	for _, m := range Models() {
		names = append(names, m.Name)
	}
	return Model{}, fmt.Errorf("unknown model %q (valid: %s)%s", name, strings.Join(names, ", "), suggest.DidYouMean(name, names))
}

// MemFractionStatic is sglang's default mem_fraction_static for a GPU of
// gpuMemMiB (as the device reports it) at the given tensor-parallel size:
// round((gpu_mem − reserved)/gpu_mem, 3), reserved = (2.8 + tp/10) GiB below
// 35 GiB, (9.5 + tp/2) GiB below 90 GiB, (12 + tp/2) GiB below 160 GiB, else
// 32 GiB (no speculative decoding, no DP attention). Source: sglang's
// python/sglang/srt/server_args.py, the _handle_mem_fraction_static block of
// ServerArgs.__post_init__ (sglang 0.5.x, found by code search as a copy of
// that file; the current sgl-project/sglang main moved it into
// _handle_gpu_memory_settings). Earlier sglang (0.4.x, the paper's 0.4.6) used
// a TP-only rule: 0.88 / 0.87 / 0.85 / 0.81 / 0.79 for TP 1 / ≥2 / ≥4 / ≥8 / ≥16.
func MemFractionStatic(gpuMemMiB float64, tp int) float64 {
	p := float64(tp)
	var reserved float64
	switch {
	case gpuMemMiB < 35*1024:
		reserved = (2.8 + p/10) * 1024
	case gpuMemMiB < 90*1024:
		reserved = (9.5 + p/2) * 1024
	case gpuMemMiB < 160*1024:
		reserved = (12 + p/2) * 1024
	default:
		reserved = 32 * 1024
	}
	return math.Round((gpuMemMiB-reserved)/gpuMemMiB*1000) / 1000
}
