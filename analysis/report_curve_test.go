package analysis

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
	"github.com/kvscope/kvscope/samples"
)

func curveSample(t *testing.T) *trace.Trace {
	t.Helper()
	return tracetest.Sample(t, samples.Mooncake)
}

func curveCfg(u kvcache.Unit) curve.Config {
	return curve.Config{Workers: 1, Router: param.Spec{Name: "round_robin"}, Unit: u, Seed: 1}
}

func renderCurve(t *testing.T, r *CurveReport, f Format) []byte {
	t.Helper()
	var a, b bytes.Buffer
	if err := r.Write(&a, f); err != nil {
		t.Fatal(err)
	}
	if err := r.Write(&b, f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("%s: two renderings differ", f)
	}
	return a.Bytes()
}

// The golden reports: the embedded Mooncake slice at chosen capacities,
// with the GPU capacities of Llama-3.1-8B, opt and rlt.
func TestCurveReportGolden(t *testing.T) {
	r, err := NewCurveReport(context.Background(), curveSample(t), curveCfg(kvcache.Blocks), CurveOptions{
		At: []int64{248, 1000, 4000}, Model: "llama-3.1-8b", OptAt: []int64{1000, 4000}, RLTAt: []int64{1000}, Seeds: 3})
	if err != nil {
		t.Fatal(err)
	}
	r.Command, r.Version = "kvscope curve sample:"+samples.Mooncake+" --at 248,1000,4000 --opt-at 1000,4000 --rlt-at 1000 --seeds 3", "test"
	checkGolden(t, "curve.md.golden", renderCurve(t, r, FormatMarkdown))
	checkGolden(t, "curve.json.golden", renderCurve(t, r, FormatJSON))
	checkGolden(t, "curve.csv.golden", renderCurve(t, r, FormatCSV))
	html := string(renderCurve(t, r, FormatHTML))
	for _, want := range []string{`<svg role="img"`, `id="chart-curve"`, `<h2 id="knees">`, `<h2 id="gpus">`, `<h2 id="opt">`, `<h2 id="rlt">`} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML report lacks %s", want)
		}
	}
}

type curveJSON struct {
	Unit        string `json:"unit"`
	MinCapacity int64  `json:"min_capacity"`
	Points      []struct {
		CacheBlocks float64  `json:"cache_blocks"`
		CacheTokens int64    `json:"cache_tokens"`
		KVGiB       *float64 `json:"kv_gib"`
		Block       float64  `json:"block_hit_ratio"`
		Token       float64  `json:"token_hit_ratio"`
		HitBlocks   int64    `json:"hit_blocks"`
	} `json:"points"`
	Markers []struct {
		GPU         string `json:"gpu"`
		TP          int    `json:"tp"`
		CacheTokens int64  `json:"cache_tokens"`
		Capacity    int64  `json:"capacity"`
		BelowMin    bool   `json:"below_min"`
	} `json:"markers"`
	Knees []struct {
		Fraction float64 `json:"fraction"`
		Ratio    string  `json:"ratio"`
		Capacity int64   `json:"capacity"`
	} `json:"knees"`
}

// Without --at the JSON lists one point per capacity where the ratio
// changes, each equal to a replay at that capacity; the CSV the same rows.
func TestCurveReportSteps(t *testing.T) {
	tr := curveSample(t)
	for _, u := range []kvcache.Unit{kvcache.Blocks, kvcache.Tokens} {
		cfg := curveCfg(u)
		r, err := NewCurveReport(context.Background(), tr, cfg, CurveOptions{Model: "llama-3.1-8b"})
		if err != nil {
			t.Fatal(err)
		}
		var doc curveJSON
		if err := json.Unmarshal(renderCurve(t, r, FormatJSON), &doc); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(renderCurve(t, r, FormatCSV))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(doc.Points) < 10 || len(rows) != len(doc.Points)+1 || doc.Points[0].CacheTokens != r.Tokens(doc.MinCapacity) {
			t.Fatalf("%s: %d points, %d CSV rows, first at %d tokens", u, len(doc.Points), len(rows), doc.Points[0].CacheTokens)
		}
		for i, p := range doc.Points {
			c := p.CacheTokens
			if u == kvcache.Blocks {
				c = int64(p.CacheBlocks)
			}
			if i > 0 && p.HitBlocks == doc.Points[i-1].HitBlocks && p.Token == doc.Points[i-1].Token {
				t.Fatalf("%s: point %d at %d does not change the ratio", u, i, c)
			}
			if p.KVGiB == nil {
				t.Fatalf("%s: point %d has no kv_gib", u, i)
			}
			if i%max(1, len(doc.Points)/12) != 0 && i != len(doc.Points)-1 {
				continue
			}
			res, err := seq.Run(tr, seq.Config{Workers: 1, Router: cfg.Router, Evict: param.Spec{Name: "lru"}, Unit: u, Capacity: c, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if res.BlockHitRatio != p.Block || res.TokenHitRatio != p.Token {
				t.Fatalf("%s: at %d the report says %v %v, replay %v %v", u, c, p.Block, p.Token, res.BlockHitRatio, res.TokenHitRatio)
			}
			// The ratio changes here: one less is a different replay.
			if i > 0 {
				prev, err := seq.Run(tr, seq.Config{Workers: 1, Router: cfg.Router, Evict: param.Spec{Name: "lru"}, Unit: u, Capacity: c - 1, Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				if prev.HitBlocks == res.HitBlocks && prev.HitTokens == res.HitTokens {
					t.Fatalf("%s: replay at %d equals replay at %d, yet %d is listed as a step", u, c-1, c, c)
				}
			}
		}
		// Markers: every GPU × TP that fits, at the profile's capacity.
		if len(doc.Markers) == 0 {
			t.Fatalf("%s: no markers", u)
		}
		for _, m := range doc.Markers {
			p, err := gpuprofile.New("x", m.GPU, "llama-3.1-8b", m.TP)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(p.CacheTokens())
			if m.CacheTokens != want {
				t.Fatalf("%s-tp%d: %d tokens, profile %d", m.GPU, m.TP, m.CacheTokens, want)
			}
			if u == kvcache.Blocks {
				want /= int64(tr.Info.BlockSize)
			}
			if m.Capacity != want || m.BelowMin != (want < doc.MinCapacity) {
				t.Fatalf("%s-tp%d: capacity %d below %v, want %d", m.GPU, m.TP, m.Capacity, m.BelowMin, want)
			}
		}
		// Knees: nondecreasing in the share, each the first reaching it.
		for i, k := range doc.Knees {
			if i%3 != 0 && k.Capacity < doc.Knees[i-1].Capacity {
				t.Fatalf("%s: knees not ordered: %+v", u, doc.Knees)
			}
			if k.Capacity <= doc.MinCapacity {
				continue
			}
			un := r.Unbounded
			at, _ := r.Curve.At(k.Capacity)
			before, _ := r.Curve.At(k.Capacity - 1)
			get := func(p curve.Point) float64 {
				if k.Ratio == "token" {
					return p.TokenHitRatio
				}
				return p.BlockHitRatio
			}
			target := k.Fraction * get(un)
			if get(at) < target || get(before) >= target {
				t.Fatalf("%s: knee %+v: %v at it, %v one below, target %v", u, k, get(at), get(before), target)
			}
		}
	}
}

func TestCurveReportErrors(t *testing.T) {
	tr := curveSample(t)
	cfg := curveCfg(kvcache.Blocks)
	var below *curve.BelowMinError
	for _, o := range []CurveOptions{{At: []int64{100}}, {OptAt: []int64{100}}, {RLTAt: []int64{1}}} {
		if _, err := NewCurveReport(context.Background(), tr, cfg, o); !errors.As(err, &below) {
			t.Errorf("%+v: %v, want a BelowMinError", o, err)
		}
	}
	if _, err := NewCurveReport(context.Background(), tr, cfg, CurveOptions{Model: "gpt-5"}); err == nil || !strings.Contains(err.Error(), "llama-3.1-8b") {
		t.Errorf("unknown model: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewCurveReport(ctx, tr, cfg, CurveOptions{RLTAt: []int64{1000}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// Below L, oversize fail and bypass give exact points (one pass per set
// of requests left out): --at's, the GPU capacities, opt's check.
func TestCurveReportBelow(t *testing.T) {
	tr := curveSample(t)
	for _, ov := range []string{"fail", "bypass"} {
		cfg := curveCfg(kvcache.Blocks)
		cfg.Oversize = ov
		r, err := NewCurveReport(context.Background(), tr, cfg, CurveOptions{At: []int64{60, 98, 150, 242, 243, 1000},
			Model: "llama-3.1-8b", OptAt: []int64{150}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Curve.MinCapacity != 243 {
			t.Fatalf("L = %d", r.Curve.MinCapacity)
		}
		replay := func(c int64) *seq.Result {
			res, err := seq.Run(tr, seq.Config{Workers: 1, Router: cfg.Router, Evict: param.Spec{Name: "lru"}, Unit: kvcache.Blocks,
				Capacity: c, Seed: 1, Oversize: ov})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		for _, p := range r.AtPoints {
			res := replay(p.Capacity)
			if p.HitBlocks != res.HitBlocks || p.BlockHitRatio != res.BlockHitRatio || p.TokenHitRatio != res.TokenHitRatio {
				t.Fatalf("%s at %d: %+v, replay %d %v %v", ov, p.Capacity, p, res.HitBlocks, res.BlockHitRatio, res.TokenHitRatio)
			}
		}
		below := 0
		for _, m := range r.Markers {
			if !m.HasPoint {
				t.Fatalf("%s: marker %s has no point", ov, m.Profile)
			}
			if !m.BelowMin {
				continue
			}
			below++
			if res := replay(m.Capacity); m.Point.HitBlocks != res.HitBlocks || m.Skipped != res.Failed.Count+res.Bypassed {
				t.Fatalf("%s: marker %s at %d: %d hits %d left out, replay %d hits, %d failed, %d bypassed", ov, m.Profile, m.Capacity,
					m.Point.HitBlocks, m.Skipped, res.HitBlocks, res.Failed.Count, res.Bypassed)
			}
		}
		if below == 0 {
			t.Fatalf("%s: no marker below L", ov)
		}
		if len(r.Opt) != 1 {
			t.Fatalf("%s: opt %+v", ov, r.Opt)
		}
		md := string(renderCurve(t, r, FormatMarkdown))
		if !strings.Contains(md, "| oversize | "+ov+" |") || !strings.Contains(md, "("+ov+")") {
			t.Fatalf("%s: the report does not say which points left requests out", ov)
		}
	}
}
