package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// ExportRequest is the comparison on screen, to be written as a report.
// A streamed explorer's (Config.Stream) has no Trace but Open, which reads
// the trace anew for each run (analysis.CompareStream).
type ExportRequest struct {
	Trace   *trace.Trace
	Open    analysis.OpenFunc
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
// scenarios on screen (analysis.CompareStream over a streamed trace),
// rendered by analysis.Report, written atomically.
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
	opt := analysis.CompareOptions{Seeds: seeds, Parallel: 1, KeepRecords: format == analysis.FormatCSV}
	var cmp *analysis.Comparison
	if req.Trace == nil {
		cmp, err = analysis.CompareStream(ctx, req.Open, entries, opt, analysis.StreamCompareOptions{})
	} else {
		cmp, err = analysis.Compare(ctx, req.Trace, entries, opt)
	}
	if err != nil {
		return "", err
	}
	defer cmp.Close()
	rep := &analysis.Report{Command: req.Command, Version: e.Version, Stats: req.Stats, Comparison: cmp}
	if err := rep.WriteFile(req.Path, format); err != nil {
		return "", err
	}
	if abs, err := filepath.Abs(req.Path); err == nil {
		return abs, nil
	}
	return req.Path, nil
}

// askExport opens the w key's prompt for the report's file name,
// prefilled with the last one (--export's at first). A name whose
// extension is not a report format keeps the prompt open with the reason;
// an existing file is overwritten only after a y.
func (m *Model) askExport() {
	if m.exporting {
		m.setStatus("a report is already being written", false)
		return
	}
	streamed := m.cfg.Stream != nil
	switch {
	case m.s.tr == nil && !streamed:
		m.inputError("the trace is still loading")
		return
	case streamed && m.s.summary == nil:
		m.inputError("the report needs the trace's block size: wait for a replay to finish")
		return
	}
	st := m.s.st
	in := newLineInput(st, "write report to: ", ".md, .html, .json or .csv", m.cfg.ExportPath, 40)
	in.focused = true
	d := &promptDialog{st: st, in: in, hint: "enter write · esc cancel"}
	d.enter = func(v string) dialogResult {
		path := strings.TrimSpace(v)
		if path == "" {
			d.err = "give a file name"
			return dialogResult{}
		}
		if _, err := analysis.FormatOf(path); err != nil {
			d.err = strings.TrimPrefix(err.Error(), path+": ") // the name is on the line already
			return dialogResult{}
		}
		if fi, err := os.Stat(path); err == nil {
			if fi.IsDir() {
				d.err = path + " is a directory"
				return dialogResult{}
			}
			return dialogResult{close: true, then: &confirmDialog{st: st, question: path + " exists: overwrite it?",
				yes: func() tea.Cmd { return m.export(path) }}}
		}
		return dialogResult{close: true, cmd: m.export(path)}
	}
	m.push(d)
}

// export writes the comparison on screen to path in the background; path
// becomes the w prompt's next default.
func (m *Model) export(path string) tea.Cmd {
	if m.exporting {
		m.setStatus("a report is already being written", false)
		return nil
	}

	m.exporting = true
	m.cfg.ExportPath = path
	m.setStatus("writing "+path+"…", true)
	req := ExportRequest{Trace: m.s.tr, Stats: m.s.stats, Path: path, Command: m.cfg.Command}
	var info trace.Info
	if m.s.tr != nil {
		info = m.s.tr.Info
	} else {
		info = m.s.summary.info
		sc := m.cfg.Stream
		req.Open = func(s scenario.Scenario) (*trace.Stream, error) {
			return sc.Open(route.TraceIDs(s.Router.Name), func(int64, int64) {})
		}
	}
	for _, sl := range m.s.slots {
		// A default size is made explicit in this trace's blocks, so the
		// command written into the report names it.
		e := sl.entry
		e.Scenario = e.Scenario.Sized(info.BlockSize)
		req.Entries = append(req.Entries, e)
	}
	req.Command = reproduceCommand(m.cfg.Command, info.Source, path, req.Entries, m.s.tr == nil)
	ex, ctx := m.cfg.Exporter, m.ctx
	le, note := m.liveForExport()
	return func() tea.Msg {
		p, err := ex.Export(ctx, req)
		size := int64(-1)
		if fi, serr := os.Stat(p); err == nil && serr == nil {
			size = fi.Size()
		}
		msg := exportDoneMsg{path: p, size: size, err: err, liveNote: note}
		if err == nil && le != nil {
			msg.live, msg.liveErr = le.write(ctx, p)
		}
		return msg
	}
}

// reproduceCommand is the command written into an exported report. The
// scenarios on screen (what-if ones included) may differ from those the
// explorer was opened with, so it is the `kvscope compare` that reruns
// exactly them, one seed each as on screen. The embedded sample
// ("sample:NAME") is the file samples/NAME of the kvscope source tree, so
// its command names that path (run from the source tree's root); a trace
// with no source keeps the opening command. A streamed explorer's report
// is a streamed comparison's (--stream).
func reproduceCommand(opened, source, out string, entries []Entry, streamed bool) string {
	if source == "" {
		return opened
	}
	if name, ok := strings.CutPrefix(source, "sample:"); ok {
		source = "samples/" + name
	}
	args := []string{"kvscope", "compare", source}
	for _, e := range entries {
		spec := e.Scenario.String()
		if c, err := sim.Resolve(e.Scenario); err == nil {
			spec = c
		}
		args = append(args, "-s", spec)
	}
	args = append(args, "--seeds", "1")
	if streamed {
		args = append(args, "--stream")
	}
	return analysis.ShellQuote(append(args, "-o", out))
}
