package analysis

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/trace"
)

// Report is a comparison with what is needed to reproduce it. Renderers
// write the same content as Markdown (text charts), HTML (one
// self-contained file, inline SVG charts, no script), JSON (versioned,
// complete) or CSV (one row per request per scenario per seed). The same
// inputs give the same bytes: no timestamps, no map-order iteration.
type Report struct {
	// Command reproduces the report; Version is kvscope's.
	Command string
	Version string
	// Stats are the trace's statistics (nil to leave them out).
	Stats *trace.Stats
	*Comparison
}

// Format names a report format.
type Format string

const (
	FormatMarkdown Format = "md"
	FormatHTML     Format = "html"
	FormatJSON     Format = "json"
	FormatCSV      Format = "csv"
)

// Formats lists the report formats.
var Formats = []Format{FormatMarkdown, FormatHTML, FormatJSON, FormatCSV}

// FormatOf picks the format from a path's extension.
func FormatOf(path string) (Format, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	switch ext {
	case "md", "markdown":
		return FormatMarkdown, nil
	case "html", "htm":
		return FormatHTML, nil
	case "json":
		return FormatJSON, nil
	case "csv":
		return FormatCSV, nil
	}
	return "", fmt.Errorf("%s: report format from the extension: want .md, .html, .json or .csv", path)
}

// Write renders the report in format f.
func (r *Report) Write(w io.Writer, f Format) error { return writeAs(r, w, f) }

// renderer is a report that renders in every Format.
type renderer interface {
	WriteMarkdown(io.Writer) error
	WriteHTML(io.Writer) error
	WriteJSON(io.Writer) error
	WriteCSV(io.Writer) error
}

// writeAs renders r in format f.
func writeAs(r renderer, w io.Writer, f Format) error {
	switch f {
	case FormatMarkdown:
		return r.WriteMarkdown(w)
	case FormatHTML:
		return r.WriteHTML(w)
	case FormatJSON:
		return r.WriteJSON(w)
	case FormatCSV:
		return r.WriteCSV(w)
	}
	return fmt.Errorf("unknown report format %q", f)
}

// Failures lists "label: error" for each scenario that did not run.
func (r *Report) Failures() []string {
	var out []string
	for _, s := range r.Scenarios {
		if !s.OK() {
			out = append(out, s.Label+": "+s.Error)
		}
	}
	return out
}

// NoInterval is what a deterministic scenario shows instead of an interval.
const NoInterval = "no interval (deterministic)"

// intervalNote describes a scenario's interval for table headers.
func intervalNote(s *ScenarioResult) string {
	if !s.OK() {
		return "failed"
	}
	if !s.Randomized {
		return NoInterval
	}
	if len(s.Seeds) < 2 {
		return "1 seed: no interval"
	}
	return fmt.Sprintf("mean ± 95%% t, seeds %d..%d (df %d)", s.Seeds[0], s.Seeds[len(s.Seeds)-1], len(s.Seeds)-1)
}

// num formats x with d decimals; "–" for NaN.
func num(x float64, d int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	if d == 0 && math.Abs(x) >= 1e15 {
		return strconv.FormatFloat(x, 'g', 6, 64)
	}
	return strconv.FormatFloat(x, 'f', d, 64)
}

// cell formats a statistic: "mean ± half" with an interval, "mean" alone
// otherwise. Randomized means of counts get one decimal.
func cell(st Stat, d int) string {
	if st.N == 0 {
		return "–"
	}
	if st.HasInterval() {
		dd := d
		if dd == 0 {
			dd = 1
		}
		return num(float64(st.Mean), dd) + " ± " + num(float64(st.HalfWidth), dd)
	}
	return num(float64(st.Mean), d)
}

// intervalText writes "[lo, hi]" or the no-interval note.
func intervalText(st Stat, d int) string {
	if st.Det {
		return NoInterval
	}
	if !st.HasInterval() {
		return "no interval (n=" + strconv.Itoa(st.N) + ")"
	}
	dd := max(d, 1)
	return "[" + num(float64(st.Lo), dd) + ", " + num(float64(st.Hi), dd) + "]"
}

func workerDigits(key string) int {
	for _, d := range WorkerDefs {
		if d.Key == key {
			return d.Digits
		}
	}
	return 3
}

// headline returns the headline metric definitions.
func headline() []MetricDef {
	var out []MetricDef
	for _, d := range MetricDefs {
		if d.Headline {
			out = append(out, d)
		}
	}
	return out
}

// traceRows are the trace statistics shown in every report.
func (r *Report) traceRows() [][2]string {
	in := r.Trace
	rows := [][2]string{
		{"source", in.Source},
		{"format", string(in.Format)},
		{"block size", strconv.Itoa(in.BlockSize)},
	}
	if n := trace.NoPrefixNote(in.Format); n != "" {
		rows = append(rows, [2]string{"note", n})
	}
	if in.Options != "" {
		rows = append(rows, [2]string{"reader options", in.Options})
	}
	rows = append(rows, [2]string{"skipped lines", strconv.Itoa(in.Skipped.Count)})
	for _, k := range sortedKeys(in.Skipped.Reasons) {
		rows = append(rows, [2]string{"  skipped: " + k, strconv.Itoa(in.Skipped.Reasons[k])})
	}
	st := r.Stats
	if st == nil {
		return rows
	}
	rows = append(rows,
		[2]string{"requests", strconv.Itoa(st.Requests)},
		[2]string{"duration s", num(st.DurationS, 3)},
		[2]string{"mean rate req/s", num(st.MeanRate, 3)},
		[2]string{"peak rate req/s (1 s / 60 s bins)", num(st.PeakRate1s, 0) + " / " + num(st.PeakRate60s, 3)},
		[2]string{"input tokens", strconv.FormatInt(st.InputTokens, 10)},
		[2]string{"output tokens", strconv.FormatInt(st.OutputTokens, 10)},
		[2]string{"input length mean / p50 / p90 / p99 / max", fmt.Sprintf("%s / %d / %d / %d / %d", num(st.Input.Mean, 1), st.Input.P50, st.Input.P90, st.Input.P99, st.Input.Max)},
		[2]string{"output length mean / p50 / p90 / p99 / max", fmt.Sprintf("%s / %d / %d / %d / %d", num(st.Output.Mean, 1), st.Output.P50, st.Output.P90, st.Output.P99, st.Output.Max)},
		[2]string{"blocks (lookups) / unique", fmt.Sprintf("%d / %d", st.Blocks, st.UniqueBlocks)},
		[2]string{"sessions", strconv.Itoa(st.Sessions)},
		[2]string{"infinite-cache hit ratio blocks / tokens", num(st.IdealBlockHitRatio, 6) + " / " + num(st.IdealTokenHitRatio, 6)},
		[2]string{"longest chain / deepest shared prefix (blocks)", fmt.Sprintf("%d / %d", st.MaxRequestBlocks, st.DeepestSharedPrefix)},
	)
	return rows
}

// ShellQuote quotes args for a POSIX shell, leaving plain words bare.
func ShellQuote(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

// workerCell formats one per-worker statistic; SPEC §6's bounds read
// "n/a" when k < 1.
func workerCell(w *WorkerStat, key string) string {
	m := w.Metric(key)
	if m == nil {
		return "–"
	}
	if m.N == 0 {
		switch key {
		case "k", "harmonic_k", "rlt_bound", "lru_bound":
			return "n/a"
		}
	}
	return cell(m.Stat, workerDigits(key))
}

// ratioNote says what a scenario's per-worker table measures against: B
// and its unit, what opt is and what the bound is (SPEC §5: in token mode
// opt is a heuristic and the bound only the compulsory misses).
func ratioNote(s *ScenarioResult) string {
	if len(s.Runs) == 0 {
		return ""
	}
	r := &s.Runs[0]
	note := fmt.Sprintf("B = %d %s per worker", r.Capacity, r.Unit)
	for _, w := range r.Workers {
		if w.OptLabel != "" {
			note += fmt.Sprintf("; \"vs opt\" against the %s, \"vs Belady\" against the %s", w.OptLabel, w.BeladyLabel)
			break
		}
	}
	return note
}

// pairLabel names a paired comparison.
func (r *Report) pairLabel(p PairedResult) string {
	return r.Scenarios[p.A].Label + " − " + r.Scenarios[p.B].Label
}

func pairText(p PairedResult, d int) (diff, interval, verdict string) {
	diff = num(float64(p.Diff.Mean), max(d, 1))
	switch {
	case p.Diff.Det:
		return diff, NoInterval, "exact (both deterministic)"
	case !p.Diff.HasInterval():
		return diff, "no interval (n=" + strconv.Itoa(p.Diff.N) + ")", "–"
	}
	interval = intervalText(p.Diff, d)
	verdict = "not significant"
	if p.Significant {
		verdict = "significant"
	}
	return diff, interval, verdict
}

// sortedKeys returns a map's keys in order (reports never iterate maps
// unsorted).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
