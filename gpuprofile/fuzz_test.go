package gpuprofile

import (
	"bytes"
	"math"
	"os"
	"testing"
)

// FuzzMeasurements: any bytes read as a measurements CSV either fail with an
// error or give points with positive, finite times and non-negative sizes,
// and positive (or absent) ceilings; nothing panics.
func FuzzMeasurements(f *testing.F) {
	b, err := os.ReadFile("../samples/h200_llama31_8b_measurements.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:min(len(b), 3000)])
	f.Add([]byte("kind,batch,new_tokens,cached_tokens,context_tokens,median_ms\nprefill,1,128,0,0,19.5\ndecode,8,1,0,2048,30.6\n"))
	f.Add([]byte("# ceiling_copy_gbps=4198.8\nkind,batch,new_tokens,cached_tokens,context_tokens,median_ms\nprefill,1,128,0,0,1e400\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pts, ceil, err := ReadMeasurementSet(bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			return
		}
		for i, p := range pts {
			if !(p.MedianMS > 0) || math.IsInf(p.MedianMS, 0) {
				t.Fatalf("point %d: time %v accepted", i, p.MedianMS)
			}
			if p.Batch < 1 || p.NewTokens < 0 || p.CachedTokens < 0 || p.ContextTokens < 0 {
				t.Fatalf("point %d: sizes %+v accepted", i, p)
			}
		}
		for _, c := range []float64{ceil.CopyGBps, ceil.MatmulTFLOPS} {
			if c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
				t.Fatalf("ceiling %v accepted", c)
			}
		}
	})
}

// FuzzProfile: a profile file that parses predicts finite, non-negative
// times and a positive cache; nothing panics.
func FuzzProfile(f *testing.F) {
	b, err := os.ReadFile("profiles/h200-llama-3.1-8b-hf.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"name": "mine", "gpu": "h200", "model": "llama-3.1-8b", "tp": 1, "compute_efficiency": 0.5,
 "attention_efficiency": 0.4, "memory_efficiency": 0.8, "overhead_ms": 1, "min_iteration_ms": 0, "mem_fraction": 0.5}`))
	f.Add([]byte(`{"name": "m", "gpu": "l4", "model": "mixtral-8x7b", "tp": 8, "compute_efficiency": 1e-300,
 "attention_efficiency": 0.4, "memory_efficiency": 0.8, "overhead_ms": 1, "min_iteration_ms": 0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if c := p.CacheTokens(); c < 1 {
			t.Fatalf("profile %s parsed with cache %d tokens", p.Name, c)
		}
		for _, it := range []Iteration{
			{Prefill: []PrefillChunk{{NewTokens: 1}}},
			{Prefill: []PrefillChunk{{NewTokens: 4096, CachedTokens: 1024}}},
			{DecodeContexts: []int{8192}},
			{Prefill: []PrefillChunk{{NewTokens: 512}}, DecodeContexts: []int{100, 200}},
		} {
			ms := p.Estimate(it).TotalMS
			if !(ms > 0) || math.IsInf(ms, 0) {
				t.Fatalf("profile %s: iteration %+v takes %v ms", p.Name, it, ms)
			}
			if d := p.IterationTime(it); d <= 0 {
				t.Fatalf("profile %s: iteration %+v lasts %v", p.Name, it, d)
			}
		}
	})
}
