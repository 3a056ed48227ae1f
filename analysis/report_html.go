package analysis

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"strconv"
)

func esc(s string) string { return html.EscapeString(s) }

func attrEscape(s string) string { return html.EscapeString(s) }

// htmlTable writes a table under an <h2> (when title is set) and a note
// (when set); cells after the first of each row are numbers, right-aligned.
// htmlHead starts a report page: the document head (generator version,
// title with the trace's source, the shared style) and the h1 title.
func htmlHead(w io.Writer, version, title, source string) {
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(w, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(w, "<meta name=\"generator\" content=\"kvscope %s\">\n", attrEscape(version))
	fmt.Fprintf(w, "<title>%s: %s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n", title, esc(source), htmlStyle)
	fmt.Fprintf(w, "<h1>%s</h1>\n", title)
}

func htmlTable(w io.Writer, id, title, note string, hdr []string, rows [][]string) {
	if title != "" {
		fmt.Fprintf(w, "<h2 id=\"%s\">%s</h2>\n", attrEscape(id), esc(title))
	}
	if note != "" {
		fmt.Fprintf(w, "<p class=\"note\">%s</p>\n", esc(note))
	}
	fmt.Fprintf(w, "<table>\n<tr>")
	for _, h := range hdr {
		fmt.Fprintf(w, "<th>%s</th>", esc(h))
	}
	fmt.Fprintf(w, "</tr>\n")
	for _, row := range rows {
		fmt.Fprintf(w, "<tr>")
		for i, c := range row {
			class := ""
			if i > 0 {
				class = ` class="n"`
			}
			fmt.Fprintf(w, "<td%s>%s</td>", class, esc(c))
		}
		fmt.Fprintf(w, "</tr>\n")
	}
	fmt.Fprintf(w, "</table>\n")
}

const htmlStyle = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:2em auto;max-width:1300px;padding:0 1em;color:#1b1b1b;background:#fff}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #d0d0d0;padding:.25em .6em;vertical-align:top}
th{background:#f3f3f3;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.best{background:#e3f5e1;font-weight:600}
.fail{color:#a40000;font-weight:600}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto}
code{font-family:"Liberation Mono",Menlo,Consolas,monospace;font-size:.9em}
figure{margin:1.2em 0}figcaption{font-size:.85em;color:#555;max-width:900px}
figure svg{max-width:100%;height:auto;border:1px solid #eee}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.15em 1.2em;padding:0;margin:.3em 0 .2em;font-size:.85em;max-width:906px}
.legend li{display:flex;align-items:center;gap:.4em}
.sw{display:inline-block;flex:none;color:#000}
.sw.line,.sw.dash{width:24px;border-top:2px solid currentColor}.sw.dash{border-top-style:dashed}
.sw.dot{width:8px;height:8px;border-radius:50%;background:currentColor}
.sw.marked{position:relative}.sw.marked::after{content:"";position:absolute;left:8px;top:-5px;width:8px;height:8px;border-radius:50%;background:currentColor}
.sw.ring{width:6px;height:6px;border-radius:50%;border:2px solid currentColor}
.sw.heat{width:160px;height:12px;border:1px solid #ccc}
.note{color:#555;font-size:.9em}
td code{word-break:break-all}
.wide{overflow-x:auto}`

// WriteHTML writes the report as one self-contained HTML file: inline
// SVG charts drawn with gonum/plot, no script, nothing fetched.
func (r *Report) WriteHTML(out io.Writer) error {
	charts := r.charts()
	svgs := make([]string, len(charts))
	for i := range charts {
		s, err := charts[i].figureHTML()
		if err != nil {
			return err
		}
		svgs[i] = s
	}
	w := bufio.NewWriter(out)
	htmlHead(w, r.Version, "kvscope comparison", r.Trace.Source)
	fmt.Fprintf(w, "<p>Reproduce with kvscope %s:</p>\n<pre><code>%s</code></pre>\n", esc(r.Version), esc(r.Command))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "<p class=\"note\">Note: %s</p>\n", esc(n))
	}
	for _, f := range r.Failures() {
		fmt.Fprintf(w, "<p class=\"fail\">Scenario failed: %s</p>\n", esc(f))
	}

	fmt.Fprintf(w, "<h2 id=\"trace\">Trace</h2>\n<table>\n<tr><th>statistic</th><th>value</th></tr>\n")
	for _, row := range r.traceRows() {
		fmt.Fprintf(w, "<tr><td>%s</td><td>%s</td></tr>\n", esc(row[0]), esc(row[1]))
	}
	fmt.Fprintf(w, "</table>\n")

	fmt.Fprintf(w, "<h2 id=\"scenarios\">Scenarios</h2>\n<table>\n<tr><th>#</th><th>label</th><th>canonical scenario</th><th>seeds</th><th>interval</th></tr>\n")
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		fmt.Fprintf(w, "<tr><td>%d</td><td>%s</td><td><code>%s</code></td><td>%s</td><td>%s</td></tr>\n",
			i+1, esc(s.Label), esc(s.Scenario), esc(seedList(s.Seeds)), esc(intervalNote(s)))
	}
	fmt.Fprintf(w, "</table>\n")

	fmt.Fprintf(w, "<h2 id=\"side-by-side\">Side by side</h2>\n")
	fmt.Fprintf(w, "<p class=\"note\">Best value of each row highlighted with ★ (rows without a better direction are not marked). "+
		"Randomized scenarios: mean ± half-width of the 95%% Student-t interval over seeds (the interval itself on hover); deterministic ones: one run, %s.</p>\n", NoInterval)
	fmt.Fprintf(w, "<table id=\"side-by-side-table\">\n<tr><th>metric</th>")
	for i := range r.Scenarios {
		fmt.Fprintf(w, "<th>%s</th>", esc(r.Scenarios[i].Label))
	}
	fmt.Fprintf(w, "</tr>\n<tr><td>interval</td>")
	for i := range r.Scenarios {
		fmt.Fprintf(w, "<td>%s</td>", esc(intervalNote(&r.Scenarios[i])))
	}
	fmt.Fprintf(w, "</tr>\n")
	for _, d := range MetricDefs {
		best := Best(r.Scenarios, d.Key)
		fmt.Fprintf(w, "<tr><td>%s</td>", esc(d.Label))
		for i := range r.Scenarios {
			s := &r.Scenarios[i]
			m := s.Metric(d.Key)
			if !s.OK() || m == nil {
				fmt.Fprintf(w, "<td class=\"fail\">failed</td>")
				continue
			}
			cls, star := "n", ""
			if best[i] {
				cls, star = "n best", " ★"
			}
			fmt.Fprintf(w, "<td class=\"%s\" title=\"%s\">%s%s</td>", cls, esc(intervalText(m.Stat, d.Digits)), esc(cell(m.Stat, d.Digits)), star)
		}
		fmt.Fprintf(w, "</tr>\n")
	}
	fmt.Fprintf(w, "</table>\n")

	fmt.Fprintf(w, "<h2 id=\"charts\">Charts</h2>\n")
	for i, c := range charts {
		fmt.Fprintf(w, "<figure id=\"fig-%s\">\n%s<figcaption>%s %s</figcaption>\n</figure>\n",
			attrEscape(c.ID), svgs[i], esc(c.Title+"."), esc(c.Caption))
	}

	if len(r.Paired) > 0 {
		fmt.Fprintf(w, "<h2 id=\"paired\">Paired comparisons</h2>\n<p class=\"note\">A − B over the same seeds: mean per-seed difference and its 95%% t interval; a deterministic side counts as a constant.</p>\n")
		fmt.Fprintf(w, "<table>\n<tr><th>A − B</th><th>metric</th><th>difference</th><th>95%% interval</th><th>verdict</th></tr>\n")
		for _, p := range r.Paired {
			d, _ := MetricDefOf(p.Metric)
			diff, iv, v := pairText(p, d.Digits)
			fmt.Fprintf(w, "<tr><td>%s</td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>%s</td></tr>\n",
				esc(r.pairLabel(p)), esc(d.Label), esc(diff), esc(iv), esc(v))
		}
		fmt.Fprintf(w, "</table>\n")
	}

	fmt.Fprintf(w, "<h2 id=\"workers\">Per worker</h2>\n<p class=\"note\">Competitive ratios are each worker's sequential replay (prefill-start order) against opt and the Belady bound; "+
		"k = B − L + 1; bounds k (lru), 2·H_k (rlt) and H_k (every randomized policy) are the paper's asymptotic form with classical paging constants, exact only in block mode (see <code>kvscope help bounds</code>).</p>\n")
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		fmt.Fprintf(w, "<h3>%s</h3>\n", esc(s.Label))
		if !s.OK() {
			fmt.Fprintf(w, "<p class=\"fail\">Failed: %s</p>\n", esc(s.Error))
			continue
		}
		fmt.Fprintf(w, "<p class=\"note\">%s; %s.</p>\n<div class=\"wide\"><table>\n<tr><th>worker</th>", esc(ratioNote(s)), esc(intervalNote(s)))
		for _, d := range WorkerDefs {
			fmt.Fprintf(w, "<th>%s</th>", esc(d.Label))
		}
		fmt.Fprintf(w, "</tr>\n")
		for wi := range s.Workers {
			ws := &s.Workers[wi]
			fmt.Fprintf(w, "<tr><td>%d</td>", ws.Worker)
			for _, d := range WorkerDefs {
				fmt.Fprintf(w, "<td class=\"n\">%s</td>", esc(workerCell(ws, d.Key)))
			}
			fmt.Fprintf(w, "</tr>\n")
		}
		fmt.Fprintf(w, "</table></div>\n")
	}

	if sw := r.Sweep; sw != nil {
		fmt.Fprintf(w, "<h2 id=\"sweep\">Sweep over %s</h2>\n", esc(sw.Key))
		for _, d := range headline() {
			fmt.Fprintf(w, "<h3>%s</h3>\n<table>\n<tr><th>%s</th>", esc(d.Label), esc(sw.Key))
			for _, cv := range sw.Curves {
				fmt.Fprintf(w, "<th>%s</th>", esc(cv.Label))
			}
			fmt.Fprintf(w, "</tr>\n")
			for v, val := range sw.Values {
				fmt.Fprintf(w, "<tr><td class=\"n\">%s</td>", esc(val))
				for _, cv := range sw.Curves {
					p := &cv.Points[v]
					switch m := p.Metric(d.Key); {
					case p.Error != "":
						fmt.Fprintf(w, "<td class=\"fail\">failed: %s</td>", esc(p.Error))
					case m == nil:
						fmt.Fprintf(w, "<td class=\"n\">–</td>")
					default:
						fmt.Fprintf(w, "<td class=\"n\">%s</td>", esc(cell(m.Stat, d.Digits)))
					}
				}
				fmt.Fprintf(w, "</tr>\n")
			}
			fmt.Fprintf(w, "</table>\n")
		}
	}

	fmt.Fprintf(w, "<p class=\"note\">kvscope %s · %d scenario(s) · %s</p>\n</body>\n</html>\n",
		esc(r.Version), len(r.Scenarios), esc(strconv.Itoa(r.Seeds)+" seeds for randomized scenarios"))
	return w.Flush()
}
