package tui

import (
	"context"
	"io"
	"path/filepath"

	"github.com/kvscope/kvscope/analysis"
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
	if err := trace.WriteFileAtomic(req.Path, func(w io.Writer) error { return rep.Write(w, format) }); err != nil {
		return "", err
	}
	if abs, err := filepath.Abs(req.Path); err == nil {
		return abs, nil
	}
	return req.Path, nil
}
