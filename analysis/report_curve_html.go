package analysis

import (
	"bufio"
	"fmt"
	"io"
)

// WriteHTML writes one self-contained HTML file (inline SVG, no script).
func (r *CurveReport) WriteHTML(out io.Writer) error {
	ch := r.curveChart()
	svg, err := ch.figureHTML()
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	htmlHead(w, r.Version, "kvscope capacity curve", r.Curve.Trace.Source)
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
