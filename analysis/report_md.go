package analysis

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// mdEscape makes text safe inside a Markdown table cell.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "*", `\*`)
	s = strings.ReplaceAll(s, "_", `\_`)
	return strings.ReplaceAll(s, "\n", " ")
}

func mdRow(w io.Writer, cells ...string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

// mdTable writes a "## title" section: note as given (already Markdown),
// then hdr as is and rows with every cell escaped; right aligns the
// columns after the first to the right.
func mdTable(w io.Writer, title, note string, hdr []string, rows [][]string, right bool) {
	fmt.Fprintf(w, "\n## %s\n\n", title)
	if note != "" {
		fmt.Fprintf(w, "%s\n\n", note)
	}
	mdRow(w, hdr...)
	mdSep(w, len(hdr), right)
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = mdEscape(c)
		}
		mdRow(w, cells...)
	}
}

func mdSep(w io.Writer, n int, right bool) {
	cells := make([]string, n)
	for i := range cells {
		cells[i] = "---"
		if right && i > 0 {
			cells[i] = "---:"
		}
	}
	mdRow(w, cells...)
}

// WriteMarkdown writes the report as Markdown with text charts.
func (r *Report) WriteMarkdown(out io.Writer) error {
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "# kvscope comparison\n\n")
	fmt.Fprintf(w, "Reproduce with kvscope %s:\n\n```sh\n%s\n```\n\n", r.Version, r.Command)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "> **Note:** %s\n\n", mdEscape(n))
	}
	for _, f := range r.Failures() {
		fmt.Fprintf(w, "> **Scenario failed:** %s\n\n", mdEscape(f))
	}

	fmt.Fprintf(w, "## Trace\n\n")
	mdRow(w, "statistic", "value")
	mdSep(w, 2, false)
	for _, row := range r.traceRows() {
		mdRow(w, mdEscape(row[0]), mdEscape(row[1]))
	}

	fmt.Fprintf(w, "\n## Scenarios\n\n")
	mdRow(w, "#", "label", "canonical scenario", "seeds", "interval")
	mdSep(w, 5, false)
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		mdRow(w, strconv.Itoa(i+1), mdEscape(s.Label), "`"+s.Scenario+"`", seedList(s.Seeds), mdEscape(intervalNote(s)))
	}

	fmt.Fprintf(w, "\n## Side by side\n\n")
	fmt.Fprintf(w, "Best value of each row in **bold** with ★ (rows without a better direction are not marked). "+
		"Randomized scenarios: mean ± half-width of the 95%% Student-t interval over seeds; deterministic ones: one run, %s.\n\n", NoInterval)
	hdr := []string{"metric"}
	for i := range r.Scenarios {
		hdr = append(hdr, mdEscape(r.Scenarios[i].Label))
	}
	mdRow(w, hdr...)
	mdSep(w, len(hdr), true)
	row := []string{"interval"}
	for i := range r.Scenarios {
		row = append(row, mdEscape(intervalNote(&r.Scenarios[i])))
	}
	mdRow(w, row...)
	for _, d := range MetricDefs {
		best := Best(r.Scenarios, d.Key)
		row := []string{mdEscape(d.Label)}
		for i := range r.Scenarios {
			s := &r.Scenarios[i]
			m := s.Metric(d.Key)
			if !s.OK() || m == nil {
				row = append(row, "failed")
				continue
			}
			c := cell(m.Stat, d.Digits)
			if best[i] {
				c = "**" + c + "** ★"
			}
			row = append(row, c)
		}
		mdRow(w, row...)
	}

	fmt.Fprintf(w, "\n## Charts\n")
	for _, c := range r.charts() {
		t := c.text()
		if t == "" {
			continue
		}
		capt := c.Caption
		if c.TextCaption != "" {
			capt = c.TextCaption
		}
		fmt.Fprintf(w, "\n### %s\n\n%s\n\n```text\n%s```\n", c.Title, capt, t)
	}

	if len(r.Paired) > 0 {
		fmt.Fprintf(w, "\n## Paired comparisons\n\n")
		fmt.Fprintf(w, "A − B over the same seeds: mean per-seed difference and its 95%% t interval; a deterministic side counts as a constant.\n\n")
		mdRow(w, "A − B", "metric", "difference", "95% interval", "verdict")
		mdSep(w, 5, false)
		for _, p := range r.Paired {
			d, _ := MetricDefOf(p.Metric)
			diff, iv, v := pairText(p, d.Digits)
			mdRow(w, mdEscape(r.pairLabel(p)), mdEscape(d.Label), diff, iv, v)
		}
	}

	fmt.Fprintf(w, "\n## Per worker\n\n")
	fmt.Fprintf(w, "Competitive ratios are each worker's sequential replay (prefill-start order) against opt and the Belady bound; "+
		"k = B − L + 1, bounds k (lru), 2·H_k (rlt) and H_k (every randomized policy) are the paper's asymptotic form with classical paging constants, exact only in block mode (see `kvscope help bounds`).\n")
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		fmt.Fprintf(w, "\n### %s\n\n", mdEscape(s.Label))
		if !s.OK() {
			fmt.Fprintf(w, "Failed: %s\n", mdEscape(s.Error))
			continue
		}
		fmt.Fprintf(w, "%s; %s.\n\n", mdEscape(ratioNote(s)), intervalNote(s))
		hdr := []string{"worker"}
		for _, d := range WorkerDefs {
			hdr = append(hdr, mdEscape(d.Label))
		}
		mdRow(w, hdr...)
		mdSep(w, len(hdr), true)
		for wi := range s.Workers {
			ws := &s.Workers[wi]
			row := []string{strconv.Itoa(ws.Worker)}
			for _, d := range WorkerDefs {
				row = append(row, workerCell(ws, d.Key))
			}
			mdRow(w, row...)
		}
	}

	if sw := r.Sweep; sw != nil {
		fmt.Fprintf(w, "\n## Sweep over %s\n\n", sw.Key)
		for _, d := range headline() {
			hdr := []string{sw.Key}
			for _, cv := range sw.Curves {
				hdr = append(hdr, mdEscape(cv.Label))
			}
			fmt.Fprintf(w, "%s:\n\n", d.Label)
			mdRow(w, hdr...)
			mdSep(w, len(hdr), true)
			for v, val := range sw.Values {
				row := []string{val}
				for _, cv := range sw.Curves {
					p := &cv.Points[v]
					if p.Error != "" {
						row = append(row, "failed: "+mdEscape(p.Error))
						continue
					}
					m := p.Metric(d.Key)
					if m == nil {
						row = append(row, "–")
						continue
					}
					row = append(row, cell(m.Stat, d.Digits))
				}
				mdRow(w, row...)
			}
			fmt.Fprintln(w)
		}
	}

	return w.Flush()
}

// seedList writes seeds compactly: "1..5" for a run, else a list.
func seedList(s []uint64) string {
	if len(s) == 0 {
		return "–"
	}
	run := true
	for i := 1; i < len(s); i++ {
		if s[i] != s[i-1]+1 {
			run = false
		}
	}
	if run && len(s) > 2 {
		return fmt.Sprintf("%d..%d", s[0], s[len(s)-1])
	}
	var parts []string
	for _, x := range s {
		parts = append(parts, strconv.FormatUint(x, 10))
	}
	return strings.Join(parts, ", ")
}
