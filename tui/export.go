package tui

import (
	"context"
	"path/filepath"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// ExportRequest is the comparison on screen, to be written as a report.
type ExportRequest struct {
	Trace   *trace.Trace
	Stats   *trace.Stats // nil when not computed yet
	Entries []Entry
	// Path is the report file; its extension picks the format.
	Path    string
	Command string
}

// Exporter writes a comparison report and returns the path written. It
// runs in a tea.Cmd, off the event loop.
type Exporter interface {
	Export(ctx context.Context, req ExportRequest) (string, error)
}

// ReportExporter is the default Exporter: analysis.Compare over the
// scenarios on screen, rendered by analysis.Report, written atomically.
type ReportExporter struct {
	// Seeds is N for randomized scenarios (default 1: the runs on screen).
	Seeds   int
	Version string
}

// Export implements Exporter.
func (e ReportExporter) Export(ctx context.Context, req ExportRequest) (string, error) {
	format, err := analysis.FormatOf(req.Path)
	if err != nil {
		return "", err
	}
	seeds := e.Seeds
	if seeds <= 0 {
		seeds = 1
	}
	entries := make([]analysis.Entry, len(req.Entries))
	for i, en := range req.Entries {
		entries[i] = analysis.Entry{Label: en.Label, Scenario: en.Scenario}
	}
	cmp, err := analysis.Compare(ctx, req.Trace, entries, analysis.CompareOptions{
		Seeds: seeds, Parallel: 1, KeepRecords: format == analysis.FormatCSV,
	})
	if err != nil {
		return "", err
	}
	rep := &analysis.Report{Command: req.Command, Version: e.Version, Stats: req.Stats, Comparison: cmp}
	if err := rep.WriteFile(req.Path, format); err != nil {
		return "", err
	}
	if abs, err := filepath.Abs(req.Path); err == nil {
		return abs, nil
	}
	return req.Path, nil
}

// export writes the comparison on screen in the background.
func (m *Model) export() tea.Cmd {
	if m.exporting {
		m.setStatus("a report is already being written", false)
		return nil
	}
	m.exporting = true
	m.setStatus("writing "+m.cfg.ExportPath+"…", true)
	req := ExportRequest{Trace: m.s.tr, Stats: m.s.stats, Path: m.cfg.ExportPath, Command: m.cfg.Command}
	for _, sl := range m.s.slots {
		req.Entries = append(req.Entries, sl.entry)
	}
	req.Command = reproduceCommand(m.cfg.Command, m.s.tr.Info.Source, m.cfg.ExportPath, req.Entries)
	ex, ctx := m.cfg.Exporter, m.ctx
	return func() tea.Msg {
		p, err := ex.Export(ctx, req)
		return exportDoneMsg{path: p, err: err}
	}
}

// reproduceCommand is the command written into an exported report. The
// scenarios on screen (what-if ones included) may differ from those the
// explorer was opened with, so for a trace file it is the `kvscope compare`
// that reruns exactly them, one seed each as on screen; the embedded sample
// (no path to give compare) keeps the opening command.
func reproduceCommand(opened, source, out string, entries []Entry) string {
	if strings.HasPrefix(source, "sample:") || source == "" {
		return opened
	}
	args := []string{"kvscope", "compare", source}
	for _, e := range entries {
		spec := e.Scenario.String()
		if c, err := sim.Resolve(e.Scenario); err == nil {
			spec = c
		}
		args = append(args, "-s", spec)
	}
	return analysis.ShellQuote(append(args, "--seeds", "1", "-o", out))
}
