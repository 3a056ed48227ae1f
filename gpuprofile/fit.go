package gpuprofile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/optimize"
)

// Regimes of a measurement point (issue 5).
const (
	RegimeSmallPrefill  = "small_prefill"  // < 1024 new tokens in the iteration, nothing cached
	RegimeLargePrefill  = "large_prefill"  // ≥ 1024 new tokens, nothing cached
	RegimeCachedPrefill = "cached_prefill" // something cached
	RegimeDecode        = "decode"
)

// Regimes lists the regimes in report order.
var Regimes = []string{RegimeSmallPrefill, RegimeLargePrefill, RegimeCachedPrefill, RegimeDecode}

// Point is one measured iteration: Batch sequences, each of NewTokens new on
// top of CachedTokens (prefill), or one token on top of ContextTokens (decode).
type Point struct {
	Line          int
	Kind          string // "prefill" or "decode"
	Batch         int
	NewTokens     int
	CachedTokens  int
	ContextTokens int
	MedianMS      float64
}

// Iteration is the point as an engine iteration.
func (pt Point) Iteration() Iteration {
	var it Iteration
	for i := 0; i < pt.Batch; i++ {
		if pt.Kind == "decode" {
			it.DecodeContexts = append(it.DecodeContexts, pt.ContextTokens)
		} else {
			it.Prefill = append(it.Prefill, PrefillChunk{NewTokens: pt.NewTokens, CachedTokens: pt.CachedTokens})
		}
	}
	return it
}

// Regime classifies the point.
func (pt Point) Regime() string {
	switch {
	case pt.Kind == "decode":
		return RegimeDecode
	case pt.CachedTokens > 0:
		return RegimeCachedPrefill
	case pt.Batch*pt.NewTokens < 1024:
		return RegimeSmallPrefill
	default:
		return RegimeLargePrefill
	}
}

func (pt Point) String() string {
	if pt.Kind == "decode" {
		return fmt.Sprintf("decode b=%d ctx=%d", pt.Batch, pt.ContextTokens)
	}
	return fmt.Sprintf("prefill b=%d new=%d cached=%d", pt.Batch, pt.NewTokens, pt.CachedTokens)
}

var csvColumns = []string{"kind", "batch", "new_tokens", "cached_tokens", "context_tokens", "median_ms"}

// ReadMeasurements reads the harness CSV (gpuprofile/measure/README.md):
// '#' lines are comments; the header names at least the columns above.
// name is used in error messages (FILE:LINE: field: reason).
func ReadMeasurements(r io.Reader, name string) ([]Point, error) {
	br := bufio.NewReader(r)
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, c := range csvColumns {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s: header: missing column %q", name, c)
		}
	}
	var pts []Point
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// No record came back: the line is the parse error's (FieldPos
			// would panic).
			if pe, ok := errors.AsType[*csv.ParseError](err); ok {
				return nil, fmt.Errorf("%s:%d: %w", name, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		get := func(c string) string {
			if i := col[c]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		pt := Point{Line: line, Kind: get("kind")}
		if pt.Kind != "prefill" && pt.Kind != "decode" {
			return nil, fmt.Errorf("%s:%d: kind: want prefill or decode, got %q", name, line, pt.Kind)
		}
		ints := []struct {
			c   string
			dst *int
			min int
		}{{"batch", &pt.Batch, 1}, {"new_tokens", &pt.NewTokens, 0}, {"cached_tokens", &pt.CachedTokens, 0}, {"context_tokens", &pt.ContextTokens, 0}}
		for _, f := range ints {
			v, err := strconv.Atoi(get(f.c))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %q is not an integer", name, line, f.c, get(f.c))
			}
			if v < f.min {
				return nil, fmt.Errorf("%s:%d: %s: must be at least %d (got %d)", name, line, f.c, f.min, v)
			}
			*f.dst = v
		}
		if pt.Kind == "prefill" && pt.NewTokens < 1 {
			return nil, fmt.Errorf("%s:%d: new_tokens: a prefill needs at least 1", name, line)
		}
		v, err := strconv.ParseFloat(get("median_ms"), 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s:%d: median_ms: want a positive number, got %q", name, line, get("median_ms"))
		}
		pt.MedianMS = v
		pts = append(pts, pt)
	}
	if len(pts) == 0 {
		return nil, fmt.Errorf("%s: no measurements", name)
	}
	return pts, nil
}

// Ceilings are the device ceilings the harness measures next to the grid and
// writes as comment lines ("# ceiling_matmul_bf16_tflops=785.9",
// "# ceiling_copy_gbps=4198.8", "# ceiling_attention_causal_tflops=583.4",
// "# ceiling_attention_cached_tflops=308.3"); zero when absent.
type Ceilings struct {
	MatmulTFLOPS float64 // a large bf16 matmul, TFLOP/s
	CopyGBps     float64 // a large device copy, GB/s read + written
	// The attention kernels alone, TFLOP/s of the FLOPs the model counts:
	// causal on 8,192 new tokens, and 1,024 new on 8,192 cached.
	AttentionCausalTFLOPS float64
	AttentionCachedTFLOPS float64
}

// ReadMeasurementSet reads the harness CSV like ReadMeasurements and also the
// ceilings from its comment lines. A ceiling line that is present but not a
// positive number is an error naming it.
func ReadMeasurementSet(r io.Reader, name string) ([]Point, Ceilings, error) {
	var c Ceilings
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, c, fmt.Errorf("%s: %w", name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(t, "#")), "=")
		var dst *float64
		switch strings.TrimSpace(k) {
		case "ceiling_matmul_bf16_tflops":
			dst = &c.MatmulTFLOPS
		case "ceiling_copy_gbps":
			dst = &c.CopyGBps
		case "ceiling_attention_causal_tflops":
			dst = &c.AttentionCausalTFLOPS
		case "ceiling_attention_cached_tflops":
			dst = &c.AttentionCachedTFLOPS
		}
		if !ok || dst == nil {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) {
			return nil, c, fmt.Errorf("%s:%d: %s: want a positive number, got %q", name, line, strings.TrimSpace(k), strings.TrimSpace(v))
		}
		*dst = f
	}
	pts, err := ReadMeasurements(bytes.NewReader(data), name)
	return pts, c, err
}

// Split marks which points are held out, by the rule fixed before fitting:
// prefill points with more than 8,192 new tokens in the iteration or more
// than 8,192 cached tokens (this includes 16,384 and 32,768 new and every
// 16k-cached point) are held out; of the rest, within each regime in
// (batch, new, cached, context) order, every fifth point (the 5th, 10th, …)
// is held out too. heldOut[i] refers to pts[i].
func Split(pts []Point) (heldOut []bool) {
	heldOut = make([]bool, len(pts))
	byRegime := map[string][]int{}
	for i, pt := range pts {
		if pt.Kind == "prefill" && (pt.Batch*pt.NewTokens > 8192 || pt.CachedTokens > 8192) {
			heldOut[i] = true
			continue
		}
		byRegime[pt.Regime()] = append(byRegime[pt.Regime()], i)
	}
	for _, idx := range byRegime {
		sort.SliceStable(idx, func(a, b int) bool {
			pa, pb := pts[idx[a]], pts[idx[b]]
			ka := [4]int{pa.Batch, pa.NewTokens, pa.CachedTokens, pa.ContextTokens}
			kb := [4]int{pb.Batch, pb.NewTokens, pb.CachedTokens, pb.ContextTokens}
			for k := range ka {
				if ka[k] != kb[k] {
					return ka[k] < kb[k]
				}
			}
			return false
		})
		for j, i := range idx {
			if j%5 == 4 {
				heldOut[i] = true
			}
		}
	}
	return heldOut
}

// FitParams are the fitted quantities.
type FitParams struct {
	ComputeEfficiency, AttentionEfficiency, CachedAttentionEfficiency, MemoryEfficiency, OverheadMS, MinIterationMS float64
}

// Bounds are the upper limits of the fitted efficiencies: a share of the
// datasheet figure can be no larger than the share a measured ceiling
// reached (a large bf16 matmul for the compute and attention efficiencies, a
// large device copy for the memory efficiency), and never above 1.
// Attention and CachedAttention, when positive, are not bounds but the
// attention efficiencies themselves, measured on the kernels alone: Fit
// holds them fixed.
type Bounds struct {
	Compute, Memory            float64
	Attention, CachedAttention float64
}

// BoundsFrom turns measured ceilings into efficiency bounds for base's GPU.
func BoundsFrom(base *Profile, c Ceilings) Bounds {
	b := Bounds{Compute: 1, Memory: 1}
	if c.MatmulTFLOPS > 0 {
		b.Compute = math.Min(1, c.MatmulTFLOPS*1e12/base.GPU.BF16FLOPS)
	}
	if c.CopyGBps > 0 {
		b.Memory = math.Min(1, c.CopyGBps*1e9/base.GPU.MemBandwidth)
	}
	share := func(tflops float64) float64 {
		if tflops <= 0 {
			return 0
		}
		// measured on one GPU: a share of one GPU's peak, as the matmul's
		return math.Min(1, math.Max(MinEfficiency, tflops*1e12/base.GPU.BF16FLOPS))
	}
	b.Attention, b.CachedAttention = share(c.AttentionCausalTFLOPS), share(c.AttentionCachedTFLOPS)
	return b
}

// PointResult is one point's prediction.
type PointResult struct {
	Point
	Regime      string
	HeldOut     bool
	PredictedMS float64
	ErrPct      float64 // (predicted − measured)/measured · 100
}

// RegimeStats summarises |%err| of a set of points.
type RegimeStats struct {
	N            int
	MAPE, Median float64
	P90, Max     float64
}

// FitReport is the outcome of Fit.
type FitReport struct {
	Params    FitParams
	Ceilings  Ceilings // measured with the points
	Bounds    Bounds   // the efficiency bounds they gave
	Points    []PointResult
	Overall   RegimeStats            // all points
	FitSet    RegimeStats            // points fitted on
	HeldOut   RegimeStats            // held-out points
	ByRegime  map[string]RegimeStats // held-out points by regime
	FitRegime map[string]RegimeStats // fitted points by regime
	// HeldOutLargeNew is held-out prefill with ≥ 1,024 new tokens (the
	// issue's median ≤ 10% target).
	HeldOutLargeNew RegimeStats
	// HeldOutLongNew is held-out prefill with ≥ 16,384 new tokens in the
	// iteration (issue 14: max |err| under 5%).
	HeldOutLongNew RegimeStats
}

func stats(errs []float64) RegimeStats {
	if len(errs) == 0 {
		return RegimeStats{}
	}
	a := make([]float64, len(errs))
	var sum float64
	for i, e := range errs {
		a[i] = math.Abs(e)
		sum += a[i]
	}
	sort.Float64s(a)
	rank := func(q float64) float64 { // nearest rank, ⌈q·n⌉-th smallest
		k := int(math.Ceil(q*float64(len(a)))) - 1
		return a[max(k, 0)]
	}
	return RegimeStats{N: len(a), MAPE: sum / float64(len(a)), Median: rank(0.5), P90: rank(0.9), Max: a[len(a)-1]}
}

// Fit fits base's efficiencies, overhead and floor to the points not held
// out, minimising the sum of squared relative errors (Nelder–Mead from
// gonum/optimize; several fixed starts, the best kept: deterministic).
// Overhead and floor are fitted as logarithms (positive); each efficiency as
// bound·logistic(x), which keeps it in (0, bound): the bounds come from the
// ceilings measured with the points (BoundsFrom; zero ceilings bound at 1).
// An attention efficiency whose kernel ceiling the CSV gives is that
// ceiling's share of peak, held fixed (its coordinate is left out of the
// search).
func Fit(base *Profile, pts []Point, ceil Ceilings) (*FitReport, error) {
	held := Split(pts)
	var fitIdx []int
	for i := range pts {
		if !held[i] {
			fitIdx = append(fitIdx, i)
		}
	}
	if len(fitIdx) < 5 {
		return nil, fmt.Errorf("fit: only %d points to fit on (need at least 5)", len(fitIdx))
	}
	its := make([]Iteration, len(pts))
	for i, pt := range pts {
		its[i] = pt.Iteration()
	}
	ws := make([]work, len(pts))
	for i := range its {
		ws[i] = base.work(its[i])
	}
	bd := BoundsFrom(base, ceil)
	// Efficiencies stay in [MinEfficiency, bound], overhead and floor in
	// (0, MaxIterationMS]: a fitted profile always passes Parse.
	eff := func(x, bound float64) float64 { return math.Max(MinEfficiency, bound/(1+math.Exp(-x))) }
	ms := func(x float64) float64 { return math.Min(MaxIterationMS, math.Exp(x)) }
	// free lists the coordinates searched; fixed attention efficiencies
	// are not among them.
	free := []int{0, 1, 2, 3, 4, 5}
	if bd.CachedAttention > 0 {
		free = append(free[:2], free[3:]...)
	}
	if bd.Attention > 0 {
		free = append(free[:1], free[2:]...)
	}
	full := func(x []float64) [6]float64 {
		var y [6]float64
		for j, k := range free {
			y[k] = x[j]
		}
		return y
	}
	decode := func(x []float64) FitParams {
		y := full(x)
		fp := FitParams{eff(y[0], bd.Compute), eff(y[1], bd.Compute), eff(y[2], bd.Compute), eff(y[3], bd.Memory), ms(y[4]), ms(y[5])}
		if bd.Attention > 0 {
			fp.AttentionEfficiency = bd.Attention
		}
		if bd.CachedAttention > 0 {
			fp.CachedAttentionEfficiency = bd.CachedAttention
		}
		return fp
	}
	// logit of an efficiency as a share of its bound (kept inside (0, 1))
	logit := func(e, bound float64) float64 {
		q := math.Min(math.Max(e/bound, 0.01), 0.95)
		return math.Log(q / (1 - q))
	}
	predict := func(fp FitParams, i int) float64 {
		return base.estimate(ws[i], fp).TotalMS
	}
	obj := func(x []float64) float64 {
		fp := decode(x)
		var s float64
		for _, i := range fitIdx {
			r := predict(fp, i)/pts[i].MedianMS - 1
			s += r * r
		}
		return s
	}
	minMeasured := math.Inf(1)
	for _, i := range fitIdx {
		minMeasured = math.Min(minMeasured, pts[i].MedianMS)
	}
	c, m := bd.Compute, bd.Memory
	starts := [][]float64{
		{logit(0.5, c), logit(0.4, c), logit(0.4, c), logit(0.7, m), math.Log(1), math.Log(minMeasured)},
		{logit(0.3, c), logit(0.2, c), logit(0.2, c), logit(0.5, m), math.Log(0.1), math.Log(minMeasured / 2)},
		{logit(0.8, c), logit(0.7, c), logit(0.7, c), logit(0.9, m), math.Log(minMeasured / 2), math.Log(0.01)},
	}
	best, bestF := []float64(nil), math.Inf(1)
	for _, s0 := range starts {
		x := make([]float64, len(free))
		for j, k := range free {
			x[j] = s0[k]
		}
		for round := 0; round < 3; round++ { // restarts help Nelder–Mead out of a collapsed simplex
			res, err := optimize.Minimize(optimize.Problem{Func: obj}, x, &optimize.Settings{MajorIterations: 4000, FuncEvaluations: 20000}, &optimize.NelderMead{})
			if err != nil && res == nil {
				return nil, fmt.Errorf("fit: %w", err)
			}
			x = res.X
		}
		if f := obj(x); f < bestF {
			best, bestF = x, f
		}
	}
	rep := &FitReport{Params: decode(best), Ceilings: ceil, Bounds: bd, ByRegime: map[string]RegimeStats{}, FitRegime: map[string]RegimeStats{}}
	var all, fitE, heldE, largeNew, longNew []float64
	byR, fitR := map[string][]float64{}, map[string][]float64{}
	for i, pt := range pts {
		pred := predict(rep.Params, i)
		e := (pred - pt.MedianMS) / pt.MedianMS * 100
		r := pt.Regime()
		rep.Points = append(rep.Points, PointResult{Point: pt, Regime: r, HeldOut: held[i], PredictedMS: pred, ErrPct: e})
		all = append(all, e)
		if held[i] {
			heldE = append(heldE, e)
			byR[r] = append(byR[r], e)
			if pt.Kind == "prefill" && pt.Batch*pt.NewTokens >= 1024 {
				largeNew = append(largeNew, e)
			}
			if pt.Kind == "prefill" && pt.Batch*pt.NewTokens >= 16384 {
				longNew = append(longNew, e)
			}
		} else {
			fitE = append(fitE, e)
			fitR[r] = append(fitR[r], e)
		}
	}
	rep.Overall, rep.FitSet, rep.HeldOut, rep.HeldOutLargeNew = stats(all), stats(fitE), stats(heldE), stats(largeNew)
	rep.HeldOutLongNew = stats(longNew)
	for _, r := range Regimes {
		rep.ByRegime[r] = stats(byR[r])
		rep.FitRegime[r] = stats(fitR[r])
	}
	return rep, nil
}

// Apply returns a copy of base carrying the fitted parameters.
func (r *FitReport) Apply(base *Profile, name, description, measurements string) (*Profile, error) {
	p := *base
	p.Name, p.Description = name, description
	p.ComputeEfficiency = r.Params.ComputeEfficiency
	p.AttentionEfficiency = r.Params.AttentionEfficiency
	p.CachedAttentionEfficiency = r.Params.CachedAttentionEfficiency
	p.MemoryEfficiency = r.Params.MemoryEfficiency
	p.OverheadMS = r.Params.OverheadMS
	p.MinIterationMS = r.Params.MinIterationMS
	p.Fit = &FitSummary{Measurements: measurements, Points: len(r.Points), FitPoints: r.FitSet.N, HeldOut: r.HeldOut.N,
		MAPE: round3(r.Overall.MAPE), HeldOutMAPE: map[string]float64{}, HeldOutP90: map[string]float64{},
		CeilingMatmulTFLOPS: r.Ceilings.MatmulTFLOPS, CeilingCopyGBps: r.Ceilings.CopyGBps,
		CeilingAttentionCausalTFLOPS: r.Ceilings.AttentionCausalTFLOPS, CeilingAttentionCachedTFLOPS: r.Ceilings.AttentionCachedTFLOPS}
	if r.HeldOutLongNew.N > 0 {
		p.Fit.HeldOutLongPrefillMax = round3(r.HeldOutLongNew.Max)
	}
	for _, reg := range Regimes {
		p.Fit.HeldOutMAPE[reg] = round3(r.ByRegime[reg].MAPE)
		p.Fit.HeldOutP90[reg] = round3(r.ByRegime[reg].P90)
	}
	if err := p.resolve(); err != nil {
		return nil, err
	}
	return &p, nil
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// WriteReport prints the fit: parameters, MAPE overall, per regime (fitted
// and held-out) and per point.
func (r *FitReport) WriteReport(w io.Writer, perPoint bool) {
	fp := r.Params
	fmt.Fprintf(w, "fitted: compute_efficiency %.4f  attention_efficiency %.4f  cached_attention_efficiency %.4f  memory_efficiency %.4f  overhead_ms %.4f  min_iteration_ms %.4f\n",
		fp.ComputeEfficiency, fp.AttentionEfficiency, fp.CachedAttentionEfficiency, fp.MemoryEfficiency, fp.OverheadMS, fp.MinIterationMS)
	ceil := func(v float64, unit string) string {
		if v > 0 {
			return fmt.Sprintf("measured ceiling %.1f %s", v, unit)
		}
		return "no ceiling in the measurements"
	}
	fmt.Fprintf(w, "bounds: compute and attention efficiencies <= %.4f (%s), memory_efficiency <= %.4f (%s)\n",
		r.Bounds.Compute, ceil(r.Ceilings.MatmulTFLOPS, "TFLOP/s bf16 matmul"), r.Bounds.Memory, ceil(r.Ceilings.CopyGBps, "GB/s device copy"))
	if r.Bounds.Attention > 0 {
		fmt.Fprintf(w, "attention_efficiency fixed at %.4f (causal kernel alone: %.1f TFLOP/s), not fitted\n", r.Bounds.Attention, r.Ceilings.AttentionCausalTFLOPS)
	}
	if r.Bounds.CachedAttention > 0 {
		fmt.Fprintf(w, "cached_attention_efficiency fixed at %.4f (lower-right kernel alone: %.1f TFLOP/s), not fitted\n", r.Bounds.CachedAttention, r.Ceilings.AttentionCachedTFLOPS)
	}
	fmt.Fprintf(w, "MAPE overall %.2f%% (%d points); fitted set %.2f%% (%d); held out %.2f%% (%d)\n",
		r.Overall.MAPE, r.Overall.N, r.FitSet.MAPE, r.FitSet.N, r.HeldOut.MAPE, r.HeldOut.N)
	fmt.Fprintf(w, "%-15s %5s %8s %8s %8s | %5s %8s %8s %8s %8s\n", "regime", "fit n", "MAPE%", "median%", "p90%", "held", "MAPE%", "median%", "p90%", "max%")
	for _, reg := range Regimes {
		f, h := r.FitRegime[reg], r.ByRegime[reg]
		fmt.Fprintf(w, "%-15s %5d %8.2f %8.2f %8.2f | %5d %8.2f %8.2f %8.2f %8.2f\n", reg, f.N, f.MAPE, f.Median, f.P90, h.N, h.MAPE, h.Median, h.P90, h.Max)
	}
	t := r.HeldOutLargeNew
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(w, "target median |err| <= 10%% on held-out prefill with >= 1024 new tokens: %.2f%% over %d points (%s)\n", t.Median, t.N, verdict(t.N > 0 && t.Median <= 10))
	if l := r.HeldOutLongNew; l.N > 0 {
		fmt.Fprintf(w, "target max |err| < 5%% on held-out prefill with >= 16384 new tokens: %.2f%% over %d points (%s)\n", l.Max, l.N, verdict(l.Max < 5))
	}
	for _, reg := range Regimes {
		h := r.ByRegime[reg]
		fmt.Fprintf(w, "target p90 |err| <= 25%% held-out %s: %.2f%% over %d points (%s; >= 10 points: %s)\n", reg, h.P90, h.N, verdict(h.N > 0 && h.P90 <= 25), verdict(h.N >= 10))
	}
	if !perPoint {
		return
	}
	fmt.Fprintf(w, "%-5s %-15s %-4s %-36s %11s %11s %8s\n", "line", "regime", "set", "point", "measured_ms", "predicted", "err%")
	for _, p := range r.Points {
		set := "fit"
		if p.HeldOut {
			set = "held"
		}
		fmt.Fprintf(w, "%-5d %-15s %-4s %-36s %11.3f %11.3f %+8.2f\n", p.Line, p.Regime, set, p.Point.String(), p.MedianMS, p.PredictedMS, p.ErrPct)
	}
}
