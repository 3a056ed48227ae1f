package gpuprofile

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParamsDerivedFromShape(t *testing.T) {
	tests := []struct {
		model         string
		total, active float64 // published counts (active = total for dense)
		tol           float64 // relative
		exactTotal    int64   // 0: no exact check
	}{
		// exact: the count HF's LlamaForCausalLM reported in the H200 harness run
		{"llama-3.1-8b", 8.03e9, 8.03e9, 0.001, 8030261248},
		{"llama-3.1-70b", 70.6e9, 70.6e9, 0.01, 0},
		// Mixtral: 46.7B total, 12.9B active (github.com/nosana-ci/pipeline-templates Mixtral README)
		{"mixtral-8x7b", 46.7e9, 12.9e9, 0.01, 0},
		// Qwen2.5 model cards: 32.5B and 72.7B parameters
		{"qwen2.5-32b", 32.5e9, 32.5e9, 0.01, 0},
		{"qwen2.5-72b", 72.7e9, 72.7e9, 0.01, 0},
		{"qwen2.5-7b", 7.6e9, 7.6e9, 0.01, 0},
		{"mistral-7b", 7.24e9, 7.24e9, 0.01, 0},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			m, err := LookupModel(tt.model)
			if err != nil {
				t.Fatal(err)
			}
			if tt.exactTotal != 0 && m.Params() != tt.exactTotal {
				t.Errorf("Params = %d, want %d", m.Params(), tt.exactTotal)
			}
			if r := float64(m.Params())/tt.total - 1; math.Abs(r) > tt.tol {
				t.Errorf("Params = %.4g, published %.4g (off by %.2f%%)", float64(m.Params()), tt.total, r*100)
			}
			if r := float64(m.ActiveParams())/tt.active - 1; math.Abs(r) > tt.tol {
				t.Errorf("ActiveParams = %.4g, published %.4g (off by %.2f%%)", float64(m.ActiveParams()), tt.active, r*100)
			}
		})
	}
}

func TestKVBytesPerToken(t *testing.T) {
	tests := []struct {
		model string
		tp    int
		want  int64
	}{
		{"llama-3.1-8b", 1, 2 * 32 * 8 * 128 * 2},   // 131072: 128 KiB per token
		{"llama-3.1-8b", 8, 2 * 32 * 8 * 128 * 2},   // 8 KV heads split over 8 ranks
		{"llama-3.1-8b", 16, 2 * 32 * 16 * 128 * 2}, // fewer KV heads than ranks: replicated
		{"qwen2.5-7b", 1, 2 * 28 * 4 * 128 * 2},
		{"qwen2.5-7b", 7, 2 * 28 * 7 * 128 * 2},
		{"llama-3.1-70b", 4, 2 * 80 * 8 * 128 * 2},
	}
	for _, tt := range tests {
		m, _ := LookupModel(tt.model)
		if got := m.KVBytesPerTokenTP(tt.tp, 2); got != tt.want {
			t.Errorf("%s tp%d: KV bytes per token %d, want %d", tt.model, tt.tp, got, tt.want)
		}
	}
}

func TestMemFractionStatic(t *testing.T) {
	tests := []struct {
		mib  float64
		tp   int
		want float64
	}{
		{143771, 1, 0.911}, // H200 as the device reports it: (143771 − 12.5·1024)/143771
		{81920, 1, 0.875},  // 80 GiB: reserved (9.5+0.5) GiB
		{81920, 4, 0.856},  // reserved (9.5+2) GiB: (81920 − 11776)/81920
		{24576, 1, 0.879},  // 24 GiB: reserved (2.8+0.1) GiB
		{196608, 8, 0.833}, // 192 GiB: 32 GiB reserved whatever the TP
	}
	for _, tt := range tests {
		if got := MemFractionStatic(tt.mib, tt.tp); got != tt.want {
			t.Errorf("MemFractionStatic(%g, %d) = %g, want %g", tt.mib, tt.tp, got, tt.want)
		}
	}
}

func TestCacheTokens(t *testing.T) {
	p, err := Lookup("h200-llama-3.1-8b")
	if err != nil {
		t.Fatal(err)
	}
	// (141 GiB · 0.911 − 8,030,261,248 · 2 B) / 131,072 B
	gib, params := float64(1<<30), 8030261248.0
	want := int((141*gib*0.911 - params*2) / 131072)
	if got := p.CacheTokens(); got != want {
		t.Errorf("CacheTokens = %d, want %d", got, want)
	}
	if p.CacheTokens() < 850_000 || p.CacheTokens() > 1_000_000 {
		t.Errorf("CacheTokens = %d, implausible for 8B on 141 GiB", p.CacheTokens())
	}
	// An override of mem_fraction and a reserve change it as the formula says.
	q := *p
	q.MemFraction, q.ReserveGiB = 0.5, 1
	want = int((141*gib*0.5 - params*2 - gib) / 131072)
	if got := q.CacheTokens(); got != want {
		t.Errorf("overridden CacheTokens = %d, want %d", got, want)
	}
}

func TestModelDoesNotFit(t *testing.T) {
	_, err := New("x", "l4", "llama-3.1-70b", 1)
	if err == nil || !strings.Contains(err.Error(), "does not fit") || !strings.Contains(err.Error(), "GiB") {
		t.Fatalf("want a does-not-fit error saying by how much, got %v", err)
	}
	if _, err := New("x", "l4", "llama-3.1-70b", 8); err != nil {
		t.Errorf("70B on 8× L4 should fit: %v", err)
	}
	if _, err := New("x", "h100-sxm", "qwen2.5-7b", 8); err == nil || !strings.Contains(err.Error(), "does not divide") {
		t.Errorf("TP 8 with 28 heads: want a tp error, got %v", err)
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	good := `{"name":"p","gpu":"h200","model":"llama-3.1-8b","tp":1,"compute_efficiency":0.5,"attention_efficiency":0.4,` +
		`"memory_efficiency":0.8,"overhead_ms":1,"min_iteration_ms":0}`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatalf("good profile: %v", err)
	}
	// cached_attention_efficiency is optional: absent (or null) it is
	// attention_efficiency, so profiles written before it predict as before.
	for _, in := range []string{good, strings.Replace(good, `"tp":1`, `"tp":1,"cached_attention_efficiency":null`, 1)} {
		if p, err := Parse([]byte(in)); err != nil || p.CachedAttentionEfficiency != 0.4 {
			t.Errorf("absent cached_attention_efficiency: got %v, %v; want 0.4", p, err)
		}
	}
	if p, err := Parse([]byte(strings.Replace(good, `"tp":1`, `"tp":1,"cached_attention_efficiency":0.25`, 1))); err != nil || p.CachedAttentionEfficiency != 0.25 {
		t.Errorf("cached_attention_efficiency 0.25: got %v, %v", p, err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"missing", strings.Replace(good, `"overhead_ms":1,`, "", 1), `missing field "overhead_ms"`},
		{"missing tp", strings.Replace(good, `"tp":1,`, "", 1), `missing field "tp"`},
		{"null", strings.Replace(good, `"overhead_ms":1`, `"overhead_ms":null`, 1), `missing field "overhead_ms"`},
		{"negative", strings.Replace(good, `"overhead_ms":1`, `"overhead_ms":-1`, 1), `field "overhead_ms": must not be negative`},
		{"negative eff", strings.Replace(good, `"memory_efficiency":0.8`, `"memory_efficiency":-0.8`, 1), `field "memory_efficiency"`},
		{"zero eff", strings.Replace(good, `"compute_efficiency":0.5`, `"compute_efficiency":0`, 1), `field "compute_efficiency": must be positive`},
		{"zero tp", strings.Replace(good, `"tp":1`, `"tp":0`, 1), `field "tp": must be positive`},
		{"mem fraction", strings.Replace(good, `"tp":1`, `"tp":1,"mem_fraction":1.5`, 1), `field "mem_fraction"`},
		{"negative cached attention", strings.Replace(good, `"tp":1`, `"tp":1,"cached_attention_efficiency":-0.3`, 1), `field "cached_attention_efficiency": must not be negative`},
		{"zero cached attention", strings.Replace(good, `"tp":1`, `"tp":1,"cached_attention_efficiency":0`, 1), `field "cached_attention_efficiency": must be positive`},
		{"cached attention type", strings.Replace(good, `"tp":1`, `"tp":1,"cached_attention_efficiency":"fast"`, 1), `cached_attention_efficiency`},
		{"unknown field", strings.Replace(good, `"tp":1`, `"tp":1,"turbo":true`, 1), `unknown field "turbo"`},
		{"unknown gpu", strings.Replace(good, `"h200"`, `"h300"`, 1), `field "gpu": unknown GPU "h300" (valid: a100-80gb, a10g, b200, h100-sxm, h200, l4, l40, l40s, mi300x)`},
		{"unknown model", strings.Replace(good, `"llama-3.1-8b"`, `"llama-9"`, 1), `field "model": unknown model "llama-9" (valid: codellama-34b, llama-2-70b`},
		{"wrong type", strings.Replace(good, `"tp":1`, `"tp":"one"`, 1), `tp`},
		{"not json", `{`, `profile:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	names := Names()
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
		if _, err := Lookup(n); err != nil {
			t.Errorf("Lookup(%q) from Names: %v", n, err)
		}
	}
	for _, want := range []string{"h200-llama-3.1-8b-hf", "h100-sxm-llama-3.1-8b", "h100-sxm-llama-3.1-70b-tp4", "l40-mixtral-8x7b-tp4"} {
		if !seen[want] {
			t.Errorf("Names() lacks %q", want)
		}
	}
	if p, err := Lookup("h100-sxm-llama-3.1-8b-tp2"); err != nil || p.TP != 2 {
		t.Errorf("explicit tp: %v %v", p, err)
	}
	_, err := Lookup("h900-llama")
	var ue *UnknownProfileError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "h200-llama-3.1-8b-hf") || !strings.Contains(err.Error(), "h100-sxm-llama-3.1-8b") {
		t.Fatalf("unknown name: want the valid names listed, got %v", err)
	}
	hf, err := Lookup("h200-llama-3.1-8b-hf")
	if err != nil || hf.Fit == nil {
		t.Fatalf("embedded measured profile: %v", err)
	}
}

func TestIterationTime(t *testing.T) {
	p, _ := Lookup("h100-sxm-llama-3.1-8b")
	if d := p.IterationTime(Iteration{}); d != 0 {
		t.Errorf("empty iteration = %v", d)
	}
	prev := 0.0
	for _, n := range []int{1, 512, 1024, 4096, 16384} {
		ms := p.Estimate(Iteration{Prefill: []PrefillChunk{{NewTokens: n}}}).TotalMS
		if ms <= prev {
			t.Errorf("prefill %d: %.3f ms not above %.3f", n, ms, prev)
		}
		prev = ms
	}
	// Cached context costs attention: more cache, more time; but far less than recomputing it.
	a := p.Estimate(Iteration{Prefill: []PrefillChunk{{NewTokens: 1024, CachedTokens: 0}}}).TotalMS
	b := p.Estimate(Iteration{Prefill: []PrefillChunk{{NewTokens: 1024, CachedTokens: 8192}}}).TotalMS
	c := p.Estimate(Iteration{Prefill: []PrefillChunk{{NewTokens: 9216}}}).TotalMS
	if !(a < b && b < c) {
		t.Errorf("cached ordering: %.2f %.2f %.2f", a, b, c)
	}
	// A decode step at batch 1 is memory bound: weights/bandwidth.
	d := p.Estimate(Iteration{DecodeContexts: []int{0}})
	wantMem := 8030261248 * 2 / (3.35e12 * DefaultMemoryEfficiency) * 1e3
	if math.Abs(d.LinearMemoryMS-wantMem) > 1e-9 || d.LinearMemoryMS < d.LinearComputeMS {
		t.Errorf("decode: memory %.4f ms (want %.4f), compute %.4f", d.LinearMemoryMS, wantMem, d.LinearComputeMS)
	}
	// Prefill of 4096: FLOPs by hand.
	body := float64(8030261248 - 2*128256*4096)
	lin := (2*body*4096 + 2*128256*4096) / (989.4e12 * DefaultComputeEfficiency) * 1e3
	att := 4 * 32 * 32 * 128 * (4096 * 4097 / 2.0) / (989.4e12 * DefaultAttentionEfficiency) * 1e3
	e := p.Estimate(Iteration{Prefill: []PrefillChunk{{NewTokens: 4096}}})
	if math.Abs(e.LinearComputeMS-lin) > 1e-9 || math.Abs(e.AttentionComputeMS-att) > 1e-9 {
		t.Errorf("prefill 4096: linear %.6f want %.6f, attention %.6f want %.6f", e.LinearComputeMS, lin, e.AttentionComputeMS, att)
	}
	if math.Abs(e.TotalMS-(DefaultOverheadMS+lin+att)) > 1e-9 {
		t.Errorf("total %.6f, want overhead + linear + attention %.6f", e.TotalMS, DefaultOverheadMS+lin+att)
	}
	// New tokens on cached context: one lower-right kernel call, so all the
	// chunk's keys (new×cached and the causal new×new) at
	// cached_attention_efficiency; a chunk with nothing cached beside it
	// runs the causal kernel at attention_efficiency.
	q := *p
	q.AttentionEfficiency, q.CachedAttentionEfficiency = 0.5, 0.2
	e = q.Estimate(Iteration{Prefill: []PrefillChunk{{NewTokens: 1024, CachedTokens: 8192}}})
	att = 4 * 32 * 32 * 128 * ((1024*1025/2.0 + 1024*8192) / 0.2) / 989.4e12 * 1e3
	if math.Abs(e.AttentionComputeMS-att) > 1e-9 {
		t.Errorf("cached prefill attention %.6f ms, want %.6f", e.AttentionComputeMS, att)
	}
	e = q.Estimate(Iteration{Prefill: []PrefillChunk{{NewTokens: 1024, CachedTokens: 8192}, {NewTokens: 512}}})
	att += 4 * 32 * 32 * 128 * (512 * 513 / 2.0 / 0.5) / 989.4e12 * 1e3
	if math.Abs(e.AttentionComputeMS-att) > 1e-9 {
		t.Errorf("cached + uncached chunks: attention %.6f ms, want %.6f", e.AttentionComputeMS, att)
	}
	// A catalogue profile does not tell the two apart: same as one efficiency.
	if p.CachedAttentionEfficiency != p.AttentionEfficiency {
		t.Errorf("catalogue cached_attention_efficiency %v, attention_efficiency %v", p.CachedAttentionEfficiency, p.AttentionEfficiency)
	}
}

func TestMoEWeightTraffic(t *testing.T) {
	p, err := Lookup("h200-mixtral-8x7b")
	if err != nil {
		t.Fatal(err)
	}
	one := p.work(Iteration{DecodeContexts: []int{10}}).linBytes
	many := p.work(Iteration{DecodeContexts: make([]int, 256)}).linBytes
	total := float64(p.Model.Params()) * 2
	if !(one < 0.4*total) || math.Abs(many/total-1) > 1e-6 {
		t.Errorf("one token reads %.3g of %.3g bytes; 256 tokens read %.3g", one, total, many)
	}
}

func TestLBGRPaperCoefficients(t *testing.T) {
	p, _ := Lookup("h100-sxm-llama-3.1-8b")
	ac, am := p.LBGRPaperCoefficients()
	if !(ac > 0 && am > 0 && am > 10*ac) {
		t.Errorf("a_c %.6f, a_m %.6f: want both positive and a missed token far dearer", ac, am)
	}
	// a_m at 4096: linear + attention slope, by hand.
	body := float64(8030261248 - 2*128256*4096)
	want := (2*body/(989.4e12*DefaultComputeEfficiency) + 4*32*32*128*4096.5/(989.4e12*DefaultAttentionEfficiency)) * 1e3
	if math.Abs(am/want-1) > 1e-3 {
		t.Errorf("a_m = %.6f ms/token, want %.6f", am, want)
	}
}
