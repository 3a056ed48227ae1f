package analysis

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kvscope/kvscope/internal/atomicfile"
	"github.com/kvscope/kvscope/replay/trace"
)

// PlanReport is a plan with what is needed to reproduce it. Renderers
// write Markdown, HTML (inline SVG charts of each SLO metric against
// workers), JSON and CSV (one row per probe per SLO); the same inputs give
// the same bytes.
type PlanReport struct {
	Command string
	Version string
	Stats   *trace.Stats
	*PlanResult
}

// Write renders the report in format f.
func (r *PlanReport) Write(w io.Writer, f Format) error { return writeAs(r, w, f) }

// WriteFile writes the report to path in format f, whole or not at all.
func (r *PlanReport) WriteFile(path string, f Format) error {
	return atomicfile.Write(path, func(w io.Writer) error { return r.Write(w, f) })
}

// sloText lists the SLOs as given.
func (r *PlanReport) sloText() string {
	var parts []string
	for _, s := range r.SLOs {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, ",")
}

// pct writes a relative margin as a signed percentage.
func pct(f *F) string {
	if f == nil {
		return "–"
	}
	x := float64(*f)
	switch {
	case math.IsInf(x, 0):
		// A metric with no value (no request it applies to completed):
		// its SLO cannot be met.
		return "no value"
	case math.IsNaN(x):
		return "–"
	}
	return fmt.Sprintf("%+.1f%%", 100*x)
}

func intPtr(p *int) string {
	if p == nil {
		return "none"
	}
	return strconv.Itoa(*p)
}

func costText(c *F) string {
	if c == nil {
		return "–"
	}
	return "$" + num(float64(*c), 2)
}

func strPtr(p *string) string {
	if p == nil {
		return "–"
	}
	return *p
}

// AnswerHeader is the answer table's header.
var AnswerHeader = []string{"scenario", "gpu", "workers", "$/hour", "margin", "margin at workers−1", "miss (best fleet)", "monotone", "probes"}

// answerRows are the answer table's rows, one per scenario.
func (r *PlanReport) answerRows() [][]string {
	var rows [][]string
	for _, s := range r.Scenarios {
		if !s.OK() {
			rows = append(rows, []string{s.Label, "–", "failed", "–", "–", "–", "–", "–", "–"})
			continue
		}
		w := intPtr(s.Workers)
		if s.Workers == nil {
			w = "none ≤ " + strconv.Itoa(r.MaxWorkers)
		}
		miss := "–"
		if s.Miss != nil {
			miss = pct(s.Miss)
			if s.Best != nil {
				miss += " at " + strconv.Itoa(s.Best.Workers)
			}
		}
		below := pct(s.MarginBelow)
		if s.Workers != nil && *s.Workers == 1 {
			below = "(1 is the least)"
		}
		mono, probes := "yes", 0
		for _, c := range s.Candidates {
			if !c.Monotone {
				mono = "no"
			}
			probes += len(c.Probes)
		}
		rows = append(rows, []string{s.Label, strPtr(s.GPU), w, costText(s.CostPerHour), pct(s.Margin), below, miss, mono, strconv.Itoa(probes)})
	}
	return rows
}

// answerNote explains the answer table.
func (r *PlanReport) answerNote() string {
	return fmt.Sprintf("Smallest fleet (up to %d workers) whose SLO metrics, averaged over each scenario's seeds, meet every SLO (%s); "+
		"with several GPUs the cheapest by workers × TP × price per GPU-hour. Margin: the tightest SLO's (target − value)/target at the answer "+
		"(≥ 0), and at one worker fewer (< 0 for some SLO: the answer is the smallest). Miss: when no fleet meets the SLOs, by how much the best "+
		"probed fleet's worst SLO exceeds its target.", r.MaxWorkers, r.sloText())
}

// factRows are the plan's facts.
func (r *PlanReport) factRows() [][2]string {
	rows := [][2]string{
		{"trace", r.Trace.Source},
		{"format", string(r.Trace.Format)},
	}
	if r.Stats != nil {
		rows = append(rows, [2]string{"requests", strconv.Itoa(r.Stats.Requests)})
	}
	rows = append(rows,
		[2]string{"skipped lines", strconv.Itoa(r.Trace.Skipped.Count)},
		[2]string{"SLOs", r.sloText()},
		[2]string{"max workers", strconv.Itoa(r.MaxWorkers)},
		[2]string{"seeds (randomized scenarios)", "1.." + strconv.Itoa(r.Seeds)},
		[2]string{"runs / rounds", fmt.Sprintf("%d / %d", r.Runs, r.Rounds)},
	)
	for _, n := range r.Notes {
		rows = append(rows, [2]string{"note", n})
	}
	return rows
}

// gpuRows describe the GPU choices.
func (r *PlanReport) gpuRows() [][]string {
	var rows [][]string
	for _, g := range r.GPUs {
		price := "unknown"
		if !math.IsNaN(float64(g.Price)) {
			price = "$" + num(float64(g.Price), 4)
			if g.Unverified {
				price += " (unverified)"
			}
		}
		rows = append(rows, []string{g.Name, g.Profile, strconv.Itoa(g.TP), price, g.PriceSource})
	}
	return rows
}

// probeHeader is a candidate's curve table header.
func (r *PlanReport) probeHeader() []string {
	h := []string{"workers", "meets"}
	for _, s := range r.SLOs {
		h = append(h, s.Metric+" ms (≤ "+num(float64(s.TargetMS), 0)+")")
	}
	return append(h, "margin", "completed Σ seeds", "failed Σ seeds")
}

func (r *PlanReport) probeRows(c *PlanCandidate) [][]string {
	var rows [][]string
	for _, p := range c.Probes {
		meets := "no"
		if p.Meets {
			meets = "yes"
		}
		if c.Workers != nil && p.Workers == *c.Workers {
			meets = "yes ← answer"
		}
		row := []string{strconv.Itoa(p.Workers), meets}
		for _, v := range p.SLOs {
			row = append(row, cell(v.Value, 1))
		}
		m := p.Margin
		row = append(row, pct(&m), strconv.Itoa(p.Completed), strconv.Itoa(p.Failed))
		rows = append(rows, row)
	}
	return rows
}

// candidateTitle names a candidate's section.
func candidateTitle(s *PlanScenario, c *PlanCandidate) string {
	if c.GPU == "" {
		return s.Label
	}
	return s.Label + " on " + c.Profile
}

// candidateNotes are the lines under a candidate's curve table.
func (r *PlanReport) candidateNotes(s *PlanScenario, c *PlanCandidate) []string {
	var out []string
	if c.Error != "" {
		return []string{"failed: " + c.Error}
	}
	if c.Workers != nil {
		a := fmt.Sprintf("Answer: %d workers", *c.Workers)
		if c.CostPerHour != nil {
			a += " (" + costText(c.CostPerHour) + " per hour)"
		}
		out = append(out, a+".")
	} else {
		out = append(out, fmt.Sprintf("No fleet up to %d workers meets every SLO.", r.MaxWorkers))
	}
	interval := "deterministic: one run per count"
	if s.Randomized {
		interval = fmt.Sprintf("mean ± 95%% t half-width over seeds %s", seedList(s.Seeds))
	}
	out = append(out, "Values: "+interval+".")
	for _, seg := range c.Scanned {
		out = append(out, fmt.Sprintf("Scanned %d..%d one by one after a metric rose between probed counts.", seg[0], seg[1]))
	}
	if c.Monotone {
		out = append(out, "Monotone at the probed counts (the search assumes it between them).")
	}
	for _, n := range c.Notes {
		out = append(out, "Not monotone: "+n+".")
	}
	return out
}

// charts draws each SLO metric against workers, one chart per scenario
// and SLO, a line per GPU and the target dashed.
func (r *PlanReport) charts(si int) []chart {
	s := &r.Scenarios[si]
	var out []chart
	for k, slo := range r.SLOs {
		ch := chart{ID: fmt.Sprintf("s%d-%s", si+1, slo.Metric), Title: s.Label + ": " + slo.Metric + " against workers",
			XLabel: "workers (log scale)", YLabel: slo.Metric + " ms (log scale)", LogX: true, LogY: true,
			Caption: "Mean over seeds at every probed count (marked), with the 95% t interval; the dashed line is the target."}
		lo, hi := math.Inf(1), math.Inf(-1)
		for ci, c := range s.Candidates {
			l := chartLine{Name: slo.Metric, Color: ci, Marks: true}
			if c.GPU != "" {
				l.Name = c.GPU
			}
			for _, p := range c.Probes {
				v := p.SLOs[k].Value
				l.X = append(l.X, float64(p.Workers))
				l.Y = append(l.Y, float64(v.Mean))
				l.Err = append(l.Err, float64(v.HalfWidth))
				lo, hi = min(lo, float64(p.Workers)), max(hi, float64(p.Workers))
			}
			ch.Lines = append(ch.Lines, l)
		}
		if math.IsInf(lo, 1) {
			continue
		}
		if hi < 10*lo {
			ch.LogX, ch.XLabel = false, "workers"
		}
		t := float64(slo.TargetMS)
		ch.Lines = append(ch.Lines, chartLine{Name: "target " + slo.Text, X: []float64{lo, hi}, Y: []float64{t, t}, Dashed: true, Color: 3})
		out = append(out, ch)
	}
	return out
}

// WriteText writes the answer table for a terminal.
func (r *PlanReport) WriteText(out io.Writer) error {
	w := bufio.NewWriter(out)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(AnswerHeader, "\t"))
	for _, row := range r.answerRows() {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	for _, s := range r.Scenarios {
		if !s.OK() {
			fmt.Fprintf(w, "%s: failed: %s\n", s.Label, s.Error)
			continue
		}
		if len(s.Candidates) > 1 {
			var parts []string
			for _, c := range s.Candidates {
				a := c.GPU + " "
				switch {
				case c.Error != "":
					a += "failed"
				case c.Workers == nil:
					a += "none ≤ " + strconv.Itoa(r.MaxWorkers)
				default:
					a += strconv.Itoa(*c.Workers)
					if c.CostPerHour != nil {
						a += " (" + costText(c.CostPerHour) + "/hour)"
					}
				}
				parts = append(parts, a)
			}
			fmt.Fprintf(w, "%s: %s\n", s.Label, strings.Join(parts, ", "))
		}
		if s.Workers == nil && s.Best != nil {
			fmt.Fprintf(w, "%s: no fleet up to %d workers meets %s; the best, %d workers, misses by %s (%s)\n",
				s.Label, r.MaxWorkers, r.sloText(), s.Best.Workers, pct(s.Miss), worstSLO(s.Best))
		}
		for _, c := range s.Candidates {
			for _, n := range c.Notes {
				fmt.Fprintf(w, "%s: not monotone: %s\n", candidateTitle(&s, &c), n)
			}
		}
	}
	return w.Flush()
}

// worstSLO describes the SLO a probe misses by the most.
func worstSLO(p *PlanProbe) string {
	wi := -1
	for i, v := range p.SLOs {
		if wi < 0 || !(v.Slack >= p.SLOs[wi].Slack) {
			wi = i
		}
	}
	if wi < 0 {
		return ""
	}
	v := p.SLOs[wi]
	return fmt.Sprintf("%s %s against %s", v.Metric, msText(float64(v.Value.Mean)), msText(float64(v.Value.Mean)+float64(v.SlackMS)))
}

// WriteMarkdown writes the report as Markdown.
func (r *PlanReport) WriteMarkdown(out io.Writer) error {
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "# kvscope plan\n\n")
	if r.Command != "" {
		fmt.Fprintf(w, "Reproduce with kvscope %s:\n\n```\n%s\n```\n\n", r.Version, r.Command)
	}
	for _, f := range r.Failures() {
		fmt.Fprintf(w, "**Scenario failed:** %s\n\n", mdEscape(f))
	}
	mdRow(w, "fact", "value")
	mdSep(w, 2, false)
	for _, row := range r.factRows() {
		mdRow(w, mdEscape(row[0]), mdEscape(row[1]))
	}
	table := func(title, note string, hdr []string, rows [][]string) {
		mdTable(w, title, mdEscape(note), hdr, rows, false)
	}
	table("Answers", r.answerNote(), AnswerHeader, r.answerRows())
	if len(r.GPUs) > 0 {
		table("GPUs", "A worker is one replica of TP GPUs; its cost is TP × the price per GPU-hour.",
			[]string{"gpu", "profile", "tp", "$/GPU-hour", "price source"}, r.gpuRows())
	}
	for si := range r.Scenarios {
		s := &r.Scenarios[si]
		for ci := range s.Candidates {
			c := &s.Candidates[ci]
			fmt.Fprintf(w, "\n## %s\n\n", mdEscape(candidateTitle(s, c)))
			if s.Canonical != "" && (c.GPU == "" || (s.GPU != nil && *s.GPU == c.GPU)) {
				fmt.Fprintf(w, "`%s`\n\n", s.Canonical)
			}
			for _, n := range r.candidateNotes(s, c) {
				fmt.Fprintf(w, "- %s\n", mdEscape(n))
			}
			if len(c.Probes) > 0 {
				fmt.Fprintln(w)
				hdr := r.probeHeader()
				mdRow(w, hdr...)
				mdSep(w, len(hdr), false)
				for _, row := range r.probeRows(c) {
					mdRow(w, row...)
				}
			}
		}
	}
	return w.Flush()
}

// WriteHTML writes one self-contained HTML file (inline SVG, no script).
func (r *PlanReport) WriteHTML(out io.Writer) error {
	w := bufio.NewWriter(out)
	htmlHead(w, r.Version, "kvscope plan", r.Trace.Source)
	if r.Command != "" {
		fmt.Fprintf(w, "<p>Reproduce with kvscope %s:</p>\n<pre><code>%s</code></pre>\n", esc(r.Version), esc(r.Command))
	}
	for _, f := range r.Failures() {
		fmt.Fprintf(w, "<p class=\"fail\">Scenario failed: %s</p>\n", esc(f))
	}
	table := func(id, title, note string, hdr []string, rows [][]string) { htmlTable(w, id, title, note, hdr, rows) }
	var facts [][]string
	for _, f := range r.factRows() {
		facts = append(facts, []string{f[0], f[1]})
	}
	table("", "", "", []string{"fact", "value"}, facts)
	table("answers", "Answers", r.answerNote(), AnswerHeader, r.answerRows())
	if len(r.GPUs) > 0 {
		table("gpus", "GPUs", "A worker is one replica of TP GPUs; its cost is TP × the price per GPU-hour.",
			[]string{"gpu", "profile", "tp", "$/GPU-hour", "price source"}, r.gpuRows())
	}
	for si := range r.Scenarios {
		s := &r.Scenarios[si]
		fmt.Fprintf(w, "<h2 id=\"s%d\">%s</h2>\n", si+1, esc(s.Label))
		if s.Canonical != "" {
			fmt.Fprintf(w, "<p><code>%s</code></p>\n", esc(s.Canonical))
		}
		for _, ch := range r.charts(si) {
			svg, err := ch.figureHTML()
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "<figure>%s<figcaption>%s</figcaption></figure>\n", svg, esc(ch.Caption))
		}
		for ci := range s.Candidates {
			c := &s.Candidates[ci]
			h := "Probes"
			if c.GPU != "" {
				h = "On " + c.Profile
			}
			fmt.Fprintf(w, "<h3>%s</h3>\n<ul>\n", esc(h))
			for _, n := range r.candidateNotes(s, c) {
				fmt.Fprintf(w, "<li>%s</li>\n", esc(n))
			}
			fmt.Fprintf(w, "</ul>\n")
			if len(c.Probes) > 0 {
				table("", "", "", r.probeHeader(), r.probeRows(c))
			}
		}
	}
	fmt.Fprintf(w, "</body>\n</html>\n")
	return w.Flush()
}

// PlanCSVHeader is the CSV report's header: one row per probe per SLO.
var PlanCSVHeader = []string{"scenario", "gpu", "workers", "answer", "meets", "metric", "target_ms", "mean_ms", "lo_ms", "hi_ms", "slack"}

// WriteCSV writes one row per probed count per SLO.
func (r *PlanReport) WriteCSV(out io.Writer) error {
	w := csv.NewWriter(out)
	if err := w.Write(PlanCSVHeader); err != nil {
		return err
	}
	fl := func(x F) string {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return ""
		}
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	}
	for _, s := range r.Scenarios {
		for _, c := range s.Candidates {
			for _, p := range c.Probes {
				ans := c.Workers != nil && *c.Workers == p.Workers
				for k, v := range p.SLOs {
					row := []string{s.Label, c.GPU, strconv.Itoa(p.Workers), strconv.FormatBool(ans), strconv.FormatBool(v.Meets),
						v.Metric, fl(r.SLOs[k].TargetMS), fl(v.Value.Mean), fl(v.Value.Lo), fl(v.Value.Hi), fl(v.Slack)}
					if err := w.Write(row); err != nil {
						return err
					}
				}
			}
		}
	}
	w.Flush()
	return w.Error()
}

// PlanJSONVersion is the version of the plan JSON report's schema.
const PlanJSONVersion = 1

// WriteJSON writes the versioned JSON report: every scenario's answer
// with its margins, miss and the probes behind them.
func (r *PlanReport) WriteJSON(out io.Writer) error {
	v := struct {
		Version        int          `json:"version"`
		KVScopeVersion string       `json:"kvscope_version"`
		Command        string       `json:"command"`
		TraceStats     *trace.Stats `json:"trace_stats,omitempty"`
		*PlanResult
	}{PlanJSONVersion, r.Version, r.Command, r.Stats, r.PlanResult}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
