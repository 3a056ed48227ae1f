package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/gpuprofile"
)

// GPUPrice is a default price of one catalogue GPU, in US$ per GPU-hour,
// with where it was found.
type GPUPrice struct {
	GPU    string
	Price  float64
	Source string
	// Unverified: the figure is not read from its vendor's own page (a
	// third-party listing), or the match of product to catalogue GPU is
	// not certain.
	Unverified bool
}

// srcRunPodServerless is RunPod's Serverless pricing documentation, flex
// workers' cost per second (× 3600 below), read through the search tools
// on 2026-12-04. One vendor's list prices keep the GPUs comparable with
// each other; real prices differ by provider (2–4× for the same GPU) and
// by commitment, which is what --cost is for.
const srcRunPodServerless = "https://docs.runpod.io/serverless/pricing (flex worker cost per second × 3600)"

// DefaultGPUPrices are the prices `kvscope plan` uses when --cost does not
// give one. Each names its source; a GPU without an entry (a10g: no
// on-demand price was found) needs --cost.
var DefaultGPUPrices = []GPUPrice{
	{GPU: "a100-80gb", Price: 0.00076 * 3600, Source: srcRunPodServerless + ": A100 80 GB $0.00076/s"},
	{GPU: "b200", Price: 0.00240 * 3600, Source: srcRunPodServerless + ": B200 180 GB $0.00240/s"},
	// RunPod lists "H100 PRO" (80 GB) and "H200 PRO" (141 GB) without the
	// form factor: that they are the SXM parts of the catalogue is not
	// confirmed.
	{GPU: "h100-sxm", Price: 0.00116 * 3600, Source: srcRunPodServerless + ": H100 PRO 80 GB $0.00116/s", Unverified: true},
	{GPU: "h200", Price: 0.00155 * 3600, Source: srcRunPodServerless + ": H200 PRO 141 GB $0.00155/s", Unverified: true},
	{GPU: "l4", Price: 0.00019 * 3600, Source: srcRunPodServerless + ": L4 24 GB $0.00019/s"},
	{GPU: "l40", Price: 0.00053 * 3600, Source: srcRunPodServerless + ": L40, L40S 48 GB $0.00053/s"},
	{GPU: "l40s", Price: 0.00053 * 3600, Source: srcRunPodServerless + ": L40, L40S 48 GB $0.00053/s"},
	// A third-party listing, not AMD's or the provider's page.
	{GPU: "mi300x", Price: 1.85, Source: "https://gpu.blog/gpus/instinct-mi300x-mi300x (Vultr on-demand MI300X $1.85/hour; third-party listing)", Unverified: true},
}

// DefaultGPUPrice returns the default price of a catalogue GPU.
func DefaultGPUPrice(gpu string) (GPUPrice, bool) {
	for _, p := range DefaultGPUPrices {
		if p.GPU == gpu {
			return p, true
		}
	}
	return GPUPrice{}, false
}

// ParseCosts parses --cost "h100-sxm=2.49,l40s=0.99": catalogue GPU names
// and US$ per GPU-hour (positive, finite), each GPU once.
func ParseCosts(s string) (map[string]float64, error) {
	out := map[string]float64{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("--cost %q: %q is not GPU=PRICE (US$ per GPU-hour, e.g. h100-sxm=2.49)", s, part)
		}
		if _, err := gpuprofile.LookupGPU(k); err != nil {
			return nil, fmt.Errorf("--cost %q: %w", s, err)
		}
		p, err := strconv.ParseFloat(strings.TrimPrefix(v, "$"), 64)
		if err != nil || !(p > 0) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("--cost %q: %s=%s: want a positive price in US$ per GPU-hour", s, k, v)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("--cost %q: %s given twice", s, k)
		}
		out[k] = p
	}
	return out, nil
}

// PlanGPUs builds the GPU choices of a plan: each catalogue GPU with model
// and TP (the profile "GPU-MODEL[-tpN]"). A GPU given twice is an error.
func PlanGPUs(names []string, model string, tp int, costs map[string]float64) ([]PlanGPU, error) {
	var profiles []string
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("--gpu: %s given twice", n)
		}
		if _, err := gpuprofile.LookupGPU(n); err != nil {
			return nil, fmt.Errorf("--gpu: %w", err)
		}
		prof := n + "-" + model
		if tp > 1 {
			prof += "-tp" + strconv.Itoa(tp)
		}
		profiles = append(profiles, prof)
	}
	return PlanProfiles(profiles, costs)
}

// PlanProfiles builds the GPU choices of a plan from gpuprofile names (or
// files): each profile's GPU and TP, priced by costs, else by the default
// table, else unknown (NaN). A price for a GPU no profile uses is an error.
func PlanProfiles(profiles []string, costs map[string]float64) ([]PlanGPU, error) {
	var out []PlanGPU
	for _, prof := range profiles {
		p, err := gpuprofile.Lookup(prof)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", prof, err)
		}
		n := p.GPUName
		g := PlanGPU{Name: n, Profile: prof, TP: p.TP, Price: F(math.NaN()), PriceSource: "unknown (give --cost " + n + "=PRICE)"}
		if c, ok := costs[n]; ok {
			g.Price, g.PriceSource = F(c), "--cost"
		} else if d, ok := DefaultGPUPrice(n); ok {
			g.Price, g.PriceSource, g.Unverified = F(d.Price), d.Source, d.Unverified
		}
		out = append(out, g)
	}
	for _, n := range sortedKeys(costs) {
		if !slices.ContainsFunc(out, func(g PlanGPU) bool { return g.Name == n }) {
			return nil, fmt.Errorf("--cost names %s, which is not among the GPUs planned", n)
		}
	}
	return out, nil
}

// PriceKnown reports whether the GPU has a price.
func (g PlanGPU) PriceKnown() bool { return !math.IsNaN(float64(g.Price)) }
