package tui

import (
	"context"
	"fmt"

	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// MaxScenarios is how many scenarios the compare pane shows side by side.
const MaxScenarios = 4

// DefaultSpecs are the two scenarios `kvscope` opens the sample with.
var DefaultSpecs = []string{"cache_aware:preset=sglang-0.4.6+lru", "lbgr+rlt"}

// DefaultBase is the base the default scenarios fill their keys from:
// scenario.Default, the defaults every command shares (8 workers, each
// with 1,024,000 tokens of cache in whole blocks of the trace, the linear
// model at 0.15 ms per missed token, seed 1).
func DefaultBase() scenario.Scenario {
	return scenario.Default(param.Spec{}, param.Spec{})
}

// Entry is one scenario to replay, with the label it was typed as.
type Entry struct {
	Label    string
	Scenario scenario.Scenario
}

// ParseEntries parses scenario strings over base and checks each against
// the registries (scenario.Parse, sim.Resolve).
func ParseEntries(specs []string, base scenario.Scenario) ([]Entry, error) {
	if len(specs) > MaxScenarios {
		return nil, fmt.Errorf("%d scenarios: the explorer compares at most %d", len(specs), MaxScenarios)
	}
	var out []Entry
	for _, s := range specs {
		sc, err := scenario.Parse(s, base)
		if err != nil {
			return nil, err
		}
		if _, err := sim.Resolve(sc); err != nil {
			return nil, err
		}
		out = append(out, Entry{Label: s, Scenario: sc})
	}
	return out, nil
}

// Config is what the explorer opens.
type Config struct {
	// Trace is the loaded trace every scenario replays.
	Trace *trace.Trace
	// Stream, when Trace is nil, replays a trace the explorer does not
	// hold (StreamConfig): for traces larger than memory.
	Stream *StreamConfig
	// Load, when Trace is nil, loads the trace in the background: Run
	// shows a loading frame at once (bytes read, rate) and opens the
	// explorer when the trace lands, with Stats (when nil) over it. A
	// load error ends Run with that error.
	Load LoadFunc
	// LoadName names what Load reads, in the loading frame and the status
	// line.
	LoadName string
	// Stats computes the trace's statistics; it runs in the background.
	// Nil leaves the statistics out of the trace pane.
	Stats func() (*trace.Stats, error)
	// Scenarios are replayed at start (1 to MaxScenarios).
	Scenarios []Entry
	// Base fills the keys a what-if form leaves out.
	Base scenario.Scenario
	// Exporter writes the comparison report (the export key); nil uses
	// ReportExporter.
	Exporter Exporter
	// ExportPath is the report file the export key writes; its extension
	// picks the format. Default "kvscope-report.md".
	ExportPath string
	// Command is the command line that reproduces the comparison, written
	// into reports.
	Command string
	// Dark forces the dark (true) or light (false) theme; nil follows the
	// terminal's background (dark until it answers).
	Dark *bool
	// NoColor drops every color; New also sets it when NO_COLOR is set.
	NoColor bool
	// Live, if set, attaches live workers (`kvscope open TRACE --attach`):
	// it runs replay/live's driver on the explorer's trace with the given
	// updates channel and returns its result. The explorer starts it in the background and
	// shows each snapshot (workers pane, status line).
	Live LiveFunc
}

// LiveFunc runs a live replay, sending live.Updates (see live.Config).
type LiveFunc func(ctx context.Context, tr *trace.Trace, updates chan<- live.Update) (*live.Result, error)

// TraceStats returns a Stats function over the loaded trace itself
// (trace.StatsOf): the file is not read a second time.
func TraceStats(tr *trace.Trace) func() (*trace.Stats, error) {
	return func() (*trace.Stats, error) { return trace.StatsOf(tr), nil }
}

// SampleConfig is the zero-argument start: the embedded Mooncake slice and
// the default scenarios.
func SampleConfig() (Config, error) {
	data, err := samples.ReadFile(samples.Mooncake)
	if err != nil {
		return Config{}, err
	}
	name := "sample:" + samples.Mooncake
	tr, err := trace.LoadBytes(name, data, trace.ReadOptions{})
	if err != nil {
		return Config{}, err
	}
	base := DefaultBase()
	entries, err := ParseEntries(DefaultSpecs, base)
	if err != nil {
		return Config{}, err
	}
	return Config{Trace: tr, Stats: TraceStats(tr), Scenarios: entries, Base: base,
		Command: "kvscope"}, nil
}
