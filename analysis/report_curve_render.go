package analysis

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// CurveJSONVersion is the version of the curve report's JSON schema.
const CurveJSONVersion = 1

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

// textChart is the curve alone, for Markdown.
func (r *CurveReport) textChart() string {
	ch := r.curveChart()
	ch.Lines = ch.Lines[:2]
	return ch.text()
}

// WriteMarkdown writes the report as Markdown with a text chart.
func (r *CurveReport) WriteMarkdown(out io.Writer) error {
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "# kvscope capacity curve\n\n")
	if r.Command != "" {
		fmt.Fprintf(w, "Reproduce with kvscope %s:\n\n```sh\n%s\n```\n\n", r.Version, r.Command)
	}
	mdRow(w, "fact", "value")
	mdSep(w, 2, false)
	for _, row := range r.factRows() {
		mdRow(w, mdEscape(row[0]), mdEscape(row[1]))
	}
	table := func(title, note string, hdr []string, rows [][]string) {
		fmt.Fprintf(w, "\n## %s\n\n", title)
		if note != "" {
			fmt.Fprintf(w, "%s\n\n", note)
		}
		mdRow(w, hdr...)
		mdSep(w, len(hdr), true)
		for _, row := range rows {
			for i := range row {
				row[i] = mdEscape(row[i])
			}
			mdRow(w, row...)
		}
	}
	table("Knees", "The smallest cache reaching each share of the unbounded hit ratio (≤ L: the curve's first capacity already does).",
		append(append([]string{"ratio", "share", "capacity (" + r.unit() + ")"}, r.capHeader()[1:]...), "ratio there"), r.kneeRows())
	if len(r.Markers) > 0 {
		table("GPU × model × TP", r.headline()+" * marks the catalogue's pick for each GPU (the smallest TP holding a 64k-token context).",
			r.markerHeader(), r.markerRows())
	}
	if len(r.Opt) > 0 {
		table("opt and the bound", "Replayed at each capacity (kvscope replay --evict lru --vs-opt); hit ratios in the cache's unit ("+r.unit()+
			"). opt is the "+r.Opt[0].OptLabel+"; the bound is the "+r.Opt[0].BoundLabel+".",
			[]string{"capacity", "lru", "opt", "bound", "opt missed", "bound missed"}, r.optRows())
	}
	if len(r.RLT) > 0 {
		table("rlt", "Replayed at each capacity with seeds 1..N: mean ± half-width of the 95% Student-t interval; lru beside it.",
			[]string{"capacity", "rlt block hit", "rlt token hit", "lru block hit", "lru token hit", "seeds"}, r.rltRows())
	}
	var rows [][]string
	for _, p := range r.tablePoints() {
		rows = append(rows, r.pointRow(p))
	}
	note := "Capacities spread from L to saturation; the JSON and CSV reports list every capacity where the ratio changes."
	if r.AtPoints != nil {
		note = "The capacities asked for (--at)."
	}
	table("Points", note, append(r.capHeader(), "block hit", "token hit"), rows)
	fmt.Fprintf(w, "\n## Curve\n\n```\n%s```\n", r.textChart())
	return w.Flush()
}

// WriteHTML writes one self-contained HTML file (inline SVG, no script).
func (r *CurveReport) WriteHTML(out io.Writer) error {
	ch := r.curveChart()
	svg, err := ch.figureHTML()
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(w, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(w, "<meta name=\"generator\" content=\"kvscope %s\">\n", attrEscape(r.Version))
	fmt.Fprintf(w, "<title>kvscope capacity curve: %s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n", esc(r.Curve.Trace.Source), htmlStyle)
	fmt.Fprintf(w, "<h1>kvscope capacity curve</h1>\n")
	if r.Command != "" {
		fmt.Fprintf(w, "<p>Reproduce with kvscope %s:</p>\n<pre><code>%s</code></pre>\n", esc(r.Version), esc(r.Command))
	}
	fmt.Fprintf(w, "<table>\n<tr><th>fact</th><th>value</th></tr>\n")
	for _, row := range r.factRows() {
		fmt.Fprintf(w, "<tr><td>%s</td><td>%s</td></tr>\n", esc(row[0]), esc(row[1]))
	}
	fmt.Fprintf(w, "</table>\n<figure>%s<figcaption>%s</figcaption></figure>\n", svg, esc(ch.Caption))
	table := func(id, title, note string, hdr []string, rows [][]string) { htmlTable(w, id, title, note, hdr, rows) }
	table("knees", "Knees", "The smallest cache reaching each share of the unbounded hit ratio (≤ L: the curve's first capacity already does).",
		append(append([]string{"ratio", "share", "capacity (" + r.unit() + ")"}, r.capHeader()[1:]...), "ratio there"), r.kneeRows())
	if len(r.Markers) > 0 {
		table("gpus", "GPU × model × TP", r.headline()+" * marks the catalogue's pick for each GPU (the smallest TP holding a 64k-token context).",
			r.markerHeader(), r.markerRows())
	}
	if len(r.Opt) > 0 {
		table("opt", "opt and the bound", "Hit ratios in the cache's unit ("+r.unit()+"). opt is the "+r.Opt[0].OptLabel+"; the bound is the "+r.Opt[0].BoundLabel+".",
			[]string{"capacity", "lru", "opt", "bound", "opt missed", "bound missed"}, r.optRows())
	}
	if len(r.RLT) > 0 {
		table("rlt", "rlt", "Seeds 1..N: mean ± half-width of the 95% Student-t interval; lru beside it.",
			[]string{"capacity", "rlt block hit", "rlt token hit", "lru block hit", "lru token hit", "seeds"}, r.rltRows())
	}
	var rows [][]string
	for _, p := range r.tablePoints() {
		rows = append(rows, r.pointRow(p))
	}
	table("points", "Points", "Capacities spread from L to saturation (every step is in the JSON and CSV reports).",
		append(r.capHeader(), "block hit", "token hit"), rows)
	fmt.Fprintf(w, "</body>\n</html>\n")
	return w.Flush()
}

// CurveCSVHeader is the CSV report's header: one row per listed point.
var CurveCSVHeader = []string{"cache_blocks", "cache_tokens", "kv_gib", "block_hit_ratio", "token_hit_ratio", "hit_blocks", "hit_tokens"}

// WriteCSV writes one row per point (every step, or --at's).
func (r *CurveReport) WriteCSV(out io.Writer) error {
	w := bufio.NewWriterSize(out, 1<<16)
	w.WriteString(strings.Join(CurveCSVHeader, ",") + "\n")
	var buf []byte
	err := r.eachPoint(func(p curve.Point) error {
		buf = r.appendPoint(buf[:0], p, false)
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// appendPoint writes one point as a CSV row or a JSON object line.
func (r *CurveReport) appendPoint(b []byte, p curve.Point, asJSON bool) []byte {
	f := func(x float64) []byte {
		if math.IsNaN(x) {
			if asJSON {
				return []byte("null")
			}
			return nil
		}
		return strconv.AppendFloat(nil, x, 'g', -1, 64)
	}
	blocks := strconv.AppendInt(nil, p.Capacity, 10)
	if r.Curve.Unit == kvcache.Tokens {
		blocks = strconv.AppendFloat(nil, float64(p.Capacity)/float64(r.Curve.BlockSize), 'g', -1, 64)
	}
	vals := [][]byte{blocks, strconv.AppendInt(nil, r.Tokens(p.Capacity), 10), f(r.GiB(p.Capacity)),
		f(p.BlockHitRatio), f(p.TokenHitRatio), strconv.AppendInt(nil, p.HitBlocks, 10), strconv.AppendInt(nil, p.HitTokens, 10)}
	if !asJSON {
		for i, v := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v...)
		}
		return append(b, '\n')
	}
	b = append(b, "    {"...)
	for i, v := range vals {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '"')
		b = append(b, CurveCSVHeader[i]...)
		b = append(b, `": `...)
		b = append(b, v...)
	}
	return append(b, '}')
}

// curveJSONPoint is a point in the JSON head (knees, markers, unbounded).
type curveJSONPoint struct {
	Capacity      int64 `json:"capacity"`
	HitBlocks     int64 `json:"hit_blocks"`
	HitTokens     int64 `json:"hit_tokens"`
	BlockHitRatio F     `json:"block_hit_ratio"`
	TokenHitRatio F     `json:"token_hit_ratio"`
}

func jsonPoint(p curve.Point) *curveJSONPoint {
	return &curveJSONPoint{p.Capacity, p.HitBlocks, p.HitTokens, F(p.BlockHitRatio), F(p.TokenHitRatio)}
}

// WriteJSON writes the versioned JSON report; "points" (last) has one
// object per listed point: every capacity where the ratio changes, from L,
// or exactly --at's.
func (r *CurveReport) WriteJSON(out io.Writer) error {
	cv := r.Curve
	type knee struct {
		CurveKnee
		Point *curveJSONPoint `json:"point"`
	}
	type marker struct {
		CurveMarker
		Point *curveJSONPoint `json:"point"`
	}
	type optJ struct {
		Capacity    int64  `json:"capacity"`
		LRU         F      `json:"lru"`
		Opt         F      `json:"opt"`
		Bound       F      `json:"bound"`
		OptLabel    string `json:"opt_label"`
		BoundLabel  string `json:"bound_label"`
		OptMissed   int64  `json:"opt_missed"`
		BoundMissed int64  `json:"belady_missed"`
	}
	head := struct {
		Version        int             `json:"version"`
		KVScopeVersion string          `json:"kvscope_version"`
		Command        string          `json:"command"`
		Trace          trace.Info      `json:"trace"`
		Unit           string          `json:"unit"`
		BlockSize      int             `json:"block_size"`
		Workers        int             `json:"workers"`
		Router         string          `json:"router"`
		Evict          string          `json:"evict"`
		Seed           uint64          `json:"seed"`
		Scenario       string          `json:"scenario"`
		Oversize       string          `json:"oversize"`
		Sample         float64         `json:"sample_rate"`
		Exact          bool            `json:"exact"`
		Requests       int             `json:"requests"`
		InputBlocks    int64           `json:"input_blocks"`
		InputTokens    int64           `json:"input_tokens"`
		SampledBlocks  int64           `json:"sampled_blocks"`
		MinCapacity    int64           `json:"min_capacity"`
		Saturation     int64           `json:"saturation_capacity"`
		Unbounded      *curveJSONPoint `json:"unbounded"`
		Model          string          `json:"model,omitempty"`
		KVBytes        int64           `json:"kv_bytes_per_token,omitempty"`
		Mark           int64           `json:"marked_capacity,omitempty"`
		Knees          []knee          `json:"knees"`
		Markers        []marker        `json:"markers"`
		Opt            []optJ          `json:"opt"`
		RLT            []CurveRLT      `json:"rlt"`
	}{Version: CurveJSONVersion, KVScopeVersion: r.Version, Command: r.Command, Trace: cv.Trace, Unit: r.unit(),
		BlockSize: cv.BlockSize, Workers: cv.Workers, Router: cv.Router, Evict: cv.Evict, Seed: cv.Seed, Scenario: r.Scenario,
		Oversize: cv.Oversize,
		Sample:   cv.Sample, Exact: cv.Sample == 1, Requests: cv.Requests, InputBlocks: cv.InputBlocks, InputTokens: cv.InputTokens,
		SampledBlocks: cv.SampledBlocks, MinCapacity: cv.MinCapacity, Saturation: cv.MaxCapacity, Unbounded: jsonPoint(r.Unbounded),
		KVBytes: r.KVBytesPerToken, Mark: r.Options.Mark,
		Knees: []knee{}, Markers: []marker{}, Opt: []optJ{}, RLT: r.RLT}
	if r.Model != nil {
		head.Model = r.Model.Name
	}
	if head.RLT == nil {
		head.RLT = []CurveRLT{}
	}
	for _, k := range r.Knees {
		head.Knees = append(head.Knees, knee{k, jsonPoint(k.Point)})
	}
	for _, m := range r.Markers {
		j := marker{CurveMarker: m}
		if m.HasPoint {
			j.Point = jsonPoint(m.Point)
		}
		head.Markers = append(head.Markers, j)
	}
	for _, o := range r.Opt {
		head.Opt = append(head.Opt, optJ{o.Capacity, F(o.LRU), F(o.Opt), F(o.Bound), o.OptLabel, o.BoundLabel, o.OptMissed, o.BoundMissed})
	}
	hb, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	// The head object, then "points" streamed (a curve has up to one
	// point per unique block).
	w := bufio.NewWriterSize(out, 1<<16)
	w.Write(hb[:len(hb)-2]) // drop "\n}"
	w.WriteString(",\n  \"points\": [")
	var buf []byte
	first := true
	err = r.eachPoint(func(p curve.Point) error {
		if first {
			w.WriteString("\n")
			first = false
		} else {
			w.WriteString(",\n")
		}
		buf = r.appendPoint(buf[:0], p, true)
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	if !first {
		w.WriteString("\n  ")
	}
	w.WriteString("]\n}\n")
	return w.Flush()
}
