package analysis

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
)

// validateRow is one figure of a stage: its name and the three sides.
type validateRow struct {
	name              string
	pred, meas, error *float64
}

func (vs *ValidateStage) rows() []validateRow {
	m, e := vs.Measured, vs.ErrorPct
	if m == nil {
		m, e = &Figures{}, &Figures{}
	}
	var out []validateRow
	for _, d := range []struct {
		name    string
		p, m, e VDist
	}{{"ttft_ms", vs.Predicted.TTFT, m.TTFT, e.TTFT}, {"itl_ms", vs.Predicted.ITL, m.ITL, e.ITL}, {"e2e_ms", vs.Predicted.E2E, m.E2E, e.E2E}} {
		out = append(out,
			validateRow{d.name + " mean", d.p.Mean, d.m.Mean, d.e.Mean},
			validateRow{d.name + " p50", d.p.P50, d.m.P50, d.e.P50},
			validateRow{d.name + " p90", d.p.P90, d.m.P90, d.e.P90},
			validateRow{d.name + " p99", d.p.P99, d.m.P99, d.e.P99})
	}
	return append(out,
		validateRow{"throughput_rps", vs.Predicted.ThroughputRPS, m.ThroughputRPS, e.ThroughputRPS},
		validateRow{"completed", vs.Predicted.Completed, m.Completed, e.Completed},
		validateRow{"failed", vs.Predicted.Failed, m.Failed, e.Failed})
}

func (vs *ValidateStage) title() string {
	if vs.Stage < 0 {
		return fmt.Sprintf("summary (%d requests)", vs.Requests)
	}
	return fmt.Sprintf("stage %d (rate %g/s, %d requests)", vs.Stage, vs.Rate, vs.Requests)
}

func (r *ValidateReport) all() []*ValidateStage {
	out := []*ValidateStage{}
	for i := range r.Stages {
		out = append(out, &r.Stages[i])
	}
	return append(out, &r.Summary)
}

func fmtNum(p *float64) string {
	if p == nil {
		return "–"
	}
	return strconv.FormatFloat(*p, 'f', 2, 64)
}

func fmtPct(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%+.1f%%", *p)
}

func (r *ValidateReport) header() []string {
	h := []string{
		"experiment " + r.Dir,
		"profile    " + r.Profile,
		"scenario   " + r.Scenario,
		fmt.Sprintf("lengths    configured prompt %.1f, output %.1f tokens", r.PromptLen, r.OutputLen),
	}
	if r.MeasuredPromptLen != nil && r.MeasuredOutputLen != nil {
		h = append(h, fmt.Sprintf("           measured (inference-perf's count, successes) prompt %.1f, output %.1f", *r.MeasuredPromptLen, *r.MeasuredOutputLen))
	}
	return append(h,
		fmt.Sprintf("failures   a request not done %g s after its arrival failed; predicted preemptions %d", r.TimeoutS, r.Preemptions),
		"itl_ms     (E2E − TTFT) / (configured output − 1); measured: (mean E2E − mean TTFT) / (output − 1)")
}

// WriteText writes the report for a terminal.
func (r *ValidateReport) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, l := range r.header() {
		b.WriteString(l + "\n")
	}
	for _, vs := range r.all() {
		fmt.Fprintf(&b, "\n%s\n  %-16s %12s %12s %9s\n", vs.title(), "", "predicted", "measured", "error")
		for _, row := range vs.rows() {
			fmt.Fprintf(&b, "  %-16s %12s %12s %9s\n", row.name, fmtNum(row.pred), fmtNum(row.meas), fmtPct(row.error))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the report as Markdown tables.
func (r *ValidateReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# kvscope validate inference-perf\n\n")
	for _, l := range r.header() {
		b.WriteString("    " + l + "\n")
	}
	for _, vs := range r.all() {
		fmt.Fprintf(&b, "\n## %s\n\n| figure | predicted | measured | error |\n|---|---:|---:|---:|\n", vs.title())
		for _, row := range vs.rows() {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row.name, fmtNum(row.pred), fmtNum(row.meas), fmtPct(row.error))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteHTML writes the report as one self-contained page.
func (r *ValidateReport) WriteHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>kvscope validate</title></head><body>\n<h1>kvscope validate inference-perf</h1>\n<pre>")
	b.WriteString(html.EscapeString(strings.Join(r.header(), "\n")))
	b.WriteString("</pre>\n")
	for _, vs := range r.all() {
		fmt.Fprintf(&b, "<h2>%s</h2>\n<table>\n<tr><th>figure</th><th>predicted</th><th>measured</th><th>error</th></tr>\n", html.EscapeString(vs.title()))
		for _, row := range vs.rows() {
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", html.EscapeString(row.name), fmtNum(row.pred), fmtNum(row.meas), html.EscapeString(fmtPct(row.error)))
		}
		b.WriteString("</table>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as JSON: stages[] and summary, each with
// predicted and, when measured, measured and error_pct.
func (r *ValidateReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteCSV writes one row per stage and figure.
func (r *ValidateReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"stage", "figure", "predicted", "measured", "error_pct"})
	for _, vs := range r.all() {
		st := "summary"
		if vs.Stage >= 0 {
			st = strconv.Itoa(vs.Stage)
		}
		for _, row := range vs.rows() {
			_ = cw.Write([]string{st, row.name, csvNum(row.pred), csvNum(row.meas), csvNum(row.error)})
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvNum(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

// Write renders the report in format f.
func (r *ValidateReport) Write(w io.Writer, f Format) error { return writeAs(r, w, f) }
