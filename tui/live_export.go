package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/sim"
)

// LiveReportPath is where the w key writes a finished live run's report,
// beside the comparison report at path: NAME-live.json for a .json
// report, NAME-live.md for any other (the live report has those two
// formats, analysis.LiveReport.WriteFile).
func LiveReportPath(path string) string {
	ext := filepath.Ext(path)
	name := strings.TrimSuffix(path, ext)
	if strings.EqualFold(ext, ".json") {
		return name + "-live.json"
	}
	return name + "-live.md"
}

// liveExport is the live part of an export: the finished run and how to
// model it.
type liveExport struct {
	res *live.Result
	// evict is the eviction policy of the model set beside the live
	// workers: the first scenario's, as the live run uses its router.
	evict   string
	seed    uint64
	command string
}

// report is the live run beside kvscope's model of the requests it sent:
// analysis.LiveModelScenario (the run's router and the live workers'
// cache size, under evict), simulated and compared as
// `kvscope live --compare-evict` does.
// Without a scenario on screen it is the live run alone.
func (e *liveExport) report(ctx context.Context) (*analysis.LiveReport, error) {
	if e.evict == "" {
		rep := analysis.NewLiveReport(e.res)
		rep.Command = e.command
		return rep, nil
	}
	sc, err := analysis.LiveModelScenario(e.res, e.evict, "", e.seed)
	if err != nil {
		return nil, fmt.Errorf("live report: model scenario: %w", err)
	}
	sent := e.res.SentWorkload()
	run, err := sim.Simulate(ctx, sent, sc, sim.Options{})
	if err != nil {
		return nil, fmt.Errorf("live report: model run: %w", err)
	}
	rep := analysis.CompareLive(e.res, analysis.LiveModelOf(run.Scenario, analysis.Summary(sent, run, sc)))
	rep.Command = e.command
	return rep, nil
}

// write writes the report to LiveReportPath(path) and returns that path.
func (e *liveExport) write(ctx context.Context, path string) (string, error) {
	rep, err := e.report(ctx)
	if err != nil {
		return "", err
	}
	lp := LiveReportPath(path)
	if err := rep.WriteFile(lp); err != nil {
		return "", err
	}
	return lp, nil
}

// liveForExport is the live run to export with the comparison: a
// finished one (ended or interrupted, with a result), else nil with a
// note for the status line when a run exists but has nothing to write.
func (m *Model) liveForExport() (*liveExport, string) {
	l := m.s.live
	switch {
	case l == nil:
		return nil, ""
	case l.running:
		return nil, "the live run is still going: not in this report (w again once it ends)"
	case l.res == nil:
		return nil, "the live run failed: no live report"
	}
	e := &liveExport{res: l.res, command: m.cfg.Command}
	if len(m.s.slots) > 0 {
		sc := m.s.slots[0].entry.Scenario
		e.evict, e.seed = sc.Evict.String(), sc.Seed
	}
	return e, ""
}

// exportStatus is the status line after a report was written: its path,
// and the live report's name (it lies beside it), or why there is none.
func exportStatus(msg exportDoneMsg) (string, bool) {
	s := "wrote " + msg.path
	if msg.size >= 0 {
		s += " (" + progress.Size(msg.size) + ")"
	}
	switch {
	case msg.liveErr != nil:
		return s + " · " + msg.liveErr.Error(), false
	case msg.live != "":
		return s + " · live report " + filepath.Base(msg.live), true
	case msg.liveNote != "":
		return s + " · " + msg.liveNote, true
	}
	return s, true
}
