package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
)

// Model is the explorer's root model: focus, layout, routing.
type Model struct {
	s      *shared
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	// streams are the streamed replays (Config.Stream) Close waits for.
	streams streamJobs
	// specs is the pane table; panes[i] is built from specs[i].
	specs []paneSpec
	panes []pane
	w, h  int
	lay   screenLayout
	zoom  bool
	// dialogs are the layers over the panes (form, go-to prompt, help,
	// curve), topmost last.
	dialogs []dialog
	// curves are the curve overlay's (overlay_curve.go), kept across
	// openings.
	curves   curveCache
	help     help.Model
	keys     globalKeys
	status   string
	statusOK bool
	// statusInput marks status as an input error (inputError).
	statusInput bool
	nextID      int
	// metricsBusy is true while a metrics computation runs.
	metricsBusy bool
	// exporting is true while a report is being written.
	exporting bool
	exported  string
	init      []tea.Cmd
	// ready is closed when the first round of replays has finished.
	ready    chan struct{}
	quitting bool
}

// New builds the explorer. Replays start with Init.
func New(cfg Config) (*Model, error) { return newModel(cfg, builtinPanes()) }

// newModel builds the explorer with the panes of specs (builtinPanes, or
// panesWith for a test's extra pane).
func newModel(cfg Config, specs []paneSpec) (*Model, error) {
	if err := checkPanes(specs); err != nil {
		return nil, err
	}
	if cfg.Trace == nil && cfg.Stream == nil {
		return nil, errors.New("tui: no trace")
	}
	if cfg.Stream != nil && (cfg.Trace != nil || cfg.Live != nil) {
		return nil, errors.New("tui: a streamed trace is opened alone: no loaded trace, no live workers")
	}
	if len(cfg.Scenarios) == 0 || len(cfg.Scenarios) > MaxScenarios {
		return nil, fmt.Errorf("tui: %d scenarios: want 1 to %d", len(cfg.Scenarios), MaxScenarios)
	}
	if cfg.ExportPath == "" {
		cfg.ExportPath = "kvscope-report.md"
	}
	if cfg.Exporter == nil {
		cfg.Exporter = ReportExporter{}
	}
	if !colorEnabled() {
		cfg.NoColor = true
	}
	dark := true
	if cfg.Dark != nil {
		dark = *cfg.Dark
	}
	st := newStyles(dark, !cfg.NoColor)
	s := &shared{st: &st, tr: cfg.Trace, speed: 3}
	if cfg.Stream != nil {
		s.name = cfg.Stream.Name
	}
	if tr := cfg.Trace; tr != nil {
		n := len(tr.Requests)
		s.traceArrivals = make([]time.Duration, n)
		s.traceReq = make([]int32, n)
		for i := range tr.Requests {
			s.traceReq[i] = int32(i)
		}
		slices.SortStableFunc(s.traceReq, func(a, b int32) int {
			return cmp.Compare(tr.Requests[a].Arrival, tr.Requests[b].Arrival)
		})
		for i, x := range s.traceReq {
			s.traceArrivals[i] = tr.Requests[x].Arrival
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{s: s, cfg: cfg, ctx: ctx, cancel: cancel, help: help.New(), keys: newGlobalKeys(len(specs)), ready: make(chan struct{})}
	m.help.Styles = helpStyles(dark, !cfg.NoColor)
	m.specs = specs
	m.panes = buildPanes(specs, s)
	for _, e := range cfg.Scenarios {
		m.init = append(m.init, m.addSlot(e))
	}
	s.updateSpan()
	s.cursor = s.span.Start
	m.resize(80, 24)
	return m, nil
}

// addSlot appends a scenario and returns the command streaming its replay.
func (m *Model) addSlot(e Entry) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	sl := &slot{id: m.nextID, entry: e, state: slotRunning, cancel: cancel}
	if m.s.tr != nil {
		sl.total = 2 * len(m.s.tr.Requests)
	}
	m.nextID++
	m.s.slots = append(m.s.slots, sl)
	m.s.version++
	return m.replay(ctx, e, sl)
}

// replay starts slot sl's replay of e: of the trace in memory, or a
// streamed one (Config.Stream).
func (m *Model) replay(ctx context.Context, e Entry, sl *slot) tea.Cmd {
	if m.cfg.Stream != nil {
		return streamReplayCmd(ctx, m.cfg.Stream, &m.streams, e, sl.id, sl.gen)
	}
	return replayCmd(ctx, m.s.tr, e, sl.id, sl.gen)
}

// restart replays slot i under a new scenario.
func (m *Model) restart(i int, e Entry) tea.Cmd {
	sl := m.s.slots[i]
	sl.cancel()
	ctx, cancel := context.WithCancel(m.ctx)
	sl.gen++
	sl.dropData()
	sl.entry, sl.state, sl.cancel, sl.view, sl.err, sl.done, sl.phase, sl.memoOK = e, slotRunning, cancel, nil, nil, 0, "", false
	m.s.version++
	m.s.updateSpan()
	return m.replay(ctx, e, sl)
}

func (m *Model) remove(i int) {
	m.s.slots[i].cancel()
	m.s.slots[i].dropData()
	m.s.slots = slices.Delete(m.s.slots, i, i+1)
	m.s.sel = min(m.s.sel, len(m.s.slots)-1)
	m.s.version++
	m.s.updateSpan()
}

func (m *Model) slotByID(id, gen int) *slot {
	for _, sl := range m.s.slots {
		if sl.id == id && sl.gen == gen {
			return sl
		}
	}
	return nil
}

// Init starts the replays, the statistics and the background query.
func (m *Model) Init() tea.Cmd {
	cmds := append([]tea.Cmd{}, m.init...)
	m.init = nil
	if m.cfg.Stats != nil {
		cmds = append(cmds, statsCmd(m.cfg.Stats))
	}
	if m.cfg.Dark == nil {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	if m.cfg.Live != nil {
		m.s.live = &liveState{running: true}
		cmds = append(cmds, liveCmd(m.ctx, m.s.tr, m.cfg.Live))
	}
	return tea.Batch(cmds...)
}

// Done reports whether every replay has finished (or failed).
func (m *Model) Done() bool {
	for _, sl := range m.s.slots {
		if sl.state == slotRunning {
			return false
		}
	}
	return true
}

// Ready is closed once the scenarios the explorer opened with have all
// finished replaying (or failed): a signal for embedders and tests, safe to
// wait on from another goroutine.
func (m *Model) Ready() <-chan struct{} { return m.ready }

// Close cancels the background replays.
func (m *Model) Close() {
	m.cancel()
	// Streamed replays cancelled above remove their own directories as
	// they stop: wait for them (the program exits after Close), and close
	// the runs of those that finished unseen.
	m.streams.stop()
	for _, sl := range m.s.slots {
		sl.dropData()
	}
	if sc := m.cfg.Stream; sc != nil && !sc.Keep {
		// What is left is the root, empty now unless a run could not be
		// removed; the root is ours (a temporary directory), so it goes
		// whole.
		os.RemoveAll(sc.Dir)
	}
}

func (m *Model) setStatus(s string, ok bool) { m.status, m.statusOK, m.statusInput = s, ok, false }

// inputError shows an error about what was just typed or pressed (a bad
// go-to value, a key that cannot apply): it clears on the next key or
// click, where a replay's failure stays until something replaces it.
func (m *Model) inputError(s string) { m.status, m.statusOK, m.statusInput = s, false, true }

func (m *Model) setTheme(dark bool) {
	st := newStyles(dark, !m.cfg.NoColor)
	*m.s.st = st
	m.help.Styles = helpStyles(dark, !m.cfg.NoColor)
	m.s.version++
}

func (m *Model) resize(w, h int) {
	m.w, m.h = w, h
	m.lay = layout(m.specs, w, h, m.s.focus, m.zoom)
	for p, r := range m.lay.Panes {
		m.panes[p].SetSize(r.W, r.H)
	}
	m.help.SetWidth(max(w-4, 10))
}

func (m *Model) relayout() { m.resize(m.w, m.h) }

func (m *Model) setFocus(p int) {
	m.s.focus = p
	m.relayout()
}

// Update routes messages. It never runs anything slow: replays, statistics,
// the metrics table at the cursor, the curve overlay's curves and exports
// are commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if c := m.refreshMetrics(); c != nil {
		cmd = tea.Batch(cmd, c)
	}
	if c := m.refreshCurve(); c != nil {
		cmd = tea.Batch(cmd, c)
	}
	return m, cmd
}

// refreshMetrics starts computing the metrics table at the cursor for
// every finished scenario whose table is for another instant. One
// computation runs at a time; when it lands and the cursor has moved on,
// the next starts, so fast scrubbing coalesces.
func (m *Model) refreshMetrics() tea.Cmd {
	if m.metricsBusy {
		return nil
	}
	type job struct {
		id, gen int
		sl      *slot
	}
	var jobs []job
	for _, sl := range m.s.slots {
		if sl.state == slotDone && (!sl.memoOK || sl.memoT != m.s.cursor) {
			jobs = append(jobs, job{sl.id, sl.gen, sl})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	m.metricsBusy = true
	t := m.s.cursor
	type input struct {
		id, gen int
		data    runData
		seed    uint64
	}
	in := make([]input, len(jobs))
	for i, j := range jobs {
		in[i] = input{j.id, j.gen, j.sl.data, j.sl.entry.Scenario.Seed}
	}
	return func() tea.Msg {
		out := metricsMsg{t: t}
		for _, x := range in {
			m, err := x.data.metricsAt(x.seed, t)
			out.res = append(out.res, metricsRes{id: x.id, gen: x.gen, m: m, err: err})
		}
		return out
	}
}

const playTick = 50 * time.Millisecond

func (m *Model) tick() tea.Cmd {
	seq := m.s.playSeq
	return tea.Tick(playTick, func(time.Time) tea.Msg { return playTickMsg{seq: seq} })
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	m.cancel()
	return tea.Quit
}

// View draws the frame: panes per the layout, the status line, and any
// overlay (help, what-if form, go-to prompt, curve).
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "kvscope · " + m.s.source()
	return v
}

// render composes the frame as a string of exactly h lines of w cells.
func (m *Model) render() string {
	w, h := m.w, m.h
	if w <= 0 || h <= 0 {
		return ""
	}
	if m.quitting {
		return ""
	}
	canvas := make([]string, h)
	type seg struct {
		x    int
		line string
	}
	rows := make([][]seg, h)
	for p, r := range m.lay.Panes {
		if r.empty() {
			continue
		}
		var lines []string
		if m.lay.Collapsed[p] {
			lines = []string{collapsedLine(m.s.st, p+1, m.specs[p].Name, m.panes[p].summary(), r.W)}
		} else {
			lines = strings.Split(m.panes[p].View(), "\n")
		}
		for i := 0; i < r.H && r.Y+i < h; i++ {
			l := ""
			if i < len(lines) {
				l = lines[i]
			}
			rows[r.Y+i] = append(rows[r.Y+i], seg{r.X, fitLine(l, r.W)})
		}
	}
	for y := range rows {
		slices.SortFunc(rows[y], func(a, b seg) int { return a.x - b.x })
		var b strings.Builder
		for _, sg := range rows[y] {
			b.WriteString(sg.line)
		}
		canvas[y] = fitLine(b.String(), w)
	}
	canvas[h-1] = m.statusLine()
	for _, d := range m.dialogs {
		d.draw(canvas, w, h)
	}
	return strings.Join(canvas, "\n")
}
