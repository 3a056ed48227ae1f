package gpuprofile

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kvscope/kvscope/internal/suggest"
)

// Roofline defaults of the catalogue profiles. They are this project's
// choice, not fitted: typical shares of datasheet peak that serving engines
// reach (GEMMs about half of peak, attention a little less, memory-bound
// kernels three quarters of bandwidth), plus a small serial overhead.
// BENCHMARKS.md compares them with the measured H200 fit.
const (
	DefaultComputeEfficiency   = 0.55
	DefaultAttentionEfficiency = 0.45
	// DefaultCachedAttentionEfficiency is attention over cached context
	// (new × cached keys, and decode); the catalogue does not tell the two
	// kernels apart.
	DefaultCachedAttentionEfficiency = DefaultAttentionEfficiency
	DefaultMemoryEfficiency          = 0.75
	DefaultOverheadMS                = 2.0
	DefaultMinIterationMS            = 0.0
)

// Profile is a GPU × model × tensor-parallel degree with fitted efficiencies
// and overheads. Build one with Lookup, Parse or New; the zero value is not
// usable.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	GPUName     string `json:"gpu"`
	ModelName   string `json:"model"`
	TP          int    `json:"tp"`

	ComputeEfficiency   float64 `json:"compute_efficiency"`
	AttentionEfficiency float64 `json:"attention_efficiency"`
	// CachedAttentionEfficiency applies to attention over cached context:
	// every key of a prefill chunk that has cached tokens (new × cached and
	// the causal keys among its new tokens: one lower-right kernel call) and
	// decode steps (optional in a profile file; absent, it equals
	// attention_efficiency, which keeps older profiles' predictions
	// unchanged).
	CachedAttentionEfficiency float64 `json:"cached_attention_efficiency"`
	MemoryEfficiency          float64 `json:"memory_efficiency"`
	OverheadMS                float64 `json:"overhead_ms"`
	MinIterationMS            float64 `json:"min_iteration_ms"`

	// BytesPerParam and KVBytesPerElement default to 2 (bf16).
	BytesPerParam     int `json:"bytes_per_param"`
	KVBytesPerElement int `json:"kv_bytes_per_element"`
	// MemFraction overrides sglang's default rule when > 0.
	MemFraction float64 `json:"mem_fraction,omitempty"`
	// ReserveGiB is set aside per rank on top of (1 − mem_fraction).
	ReserveGiB float64 `json:"reserve_gib,omitempty"`

	// Fit records how a fitted profile was made (nil for roofline profiles).
	Fit *FitSummary `json:"fit,omitempty"`

	GPU   GPU   `json:"-"`
	Model Model `json:"-"`
}

// FitSummary is what `profile fit` records in the profile it writes.
type FitSummary struct {
	Measurements string             `json:"measurements"`
	Points       int                `json:"points"`
	FitPoints    int                `json:"fit_points"`
	HeldOut      int                `json:"held_out_points"`
	MAPE         float64            `json:"mape_pct"`
	HeldOutMAPE  map[string]float64 `json:"held_out_mape_pct_by_regime"`
	HeldOutP90   map[string]float64 `json:"held_out_p90_abs_err_pct_by_regime"`
	// Ceilings measured with the points (0 when the CSV has none); they
	// bounded the fitted efficiencies.
	CeilingMatmulTFLOPS float64 `json:"ceiling_matmul_bf16_tflops,omitempty"`
	CeilingCopyGBps     float64 `json:"ceiling_copy_gbps,omitempty"`
	// The attention kernels' throughput measured alone; when present the
	// attention efficiencies are their shares of peak, not fitted.
	CeilingAttentionCausalTFLOPS float64 `json:"ceiling_attention_causal_tflops,omitempty"`
	CeilingAttentionCachedTFLOPS float64 `json:"ceiling_attention_cached_tflops,omitempty"`
	// HeldOutLongPrefillMax is the largest |err| % over held-out prefill
	// with at least 16,384 new tokens in the iteration.
	HeldOutLongPrefillMax float64 `json:"held_out_long_prefill_max_abs_err_pct,omitempty"`
	Notes                 string  `json:"notes,omitempty"`
}

// New builds and validates a profile of a catalogue GPU and model.
func New(name, gpuName, modelName string, tp int) (*Profile, error) {
	p := &Profile{Name: name, GPUName: gpuName, ModelName: modelName, TP: tp,
		ComputeEfficiency: DefaultComputeEfficiency, AttentionEfficiency: DefaultAttentionEfficiency,
		CachedAttentionEfficiency: DefaultCachedAttentionEfficiency,
		MemoryEfficiency:          DefaultMemoryEfficiency, OverheadMS: DefaultOverheadMS, MinIterationMS: DefaultMinIterationMS,
		BytesPerParam: 2, KVBytesPerElement: 2,
		Description: "roofline profile from catalogue figures with default efficiencies (not fitted)"}
	if err := p.resolve(); err != nil {
		return nil, err
	}
	return p, nil
}

// required JSON fields of a profile file, in the order they are checked.
var requiredFields = []string{"name", "gpu", "model", "tp", "compute_efficiency", "attention_efficiency",
	"memory_efficiency", "overhead_ms", "min_iteration_ms"}

// Parse reads a profile file's bytes. Missing, negative or unknown fields are
// errors naming the field. cached_attention_efficiency is optional: absent,
// it takes attention_efficiency (profiles written before it existed).
func Parse(data []byte) (*Profile, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	for _, f := range requiredFields {
		if v, ok := raw[f]; !ok || string(v) == "null" {
			return nil, fmt.Errorf("profile: missing field %q", f)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	p := &Profile{}
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if _, ok := raw["bytes_per_param"]; !ok {
		p.BytesPerParam = 2
	}
	if _, ok := raw["kv_bytes_per_element"]; !ok {
		p.KVBytesPerElement = 2
	}
	if v, ok := raw["cached_attention_efficiency"]; !ok || string(v) == "null" {
		p.CachedAttentionEfficiency = p.AttentionEfficiency
	}
	if err := p.resolve(); err != nil {
		return nil, err
	}
	return p, nil
}

// Limits on a profile's fitted fields: an efficiency is a share of the
// datasheet peak, in [MinEfficiency, 1]; the per-iteration overhead and
// floor are at most MaxIterationMS. Outside them a modelled iteration would
// not be a physical time (or would overflow time.Duration).
const (
	MinEfficiency  = 1e-3
	MaxIterationMS = 60_000.0
)

// resolve validates the fields and attaches the catalogue GPU and model.
func (p *Profile) resolve() error {
	if strings.TrimSpace(p.Name) == "" {
		return errors.New("profile: field \"name\": must not be empty")
	}
	checks := []struct {
		field    string
		v        float64
		positive bool
	}{
		{"tp", float64(p.TP), true},
		{"compute_efficiency", p.ComputeEfficiency, true},
		{"attention_efficiency", p.AttentionEfficiency, true},
		{"cached_attention_efficiency", p.CachedAttentionEfficiency, true},
		{"memory_efficiency", p.MemoryEfficiency, true},
		{"overhead_ms", p.OverheadMS, false},
		{"min_iteration_ms", p.MinIterationMS, false},
		{"bytes_per_param", float64(p.BytesPerParam), true},
		{"kv_bytes_per_element", float64(p.KVBytesPerElement), true},
		{"mem_fraction", p.MemFraction, false},
		{"reserve_gib", p.ReserveGiB, false},
	}
	for _, c := range checks {
		switch {
		case math.IsNaN(c.v) || math.IsInf(c.v, 0):
			return fmt.Errorf("profile %s: field %q: not a finite number", p.Name, c.field)
		case c.v < 0:
			return fmt.Errorf("profile %s: field %q: must not be negative (got %g)", p.Name, c.field, c.v)
		case c.positive && c.v == 0:
			return fmt.Errorf("profile %s: field %q: must be positive", p.Name, c.field)
		}
	}
	if p.MemFraction > 1 {
		return fmt.Errorf("profile %s: field \"mem_fraction\": must be at most 1 (got %g)", p.Name, p.MemFraction)
	}
	for _, c := range checks[1:5] {
		if c.v < MinEfficiency || c.v > 1 {
			return fmt.Errorf("profile %s: field %q: an efficiency is a share of the datasheet peak, want %g to 1 (got %g)", p.Name, c.field, MinEfficiency, c.v)
		}
	}
	for _, c := range checks[5:7] {
		if c.v > MaxIterationMS {
			return fmt.Errorf("profile %s: field %q: at most %g ms (got %g)", p.Name, c.field, MaxIterationMS, c.v)
		}
	}
	g, err := LookupGPU(p.GPUName)
	if err != nil {
		return fmt.Errorf("profile %s: field \"gpu\": %w", p.Name, err)
	}
	m, err := LookupModel(p.ModelName)
	if err != nil {
		return fmt.Errorf("profile %s: field \"model\": %w", p.Name, err)
	}
	if m.Heads%p.TP != 0 {
		return fmt.Errorf("profile %s: field \"tp\": %d does not divide %s's %d attention heads", p.Name, p.TP, m.Name, m.Heads)
	}
	p.GPU, p.Model = g, m
	if _, err := p.cacheTokens(); err != nil {
		return fmt.Errorf("profile %s: %w", p.Name, err)
	}
	return nil
}

// MarshalIndent renders the profile as its JSON file.
func (p *Profile) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// MemFractionUsed is the profile's override or sglang's default rule.
func (p *Profile) MemFractionUsed() float64 {
	if p.MemFraction > 0 {
		return p.MemFraction
	}
	return MemFractionStatic(p.GPU.MemoryGiB*1024, p.TP)
}

// WeightBytes is the replica's weight memory.
func (p *Profile) WeightBytes() float64 {
	return float64(p.Model.Params()) * float64(p.BytesPerParam)
}

// KVBytesPerToken is the KV bytes one token takes in the replica.
func (p *Profile) KVBytesPerToken() int64 {
	return p.Model.KVBytesPerTokenTP(p.TP, p.KVBytesPerElement)
}

func (p *Profile) cacheTokens() (int, error) {
	const gib = 1 << 30
	avail := float64(p.TP)*p.GPU.MemoryBytes()*p.MemFractionUsed() - p.WeightBytes() - float64(p.TP)*p.ReserveGiB*gib
	if avail <= 0 {
		return 0, fmt.Errorf("%s does not fit on %d× %s: weights %.1f GiB + reserve %.1f GiB exceed %.1f GiB (mem_fraction %.3f) by %.1f GiB",
			p.Model.Name, p.TP, p.GPU.Name, p.WeightBytes()/gib, float64(p.TP)*p.ReserveGiB,
			float64(p.TP)*p.GPU.MemoryBytes()*p.MemFractionUsed()/gib, p.MemFractionUsed(), -avail/gib)
	}
	return int(avail / float64(p.KVBytesPerToken())), nil
}

// CacheTokens is the replica's KV capacity B in tokens.
func (p *Profile) CacheTokens() int {
	b, _ := p.cacheTokens() // validated when the profile was built
	return b
}

// PrefillChunk is one sequence's prefill work in an iteration: NewTokens
// computed on top of CachedTokens already in the KV cache.
type PrefillChunk struct {
	NewTokens    int
	CachedTokens int
}

// Iteration is one engine step: prefill chunks and decode sequences (one new
// token each on top of DecodeContexts[i] tokens of context). For chunked
// prefill, a chunk's CachedTokens is everything of its sequence already in
// the KV cache when the chunk runs: the prefix-cache hit plus the chunks
// computed in earlier iterations.
type Iteration struct {
	Prefill        []PrefillChunk
	DecodeContexts []int
}

// Breakdown is an iteration's modelled time in parts, milliseconds.
type Breakdown struct {
	LinearComputeMS    float64 `json:"linear_compute_ms"`
	LinearMemoryMS     float64 `json:"linear_memory_ms"`
	AttentionComputeMS float64 `json:"attention_compute_ms"`
	AttentionMemoryMS  float64 `json:"attention_memory_ms"`
	// AllReduceMS is tensor-parallel communication: two all-reduces per
	// layer (after attention and after the MLP) of the iteration's hidden
	// states, tokens × hidden × 2 bytes (0 at TP 1).
	AllReduceMS float64 `json:"allreduce_ms"`
	GPUMS       float64 `json:"gpu_ms"`
	TotalMS     float64 `json:"total_ms"`
}

// work is an iteration's FLOPs and bytes.
type work struct {
	linFLOPs, linBytes float64
	// attention FLOPs: of chunks with nothing cached (the causal kernel),
	// and of chunks on cached context and decode steps (the kernels with a
	// lower-right mask or none)
	attnNewFLOPs, attnCtxFLOPs, attnBytes float64
	// tokens is the iteration's token count (new prefill tokens plus one
	// per decode step): the rows of every all-reduce.
	tokens float64
}

func (p *Profile) work(it Iteration) work {
	m := p.Model
	var tokens, seqs, keysNew, keysCtx, kvTokens float64
	for _, c := range it.Prefill {
		if c.NewTokens <= 0 {
			continue
		}
		n, ctx := float64(c.NewTokens), float64(max(c.CachedTokens, 0))
		tokens += n
		seqs++
		// One kernel call per chunk: with nothing cached, the causal
		// kernel; on cached context, the lower-right one, for the causal
		// keys among its new tokens too.
		if ctx > 0 {
			keysCtx += n*ctx + n*(n+1)/2
		} else {
			keysNew += n * (n + 1) / 2
		}
		kvTokens += ctx + n
	}
	for _, x := range it.DecodeContexts {
		xf := float64(max(x, 0))
		tokens++
		seqs++
		keysCtx += xf + 1
		kvTokens += xf + 1
	}
	var w work
	if tokens == 0 {
		return w
	}
	w.tokens = tokens
	head := float64(m.embedParams())
	body := float64(m.ActiveParams()) - head - float64(m.headParams())
	w.linFLOPs = 2*body*tokens + 2*head*seqs
	bp := float64(p.BytesPerParam)
	if m.Experts > 0 {
		expertsAll := float64(m.Layers) * float64(m.Experts) * float64(m.expertParams())
		frac := 1 - math.Pow(1-float64(m.ExpertsPerToken)/float64(m.Experts), tokens)
		w.linBytes = (float64(m.Params())-expertsAll)*bp + expertsAll*frac*bp
	} else {
		w.linBytes = float64(m.Params()) * bp
	}
	perKey := 4 * float64(m.Layers) * float64(m.Heads) * float64(m.HeadDim)
	w.attnNewFLOPs, w.attnCtxFLOPs = perKey*keysNew, perKey*keysCtx
	w.attnBytes = kvTokens * float64(p.KVBytesPerToken())
	return w
}

// Estimate models one iteration.
func (p *Profile) Estimate(it Iteration) Breakdown {
	return p.estimate(p.work(it), p.params())
}

// params are the profile's efficiencies and overheads.
func (p *Profile) params() FitParams {
	return FitParams{ComputeEfficiency: p.ComputeEfficiency, AttentionEfficiency: p.AttentionEfficiency,
		CachedAttentionEfficiency: p.CachedAttentionEfficiency, MemoryEfficiency: p.MemoryEfficiency,
		OverheadMS: p.OverheadMS, MinIterationMS: p.MinIterationMS}
}

func (p *Profile) estimate(w work, fp FitParams) Breakdown {
	tp := float64(p.TP)
	var b Breakdown
	if w.linFLOPs == 0 && w.attnNewFLOPs == 0 && w.attnCtxFLOPs == 0 {
		return b
	}
	peak, bw := tp*p.GPU.BF16FLOPS, tp*p.GPU.MemBandwidth
	b.LinearComputeMS = w.linFLOPs / (peak * fp.ComputeEfficiency) * 1e3
	b.LinearMemoryMS = w.linBytes / (bw * fp.MemoryEfficiency) * 1e3
	b.AttentionComputeMS = (w.attnNewFLOPs/(peak*fp.AttentionEfficiency) + w.attnCtxFLOPs/(peak*fp.CachedAttentionEfficiency)) * 1e3
	b.AttentionMemoryMS = w.attnBytes / (bw * fp.MemoryEfficiency) * 1e3
	b.AllReduceMS = p.AllReduceMS(w.tokens)
	b.GPUMS = math.Max(b.LinearComputeMS, b.LinearMemoryMS) + math.Max(b.AttentionComputeMS, b.AttentionMemoryMS) + b.AllReduceMS
	b.TotalMS = fp.OverheadMS + math.Max(fp.MinIterationMS, b.GPUMS)
	return b
}

// AllReduceMS is the tensor-parallel communication of one iteration of
// tokens tokens: per layer two ring all-reduces of tokens × hidden ×
// BytesPerParam bytes (activations in the weights' precision), serial with
// the layers' GPU work (vLLM waits for each all-reduce before the next
// layer). 0 at TP 1 or on a GPU without an NVLink figure.
func (p *Profile) AllReduceMS(tokens float64) float64 {
	bytes := tokens * float64(p.Model.Hidden) * float64(p.BytesPerParam)
	return 2 * float64(p.Model.Layers) * p.GPU.AllReduceSeconds(bytes, p.TP) * 1e3
}

// ForwardTime is the modelled time of one forward of tokens new tokens (one
// sequence, nothing cached) of catalogue model on tp catalogue GPUs with
// the catalogue's default efficiencies: a roofline answer to "how long does
// a prefill of N tokens take on GPU G, model M, TP t", communication
// included. A fitted profile answers the same through Estimate.
func ForwardTime(gpu, model string, tp, tokens int) (Breakdown, error) {
	p, err := New(catalogueName(gpu, model, tp), gpu, model, tp)
	if err != nil {
		return Breakdown{}, err
	}
	return p.Estimate(Iteration{Prefill: []PrefillChunk{{NewTokens: tokens}}}), nil
}

// IterationTime is the modelled duration of one engine iteration (0 for an
// empty one).
func (p *Profile) IterationTime(it Iteration) time.Duration {
	return time.Duration(p.Estimate(it).TotalMS * float64(time.Millisecond))
}

// MarginalPrefillMS is the marginal prefill cost per token of one sequence
// (batch 1) at newTokens new on top of cachedTokens cached: the derivative
// of the GPU time (overhead and floor excluded: they do not grow per token)
// with respect to new tokens and to cached tokens, by central differences
// over ±64 tokens.
func (p *Profile) MarginalPrefillMS(newTokens, cachedTokens int) (perNewMS, perCachedMS float64) {
	const d = 64
	g := func(n, c int) float64 {
		return p.Estimate(Iteration{Prefill: []PrefillChunk{{NewTokens: n, CachedTokens: c}}}).GPUMS
	}
	n0 := max(newTokens, d+1)
	perNewMS = (g(n0+d, cachedTokens) - g(n0-d, cachedTokens)) / (2 * d)
	c0 := max(cachedTokens, d)
	perCachedMS = (g(max(newTokens, 1), c0+d) - g(max(newTokens, 1), c0-d)) / (2 * d)
	return perNewMS, perCachedMS
}

// LBGRPaperCoefficients are the two values SPEC §7's lbgr:preset=paper takes
// from an engine profile: a_c, the marginal ms per cached token of a batch-1
// prefill at context 0 (one new token on top of a growing cached prefix), and
// a_m, the marginal ms per missed token of a batch-1 prefill of a 4,096-token
// prompt with nothing cached.
func (p *Profile) LBGRPaperCoefficients() (cachedMS, missMS float64) {
	_, cachedMS = p.MarginalPrefillMS(1, 0)
	missMS, _ = p.MarginalPrefillMS(4096, 0)
	return cachedMS, missMS
}

//go:embed profiles/*.json
var embedded embed.FS

// catalogueTPs are the tensor-parallel degrees tried for catalogue names.
var catalogueTPs = []int{1, 2, 4, 8}

// MinCatalogueCacheTokens is the KV capacity a listed catalogue profile
// should offer: Names picks the smallest TP whose cache holds this many
// tokens (a 64k-token context), this project's choice.
const MinCatalogueCacheTokens = 65536

// Names lists the profiles Lookup accepts by name: the embedded measured
// profiles and, for each catalogue GPU × model, the smallest TP in 1, 2, 4, 8
// whose KV cache holds MinCatalogueCacheTokens (else the largest that fits;
// "-tpN" is added when N > 1). Any other valid "GPU-MODEL-tpN" is accepted
// by Lookup too.
func Names() []string {
	var names []string
	ents, _ := fs.Glob(embedded, "profiles/*.json")
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(path.Base(e), ".json"))
	}
	for _, g := range GPUs() {
		for _, m := range Models() {
			pick := ""
			for _, tp := range catalogueTPs {
				p, err := New(catalogueName(g.Name, m.Name, tp), g.Name, m.Name, tp)
				if err != nil {
					continue
				}
				pick = p.Name
				if p.CacheTokens() >= MinCatalogueCacheTokens {
					break
				}
			}
			if pick != "" {
				names = append(names, pick)
			}
		}
	}
	sort.Strings(names)
	return names
}

func catalogueName(gpu, model string, tp int) string {
	if tp == 1 {
		return gpu + "-" + model
	}
	return fmt.Sprintf("%s-%s-tp%d", gpu, model, tp)
}

// parseCatalogueName splits "GPU-MODEL[-tpN]".
func parseCatalogueName(name string) (gpu, model string, tp int, ok bool) {
	tp = 1
	base := name
	if i := strings.LastIndex(name, "-tp"); i > 0 {
		if n, err := strconv.Atoi(name[i+3:]); err == nil {
			tp, base = n, name[:i]
		}
	}
	for _, g := range gpus {
		if rest, found := strings.CutPrefix(base, g.Name+"-"); found {
			for _, m := range models {
				if rest == m.Name {
					return g.Name, m.Name, tp, true
				}
			}
		}
	}
	return "", "", 0, false
}

// Lookup resolves a profile by name (embedded measured profiles, then
// catalogue "GPU-MODEL[-tpN]" names) or, when nameOrPath names a file, reads
// it. An unknown name is an error listing the valid ones.
func Lookup(nameOrPath string) (*Profile, error) {
	if data, err := embedded.ReadFile("profiles/" + nameOrPath + ".json"); err == nil && !strings.Contains(nameOrPath, "/") {
		p, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("embedded %w", err)
		}
		return p, nil
	}
	if g, m, tp, ok := parseCatalogueName(nameOrPath); ok {
		return New(nameOrPath, g, m, tp)
	}
	if st, err := os.Stat(nameOrPath); err == nil && !st.IsDir() {
		data, err := os.ReadFile(nameOrPath)
		if err != nil {
			return nil, err
		}
		p, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nameOrPath, err)
		}
		return p, nil
	}
	return nil, &UnknownProfileError{Name: nameOrPath, Valid: Names()}
}

// UnknownProfileError is Lookup's error for a name that is neither a profile
// nor a file.
type UnknownProfileError struct {
	Name  string
	Valid []string
}

func (e *UnknownProfileError) Error() string {
	return fmt.Sprintf("unknown profile %q: not a built-in name nor a file (valid names: %s; or GPU-MODEL-tpN)%s",
		e.Name, strings.Join(e.Valid, ", "), suggest.DidYouMean(e.Name, e.Valid))
}
