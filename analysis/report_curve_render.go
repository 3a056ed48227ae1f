package analysis

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
)

// Write renders the report in format f.
func (r *CurveReport) Write(w io.Writer, f Format) error { return writeAs(r, w, f) }

// eachPoint calls fn with the listed points: Options.At's, else every step
// of the curve.
func (r *CurveReport) eachPoint(fn func(curve.Point) error) error {
	if r.AtPoints != nil {
		for _, p := range r.AtPoints {
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	r.Curve.Steps(func(p curve.Point) bool {
		err = fn(p)
		return err == nil
	})
	return err
}

func (r *CurveReport) unit() string { return r.Curve.Unit.String() }

// capCells formats capacity c as unit, tokens and GiB cells.
func (r *CurveReport) capCells(c int64) []string {
	out := []string{strconv.FormatInt(c, 10)}
	if r.Curve.Unit == kvcache.Blocks {
		out = append(out, strconv.FormatInt(r.Tokens(c), 10))
	} else {
		out = append(out, num(float64(c)/float64(r.Curve.BlockSize), 1))
	}
	if r.Model != nil {
		out = append(out, num(r.GiB(c), 2))
	}
	return out
}

func (r *CurveReport) capHeader() []string {
	out := []string{"capacity (" + r.unit() + ")"}
	if r.Curve.Unit == kvcache.Blocks {
		out = append(out, "tokens")
	} else {
		out = append(out, "blocks")
	}
	if r.Model != nil {
		out = append(out, "KV GiB ("+r.Model.Name+")")
	}
	return out
}

// factRows are the curve's headline facts.
func (r *CurveReport) factRows() [][2]string {
	cv := r.Curve
	in := cv.Trace
	rows := [][2]string{
		{"trace", in.Source},
		{"format / block size", fmt.Sprintf("%s / %d tokens", in.Format, in.BlockSize)},
	}
	if in.Options != "" {
		rows = append(rows, [2]string{"reader options", in.Options})
	}
	if in.Skipped.Count > 0 {
		rows = append(rows, [2]string{"skipped lines", strconv.Itoa(in.Skipped.Count)})
	}
	rows = append(rows,
		[2]string{"requests / block lookups / input tokens", fmt.Sprintf("%d / %d / %d", cv.Requests, cv.InputBlocks, cv.InputTokens)},
		[2]string{"policy", "lru (tree leaf-LRU), hit-only replay as kvscope replay"},
		[2]string{"scenario at the first point", r.Scenario},
		[2]string{"unit", r.unit() + " (capacity per worker, " + strconv.Itoa(cv.Workers) + " worker" + plural(cv.Workers) + ")"},
		[2]string{"L (first capacity)", fmt.Sprintf("%d %s: the largest request (input + tail + output allowance); below it replay stops (oversize=error) or leaves requests out (fail, bypass: one more pass per point asked)", cv.MinCapacity, r.unit())},
		[2]string{"oversize", cv.Oversize},
		[2]string{"saturation", fmt.Sprintf("%d %s: the ratio does not grow above it", cv.MaxCapacity, r.unit())},
		[2]string{"unbounded hit ratio blocks / tokens", num(r.Unbounded.BlockHitRatio, 6) + " / " + num(r.Unbounded.TokenHitRatio, 6)},
	)
	if cv.Sample < 1 {
		rows = append(rows, [2]string{"sampling", fmt.Sprintf("SHARDS rate %g (%d of %d block lookups): an estimate, not exact", cv.Sample, cv.SampledBlocks, cv.InputBlocks)})
	} else {
		rows = append(rows, [2]string{"exactness", "exact at every capacity ≥ L: equal to kvscope replay --evict lru there"})
	}
	if r.Model != nil {
		rows = append(rows, [2]string{"KV bytes per token", fmt.Sprintf("%d (%s, bf16, all ranks of a replica)", r.KVBytesPerToken, r.Model.Name)})
	}
	if r.Options.Mark > 0 {
		rows = append(rows, [2]string{"marked capacity", fmt.Sprintf("%d %s", r.Options.Mark, r.unit())})
	}
	return rows
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// headline is the sentence naming one replica's capacity (the H100 SXM at
// its smallest TP that fits, else the first marker).
func (r *CurveReport) headline() string {
	if len(r.Markers) == 0 {
		return ""
	}
	mk := r.Markers[0]
	for _, m := range r.Markers {
		if m.GPU == "h100-sxm" {
			mk = m
			break
		}
	}
	tp := "one " + mk.GPUDisplay
	if mk.TP > 1 {
		tp = fmt.Sprintf("%d× %s (TP %d)", mk.TP, mk.GPUDisplay, mk.TP)
	}
	s := fmt.Sprintf("%s on %s leaves %d tokens of KV cache (profile %s, sglang's default memory fraction)", r.Model.Name, tp, mk.CacheTokens, mk.Profile)
	if r.Curve.Unit == kvcache.Blocks {
		s += fmt.Sprintf(" = %d blocks of %d tokens", mk.Capacity, r.Curve.BlockSize)
	}
	switch {
	case mk.BelowMin && !mk.HasPoint:
		return s + ", below L: replay stops there (oversize=error; --oversize fail or bypass gives it)."
	case mk.BelowMin:
		s += fmt.Sprintf(", below L: with oversize=%s (%d requests left out)", r.Curve.Oversize, mk.Skipped)
	}
	return s + fmt.Sprintf(": block hit ratio %s, token hit ratio %s.", num(mk.Point.BlockHitRatio, 4), num(mk.Point.TokenHitRatio, 4))
}

func (r *CurveReport) kneeRows() [][]string {
	var rows [][]string
	for _, k := range r.Knees {
		c := strconv.FormatInt(k.Capacity, 10)
		if k.AtMin {
			c = "≤ " + c
		}
		reached := k.Point.BlockHitRatio
		if k.Ratio == "token" {
			reached = k.Point.TokenHitRatio
		}
		row := []string{k.Ratio, num(100*k.Fraction, 0) + "%", c}
		row = append(row, r.capCells(k.Capacity)[1:]...)
		rows = append(rows, append(row, num(reached, 4)))
	}
	return rows
}

func (r *CurveReport) markerRows() [][]string {
	var rows [][]string
	for _, m := range r.Markers {
		name := m.GPUDisplay
		if m.Listed {
			name += " *"
		}
		blk, tok := num(m.Point.BlockHitRatio, 4), num(m.Point.TokenHitRatio, 4)
		switch {
		case m.BelowMin && !m.HasPoint:
			blk, tok = "below L", "below L"
		case m.BelowMin:
			blk += " (" + r.Curve.Oversize + ")"
			tok += " (" + r.Curve.Oversize + ")"
		}
		unv := "–"
		if len(m.Unverified) > 0 {
			unv = strings.Join(m.Unverified, ", ")
			if m.AffectsCapacity {
				unv += " (enters the capacity)"
			} else {
				unv += " (not in the capacity)"
			}
		}
		row := []string{name, strconv.Itoa(m.TP), strconv.FormatInt(m.CacheTokens, 10)}
		row = append(row, r.capCells(m.Capacity)...)
		rows = append(rows, append(row, blk, tok, unv))
	}
	return rows
}

func (r *CurveReport) markerHeader() []string {
	h := []string{"GPU", "TP", "KV tokens"}
	h = append(h, r.capHeader()...)
	return append(h, "block hit", "token hit", "unverified catalogue figures")
}

func (r *CurveReport) optRows() [][]string {
	var rows [][]string
	for _, o := range r.Opt {
		rows = append(rows, []string{strconv.FormatInt(o.Capacity, 10), num(o.LRU, 4), num(o.Opt, 4), num(o.Bound, 4),
			strconv.FormatInt(o.OptMissed, 10), strconv.FormatInt(o.BoundMissed, 10)})
	}
	return rows
}

func ivCell(st Stat) string {
	if st.HasInterval() {
		return num(float64(st.Mean), 4) + " ± " + num(float64(st.HalfWidth), 4)
	}
	return num(float64(st.Mean), 4)
}

func (r *CurveReport) rltRows() [][]string {
	var rows [][]string
	for _, x := range r.RLT {
		pt, _ := r.Curve.At(x.Capacity)
		rows = append(rows, []string{strconv.FormatInt(x.Capacity, 10), ivCell(x.Block), ivCell(x.Token),
			num(pt.BlockHitRatio, 4), num(pt.TokenHitRatio, 4), strconv.Itoa(x.Seeds)})
	}
	return rows
}

// tablePoints are the points of the text and HTML tables: Options.At's,
// else about 16 capacities spread geometrically from L to saturation.
func (r *CurveReport) tablePoints() []curve.Point {
	if r.AtPoints != nil {
		return r.AtPoints
	}
	var out []curve.Point
	for _, c := range spreadCaps(r.Curve.MinCapacity, r.Curve.MaxCapacity, 16) {
		pt, _ := r.Curve.At(c)
		out = append(out, pt)
	}
	return out
}

// spreadCaps returns about n integer capacities from lo to hi, evenly
// spread on a log scale (linear when the range is under a decade).
func spreadCaps(lo, hi int64, n int) []int64 {
	out := []int64{lo}
	if hi <= lo {
		return out
	}
	for i := 1; i <= n; i++ {
		f := float64(i) / float64(n)
		var c int64
		if float64(hi) >= 10*float64(max(lo, 1)) {
			c = int64(math.Round(float64(max(lo, 1)) * math.Pow(float64(hi)/float64(max(lo, 1)), f)))
		} else {
			c = lo + int64(math.Round(float64(hi-lo)*f))
		}
		if c > out[len(out)-1] {
			out = append(out, c)
		}
	}
	return out
}

func (r *CurveReport) pointRow(p curve.Point) []string {
	row := r.capCells(p.Capacity)
	return append(row, num(p.BlockHitRatio, 4), num(p.TokenHitRatio, 4))
}

// curveChart draws the curve (sampled at ~240 capacities on a log scale),
// the GPU × TP capacities listed by the catalogue, opt, the bound and rlt.
func (r *CurveReport) curveChart() chart {
	cv := r.Curve
	hi := cv.MaxCapacity
	for _, m := range r.Markers {
		if m.Listed {
			hi = max(hi, m.Capacity)
		}
	}
	for _, c := range slices.Concat(r.Options.At, r.Options.OptAt, r.Options.RLTAt, []int64{r.Options.Mark}) {
		hi = max(hi, c)
	}
	hi += hi / 10
	lo := cv.MinCapacity
	for _, m := range r.Markers {
		if m.Listed && m.HasPoint {
			lo = min(lo, m.Capacity)
		}
	}
	for _, p := range r.AtPoints {
		lo = min(lo, p.Capacity)
	}
	caps := spreadCaps(cv.MinCapacity, hi, 240)
	ch := chart{ID: "curve", Title: "Hit ratio of tree-LRU against cache size", YLabel: "hit ratio",
		XLabel: "cache size per worker (" + r.unit() + ", log scale)", LogX: true, Height: 420}
	if float64(hi) < 10*float64(max(lo, 1)) {
		ch.LogX = false
		ch.XLabel = "cache size per worker (" + r.unit() + ")"
	}
	blk := chartLine{Name: "lru block hit ratio", Color: 0}
	tok := chartLine{Name: "lru token hit ratio", Color: 1, Dashed: true}
	for _, c := range caps {
		pt, _ := cv.At(c)
		x := float64(c)
		blk.X, blk.Y = append(blk.X, x), append(blk.Y, pt.BlockHitRatio)
		tok.X, tok.Y = append(tok.X, x), append(tok.Y, pt.TokenHitRatio)
	}
	ch.Lines = append(ch.Lines, blk, tok)
	var gpu chartLine
	gpu.Name, gpu.Points, gpu.Color = "GPU capacities (*)", true, 3
	for _, m := range r.Markers {
		if m.Listed && m.HasPoint {
			gpu.X, gpu.Y = append(gpu.X, float64(m.Capacity)), append(gpu.Y, m.Point.BlockHitRatio)
		}
	}
	if len(gpu.X) > 0 {
		ch.Lines = append(ch.Lines, gpu)
	}
	ratio := "block"
	if cv.Unit == kvcache.Tokens {
		ratio = "token"
	}
	if len(r.Opt) > 0 {
		o := chartLine{Name: "opt (" + ratio + ")", Points: true, Color: 2}
		b := chartLine{Name: r.Opt[0].BoundLabel + " (" + ratio + ")", Points: true, Dashed: true, Color: 2}
		for _, x := range r.Opt {
			o.X, o.Y = append(o.X, float64(x.Capacity)), append(o.Y, x.Opt)
			b.X, b.Y = append(b.X, float64(x.Capacity)), append(b.Y, x.Bound)
		}
		ch.Lines = append(ch.Lines, o, b)
	}
	if len(r.RLT) > 0 {
		l := chartLine{Name: fmt.Sprintf("rlt block (%d seeds, 95%% t)", r.RLT[0].Seeds), Points: true, Color: 4}
		for _, x := range r.RLT {
			l.X, l.Y, l.Err = append(l.X, float64(x.Capacity)), append(l.Y, float64(x.Block.Mean)), append(l.Err, float64(x.Block.HalfWidth))
		}
		ch.Lines = append(ch.Lines, l)
	}
	if m := r.Options.Mark; m > 0 {
		ch.Lines = append(ch.Lines, chartLine{Name: fmt.Sprintf("scenario's cache (%d)", m), Dashed: true, Color: 7,
			X: []float64{float64(m), float64(m)}, Y: []float64{0, 1}})
	}
	ch.Caption = "Exact hit ratios of kvscope replay --evict lru at every cache size from L (drawn at 240 sizes). " +
		"Points: the KV capacity of each GPU at the catalogue's TP for the model (* in the table), and opt, the bound and rlt where replayed."
	if cv.Sample < 1 {
		ch.Caption = fmt.Sprintf("SHARDS estimate at rate %g of the hit ratios of kvscope replay --evict lru (drawn at 240 sizes).", cv.Sample)
	}
	return ch
}
