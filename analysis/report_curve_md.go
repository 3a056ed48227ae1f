package analysis

import (
	"bufio"
	"fmt"
	"io"
)

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
	table := func(title, note string, hdr []string, rows [][]string) { mdTable(w, title, note, hdr, rows, true) }
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
