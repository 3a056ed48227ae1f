package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// shared is the state every pane reads: the trace, the scenarios, the
// cursor and the theme. Only the root Model writes it.
type shared struct {
	st       *styles
	tr       *trace.Trace
	stats    *trace.Stats
	statsErr error
	slots    []*slot
	sel      int
	focus    paneID
	cursor   time.Duration
	span     span
	// traceArrivals are the trace's arrival instants, sorted (stepping
	// before a replay finishes).
	traceArrivals []time.Duration
	traceReq      []int32
	playing       bool
	speed         int // index into speeds
	playSeq       int
	// version changes whenever chart data or styles change.
	version int
	// live is the attached workers' state (nil without --attach).
	live *liveState
}

// liveState is what the explorer knows of a live run.
type liveState struct {
	running bool
	snap    live.Snapshot
	hasSnap bool
	// records and failed count the finished requests seen so far.
	records, failed int
	res             *live.Result
	err             error
}

func (s *shared) selected() *slot {
	if s.sel >= 0 && s.sel < len(s.slots) {
		return s.slots[s.sel]
	}
	return nil
}

// scenTag is scenario i's letter, styled.
func (s *shared) scenTag(i int) string {
	return s.st.scenStyle(i).Render(string(rune('A' + i)))
}

func (s *shared) slotStatus(sl *slot) string {
	switch sl.state {
	case slotFailed:
		return s.st.errText.Render("failed: " + failureText(sl.err))
	case slotRunning:
		if sl.total > 0 {
			return s.st.warn.Render(fmt.Sprintf("replaying… %d%%", 100*sl.done/sl.total))
		}
		return s.st.warn.Render("replaying…")
	}
	return fmt.Sprintf("replayed in %.2f s", sl.elapsed.Seconds())
}

// metricsAt returns the slot's metrics table as last computed
// (analysis.MetricsAt, off the event loop: see refreshMetrics); exact is
// false while the figures are for an earlier cursor, ok false before the
// first computation.
func (s *shared) metricsAt(sl *slot) (m *analysis.RunMetrics, exact, ok bool) {
	if !sl.memoOK {
		return nil, false, false
	}
	return &sl.memo, sl.memoT == s.cursor, true
}

// progressStamp changes whenever a running replay reports progress.
func (s *shared) progressStamp() int {
	n := 0
	for _, sl := range s.slots {
		n += sl.done + int(sl.state)<<24
	}
	return n
}

// arrivals returns the sorted arrivals to step through and their requests.
func (s *shared) arrivals() ([]time.Duration, []int32) {
	if sl := s.selected(); sl != nil && sl.state == slotDone {
		return sl.view.arrivals, sl.view.reqAt
	}
	return s.traceArrivals, s.traceReq
}

// requestAtCursor is the last request that arrived at or before the
// cursor, or -1.
func (s *shared) requestAtCursor() int {
	ts, req := s.arrivals()
	i := lastAtOrBefore(ts, s.cursor)
	if i < 0 {
		return -1
	}
	return int(req[i])
}

func (s *shared) stepEvent(d int) {
	if sl := s.selected(); sl != nil && sl.state == slotDone && len(sl.run.Events) > 0 {
		for range max(d, -d) {
			s.cursor = stepEvent(sl.run.Events, s.cursor, d)
		}
		return
	}
	s.stepRequest(d)
}

func (s *shared) stepRequest(d int) {
	ts, _ := s.arrivals()
	for range max(d, -d) {
		s.cursor = stepTime(ts, s.cursor, d)
	}
}

func (s *shared) playState() string {
	if s.playing {
		return "▶ " + fmtSpeed(speeds[s.speed])
	}
	return "⏸ " + fmtSpeed(speeds[s.speed])
}

// updateSpan recomputes the time range from the finished runs (or the
// trace) and clamps the cursor.
func (s *shared) updateSpan() {
	sp := span{}
	first := true
	for _, sl := range s.slots {
		if sl.state != slotDone {
			continue
		}
		if first || sl.run.Start < sp.Start {
			sp.Start = sl.run.Start
		}
		if first || sl.run.End > sp.End {
			sp.End = sl.run.End
		}
		first = false
	}
	if first && len(s.traceArrivals) > 0 {
		sp = span{s.traceArrivals[0], s.traceArrivals[len(s.traceArrivals)-1]}
	}
	s.span = sp
	s.cursor = sp.clamp(s.cursor)
}

// pane is what the root needs from each pane.
type pane interface {
	SetSize(w, h int)
	View() string
	KeyMap() help.KeyMap
	handleKey(k string) bool
	wheel(d int)
	summary() string
}

// helpStyles are bubbles' help styles for the theme; without color, keys
// are bold and descriptions plain.
func helpStyles(dark, useColor bool) help.Styles {
	if useColor {
		return help.DefaultStyles(dark)
	}
	bold := lipgloss.NewStyle().Bold(true)
	return help.Styles{ShortKey: bold, FullKey: bold}
}

// Model is the explorer's root model: focus, layout, routing.
type Model struct {
	s      *shared
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	panes  [numPanes]pane
	w, h   int
	lay    screenLayout
	zoom   bool
	// showHelp shows the full key help over the panes.
	showHelp bool
	helpOff  int // first help line shown when the overlay scrolls
	help     help.Model
	keys     globalKeys
	form     *whatIfForm
	gotoIn   *lineInput
	status   string
	statusOK bool
	nextID   int
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
func New(cfg Config) (*Model, error) {
	if cfg.Trace == nil {
		return nil, errors.New("tui: no trace")
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
	n := len(cfg.Trace.Requests)
	s.traceArrivals = make([]time.Duration, n)
	s.traceReq = make([]int32, n)
	for i := range cfg.Trace.Requests {
		s.traceReq[i] = int32(i)
	}
	slices.SortStableFunc(s.traceReq, func(a, b int32) int {
		return cmp.Compare(cfg.Trace.Requests[a].Arrival, cfg.Trace.Requests[b].Arrival)
	})
	for i, x := range s.traceReq {
		s.traceArrivals[i] = cfg.Trace.Requests[x].Arrival
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{s: s, cfg: cfg, ctx: ctx, cancel: cancel, help: help.New(), keys: newGlobalKeys(), ready: make(chan struct{})}
	m.help.Styles = helpStyles(dark, !cfg.NoColor)
	m.panes = [numPanes]pane{
		paneTimeline: newTimelinePane(s),
		paneTrace:    newTracePane(s),
		paneWorkers:  newWorkersPane(s),
		paneCompare:  newComparePane(s),
		paneBounds:   newBoundsPane(s),
		paneRequest:  newRequestPane(s),
	}
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
	sl := &slot{id: m.nextID, entry: e, state: slotRunning, cancel: cancel, total: len(m.s.tr.Requests)}
	m.nextID++
	m.s.slots = append(m.s.slots, sl)
	m.s.version++
	return replayCmd(ctx, m.s.tr, e, sl.id, sl.gen)
}

// restart replays slot i under a new scenario.
func (m *Model) restart(i int, e Entry) tea.Cmd {
	sl := m.s.slots[i]
	sl.cancel()
	ctx, cancel := context.WithCancel(m.ctx)
	sl.gen++
	sl.entry, sl.state, sl.cancel, sl.run, sl.view, sl.err, sl.done, sl.memoOK = e, slotRunning, cancel, nil, nil, nil, 0, false
	m.s.version++
	m.s.updateSpan()
	return replayCmd(ctx, m.s.tr, e, sl.id, sl.gen)
}

func (m *Model) remove(i int) {
	m.s.slots[i].cancel()
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
		cmds = append(cmds, liveCmd(m.ctx, m.cfg.Live))
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
func (m *Model) Close() { m.cancel() }

func (m *Model) setStatus(s string, ok bool) { m.status, m.statusOK = s, ok }

func (m *Model) setTheme(dark bool) {
	st := newStyles(dark, !m.cfg.NoColor)
	*m.s.st = st
	m.help.Styles = helpStyles(dark, !m.cfg.NoColor)
	m.s.version++
}

func (m *Model) resize(w, h int) {
	m.w, m.h = w, h
	m.lay = layout(w, h, m.s.focus, m.zoom)
	for p := range numPanes {
		r := m.lay.Panes[p]
		m.panes[p].SetSize(r.W, r.H)
	}
	m.help.SetWidth(max(w-4, 10))
}

func (m *Model) relayout() { m.resize(m.w, m.h) }

func (m *Model) setFocus(p paneID) {
	m.s.focus = p
	m.relayout()
}

// Update routes messages. It never runs anything slow: replays, statistics,
// the metrics table at the cursor and exports are commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := m.update(msg)
	if c := m.refreshMetrics(); c != nil {
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
		run     *sim.Run
		seed    uint64
	}
	in := make([]input, len(jobs))
	for i, j := range jobs {
		in[i] = input{j.id, j.gen, j.sl.run, j.sl.entry.Scenario.Seed}
	}
	return func() tea.Msg {
		out := metricsMsg{t: t}
		for _, x := range in {
			out.res = append(out.res, metricsRes{id: x.id, gen: x.gen, m: analysis.MetricsAt(x.run, x.seed, t)})
		}
		return out
	}
}

func (m *Model) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case metricsMsg:
		m.metricsBusy = false
		for _, r := range msg.res {
			if sl := m.slotByID(r.id, r.gen); sl != nil && sl.state == slotDone {
				sl.memo, sl.memoT, sl.memoOK = r.m, msg.t, true
			}
		}
		return m, nil
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case tea.BackgroundColorMsg:
		if m.cfg.Dark == nil {
			m.setTheme(msg.IsDark())
		}
		return m, nil
	case progressMsg:
		if sl := m.slotByID(msg.id, msg.gen); sl != nil && sl.state == slotRunning {
			sl.done, sl.total = msg.done, msg.total
			m.s.version++
		}
		return m, msg.next
	case replayDoneMsg:
		sl := m.slotByID(msg.id, msg.gen)
		if sl == nil {
			return m, nil // removed or edited meanwhile
		}
		sl.elapsed = msg.elapsed
		tag := string(rune('A' + slices.Index(m.s.slots, sl)))
		if msg.err != nil {
			sl.state, sl.err = slotFailed, msg.err
			m.setStatus(tag+" failed: "+failureText(msg.err), false)
		} else {
			sl.state, sl.run, sl.view, sl.done = slotDone, msg.run, msg.view, sl.total
			if m.status != "" && strings.HasPrefix(m.status, "replaying "+tag) {
				m.setStatus(fmt.Sprintf("%s replayed in %.2f s", tag, msg.elapsed.Seconds()), true)
			}
		}
		sl.memoOK = false
		if m.Done() {
			select {
			case <-m.ready:
			default:
				close(m.ready)
			}
		}
		wasStart := m.s.cursor == m.s.span.Start
		m.s.version++
		m.s.updateSpan()
		if wasStart {
			m.s.cursor = m.s.span.Start
		}
		return m, nil
	case statsMsg:
		m.s.stats, m.s.statsErr = msg.stats, msg.err
		m.s.version++
		return m, nil
	case exportDoneMsg:
		m.exporting = false
		if msg.err != nil {
			m.setStatus("report: "+msg.err.Error(), false)
		} else {
			m.exported = msg.path
			m.setStatus("wrote "+msg.path, true)
		}
		return m, nil
	case playTickMsg:
		if !m.s.playing || msg.seq != m.s.playSeq {
			return m, nil
		}
		var end bool
		m.s.cursor, end = playStep(m.s.span, m.s.cursor, speeds[m.s.speed], playTick)
		if end {
			m.s.playing = false
			return m, nil
		}
		return m, m.tick()
	case liveMsg:
		if l := m.s.live; l != nil {
			if msg.u.Snapshot != nil {
				l.snap = *msg.u.Snapshot
				l.hasSnap = true
			}
			if r := msg.u.Record; r != nil {
				l.records++
				if r.Status != live.Completed {
					l.failed++
				}
			}
		}
		return m, msg.next
	case liveDoneMsg:
		if l := m.s.live; l != nil {
			l.running, l.res, l.err = false, msg.res, msg.err
			switch r := msg.res; {
			case r != nil:
				// A finished run, or an interrupted one (its error says it
				// was cancelled; the result holds what was sent).
				s := fmt.Sprintf("live: %d requests: %d completed, %d failed, %d timed out", r.Requests, r.Completed, r.Failed, r.TimedOut)
				if r.Interrupted {
					s += fmt.Sprintf(", %d cancelled (interrupted)", r.Cancelled)
				}
				l.err = nil
				m.setStatus(s, r.Completed > 0 && !r.Interrupted)
			case msg.err != nil:
				m.setStatus("live failed: "+msg.err.Error(), false)
			}
		}
		return m, nil
	case tea.MouseWheelMsg:
		mo := msg.Mouse()
		if p, ok := m.lay.paneAt(mo.X, mo.Y); ok && m.form == nil {
			d := 0
			switch mo.Button {
			case tea.MouseWheelUp:
				d = -1
			case tea.MouseWheelDown:
				d = 1
			}
			m.panes[p].wheel(d)
		}
		return m, nil
	case tea.MouseClickMsg:
		mo := msg.Mouse()
		if p, ok := m.lay.paneAt(mo.X, mo.Y); ok && m.form == nil && mo.Button == tea.MouseLeft {
			m.setFocus(p)
		}
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	if m.form != nil {
		_, _, cmd := m.form.update(msg)
		return m, cmd
	}
	if m.gotoIn != nil {
		m.gotoIn.Update(msg)
	}
	return m, nil
}

const playTick = 50 * time.Millisecond

func (m *Model) tick() tea.Cmd {
	seq := m.s.playSeq
	return tea.Tick(playTick, func(time.Time) tea.Msg { return playTickMsg{seq: seq} })
}

func (m *Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := msg.String()
	ks := keyString(k)
	if k == "ctrl+c" {
		return m.quit()
	}
	if m.form != nil {
		res, e, cmd := m.form.update(msg)
		switch res {
		case formCancel:
			m.form = nil
		case formSubmit:
			i := m.form.editing
			m.form = nil
			if i >= 0 && i < len(m.s.slots) {
				m.s.sel = i
				m.setStatus("replaying "+string(rune('A'+i))+": "+e.Label, true)
				return m, m.restart(i, e)
			}
			m.s.sel = len(m.s.slots)
			m.setStatus("replaying "+string(rune('A'+m.s.sel))+": "+e.Label, true)
			return m, m.addSlot(e)
		}
		return m, cmd
	}
	if m.gotoIn != nil {
		switch k {
		case "esc":
			m.gotoIn = nil
		case "enter":
			t, err := parseGoto(m.gotoIn.Value(), m.s.span)
			if err != nil {
				m.setStatus("go to: "+err.Error(), false)
			} else {
				m.s.cursor = t
				m.setStatus("", true)
			}
			m.gotoIn = nil
		default:
			m.gotoIn.Update(msg)
		}
		return m, nil
	}
	if m.showHelp && (k == "esc" || key.Matches(ks, m.keys.Help)) {
		m.showHelp = false
		return m, nil
	}
	if m.showHelp {
		// Help taller than the screen scrolls; otherwise keys pass through.
		if over := len(m.helpLines()) - m.helpRows(); over > 0 {
			sk := newScrollKeys()
			switch {
			case key.Matches(ks, sk.Up):
				m.helpOff = max(min(m.helpOff, over)-1, 0)
				return m, nil
			case key.Matches(ks, sk.Down):
				m.helpOff = min(m.helpOff+1, over)
				return m, nil
			}
		}
	}
	g := m.keys
	s := m.s
	switch {
	case key.Matches(ks, g.Quit):
		return m.quit()
	case key.Matches(ks, g.Help):
		m.showHelp = !m.showHelp
		m.helpOff = 0
	case key.Matches(ks, g.Next):
		m.setFocus(cycleFocus(s.focus, 1))
	case key.Matches(ks, g.Prev):
		m.setFocus(cycleFocus(s.focus, -1))
	case key.Matches(ks, g.Pick):
		m.setFocus(paneID(k[0] - '1'))
	case key.Matches(ks, g.Zoom):
		m.zoom = !m.zoom
		m.relayout()
	case key.Matches(ks, g.EvNext):
		s.stepEvent(1)
	case key.Matches(ks, g.EvPrev):
		s.stepEvent(-1)
	case key.Matches(ks, g.ReqNext):
		s.stepRequest(1)
	case key.Matches(ks, g.ReqPrev):
		s.stepRequest(-1)
	case key.Matches(ks, g.Fwd1):
		s.cursor = s.span.jump(s.cursor, 0.01)
	case key.Matches(ks, g.Back1):
		s.cursor = s.span.jump(s.cursor, -0.01)
	case key.Matches(ks, g.Fwd10):
		s.cursor = s.span.jump(s.cursor, 0.10)
	case key.Matches(ks, g.Back10):
		s.cursor = s.span.jump(s.cursor, -0.10)
	case key.Matches(ks, g.Home):
		s.cursor = s.span.Start
	case key.Matches(ks, g.End):
		s.cursor = s.span.End
	case key.Matches(ks, g.Goto):
		in := newLineInput(s.st, "go to: ", "90s, 1m30s, 12.5 (seconds) or 25%", "", 30)
		in.focused = true
		m.gotoIn = &in
	case key.Matches(ks, g.Play):
		s.playing = !s.playing
		s.playSeq++
		if s.playing {
			if s.cursor >= s.span.End {
				s.cursor = s.span.Start
			}
			return m, m.tick()
		}
	case key.Matches(ks, g.Faster):
		s.speed = min(s.speed+1, len(speeds)-1)
	case key.Matches(ks, g.Slower):
		s.speed = max(s.speed-1, 0)
	case key.Matches(ks, g.ScenNext):
		s.sel = (s.sel + 1) % len(s.slots)
	case key.Matches(ks, g.ScenPrev):
		s.sel = (s.sel - 1 + len(s.slots)) % len(s.slots)
	case key.Matches(ks, g.Add):
		if len(s.slots) >= MaxScenarios {
			m.setStatus(fmt.Sprintf("at most %d scenarios: remove one (x) or edit one (e)", MaxScenarios), false)
			return m, nil
		}
		from := m.cfg.Base
		if sl := s.selected(); sl != nil {
			from = sl.entry.Scenario
		}
		m.form = newWhatIfForm(s.st, m.cfg.Base, from, -1)
	case key.Matches(ks, g.Edit):
		if sl := s.selected(); sl != nil {
			m.form = newWhatIfForm(s.st, m.cfg.Base, sl.entry.Scenario, s.sel)
		}
	case key.Matches(ks, g.Del):
		if len(s.slots) <= 1 {
			m.setStatus("the last scenario cannot be removed", false)
			return m, nil
		}
		lab := s.slots[s.sel].label()
		m.remove(s.sel)
		m.setStatus("removed "+lab, true)
	case key.Matches(ks, g.Write):
		return m, m.export()
	default:
		m.panes[s.focus].handleKey(k)
	}
	return m, nil
}

func (m *Model) quit() (tea.Model, tea.Cmd) {
	m.quitting = true
	m.cancel()
	return m, tea.Quit
}

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

// View draws the frame: panes per the layout, the status line, and any
// overlay (help, what-if form, go-to prompt).
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "kvscope · " + m.s.tr.Info.Source
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
	for p := range numPanes {
		r := m.lay.Panes[p]
		if r.empty() {
			continue
		}
		var lines []string
		if m.lay.Collapsed[p] {
			lines = []string{collapsedLine(m.s.st, int(p)+1, p.String(), m.panes[p].summary(), r.W)}
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
	switch {
	case m.form != nil:
		f := m.form.View(w)
		fw := ansi.StringWidth(strings.SplitN(f, "\n", 2)[0])
		place(canvas, f, max((w-fw)/2, 0), max((h-strings.Count(f, "\n")-1)/2, 0), w)
	case m.showHelp:
		hv := m.helpView()
		hw := ansi.StringWidth(strings.SplitN(hv, "\n", 2)[0])
		place(canvas, hv, max((w-hw)/2, 0), max((h-strings.Count(hv, "\n")-1)/2, 0), w)
	case m.gotoIn != nil:
		canvas[h-1] = fitLine(m.gotoIn.View()+m.s.st.dim.Render("   enter go · esc cancel"), w)
	}
	return strings.Join(canvas, "\n")
}

// helpGroupTitles name the global key groups (FullHelp's order) when the
// overlay is too narrow for them side by side and they wrap into rows.
var helpGroupTitles = []string{"general", "step", "time", "what-if & export"}

const helpMouse = "mouse: wheel scrolls (scrubs over the timeline), click focuses"
const helpClose = "? or esc closes"

// helpLines is the help overlay's content: the global keys, the focused
// pane's (or the form's), and a mouse note. The wide layout puts each
// section's groups side by side; when that is wider or taller than the
// screen, the groups become titled blocks that wrap into rows.
func (m *Model) helpLines() []string {
	st := m.s.st
	hm := m.help
	hm.SetWidth(0) // measure unclipped: nothing may end in "…"
	var pm help.KeyMap = m.panes[m.s.focus].KeyMap()
	title := m.s.focus.String() + " pane"
	if m.form != nil {
		pm, title = m.form.KeyMap(), "What-if form"
	}
	avail := max(m.w-4, 10) // the box's border and a margin of two
	var lines []string
	lines = append(lines, st.bold.Render("Global keys"), "")
	lines = append(lines, strings.Split(hm.FullHelpView(m.keys.FullHelp()), "\n")...)
	lines = append(lines, "", st.bold.Render(title+" keys"), "")
	lines = append(lines, strings.Split(hm.FullHelpView(pm.FullHelp()), "\n")...)
	lines = append(lines, "", st.dim.Render(helpMouse+" · "+helpClose))
	if blockWidth(lines) <= avail && len(lines)+2 <= m.h-1 {
		return lines
	}
	// Wrapped: every group a block under its title, packed left to right.
	type block struct {
		lines []string
		w     int
	}
	var blocks []block
	add := func(head string, groups [][]key.Binding) {
		l := append([]string{head}, strings.Split(hm.FullHelpView(groups), "\n")...)
		blocks = append(blocks, block{l, blockWidth(l)})
	}
	for i, g := range m.keys.FullHelp() {
		head := ""
		if i < len(helpGroupTitles) {
			head = st.dim.Render(helpGroupTitles[i])
		}
		add(head, [][]key.Binding{g})
	}
	add(st.bold.Render(title+" keys"), pm.FullHelp())
	lines = []string{st.bold.Render("Global keys")}
	const sep = "    "
	for i := 0; i < len(blocks); {
		row := []block{blocks[i]}
		rw := blocks[i].w
		for i++; i < len(blocks) && rw+len(sep)+blocks[i].w <= avail; i++ {
			row = append(row, blocks[i])
			rw += len(sep) + blocks[i].w
		}
		h := 0
		for _, b := range row {
			h = max(h, len(b.lines))
		}
		if len(lines) > 1 {
			lines = append(lines, "")
		}
		for y := range h {
			var s strings.Builder
			for j, b := range row {
				l := ""
				if y < len(b.lines) {
					l = b.lines[y]
				}
				if j < len(row)-1 {
					l += strings.Repeat(" ", b.w-ansi.StringWidth(l)) + sep
				}
				s.WriteString(l)
			}
			lines = append(lines, s.String())
		}
	}
	lines = append(lines, "")
	if ansi.StringWidth(helpMouse+" · "+helpClose) <= avail {
		lines = append(lines, st.dim.Render(helpMouse+" · "+helpClose))
	} else {
		lines = append(lines, st.dim.Render(helpMouse), st.dim.Render(helpClose))
	}
	return lines
}

// blockWidth is the width of the widest line.
func blockWidth(lines []string) int {
	w := 0
	for _, l := range lines {
		w = max(w, ansi.StringWidth(l))
	}
	return w
}

// helpRows is how many content lines the help overlay shows at once.
func (m *Model) helpRows() int { return max(m.h-3, 0) }

// helpView draws the help overlay; content taller than the screen scrolls
// (↑/↓, j/k) and the top edge says so.
func (m *Model) helpView() string {
	lines := m.helpLines()
	bw := min(blockWidth(lines)+4, m.w)
	rows := min(len(lines), m.helpRows())
	off := max(0, min(m.helpOff, len(lines)-rows))
	note := ""
	if len(lines) > rows {
		note = fmt.Sprintf("↑/↓ %d–%d of %d", off+1, off+rows, len(lines))
	}
	return box(m.s.st, "Help", note, true, lines, bw, rows+2, off)
}

func (m *Model) statusLine() string {
	st := m.s.st
	var left []string
	left = append(left, st.statusKey.Render(m.s.focus.String()))
	for i, sl := range m.s.slots {
		tag := m.s.scenTag(i)
		if i == m.s.sel {
			tag = "[" + tag + "]"
		}
		switch sl.state {
		case slotRunning:
			pct := 0
			if sl.total > 0 {
				pct = 100 * sl.done / sl.total
			}
			left = append(left, tag+st.warn.Render(fmt.Sprintf(" %d%%", pct)))
		case slotFailed:
			left = append(left, tag+st.errText.Render(" failed"))
		default:
			left = append(left, tag+st.good.Render(" ✓"))
		}
	}
	if l := m.s.live; l != nil {
		switch {
		case l.running && l.hasSnap:
			left = append(left, st.warn.Render(fmt.Sprintf("live %d/%d", l.snap.Finished, l.snap.Total)))
		case l.running:
			left = append(left, st.warn.Render("live…"))
		case l.err != nil:
			left = append(left, st.errText.Render("live failed"))
		case l.res != nil && l.res.Interrupted:
			left = append(left, st.warn.Render("live interrupted"))
		default:
			left = append(left, st.good.Render("live ✓"))
		}
	}
	msg := m.status
	if msg != "" {
		if m.statusOK {
			msg = st.good.Render(msg)
		} else {
			msg = st.errText.Render(msg)
		}
	}
	l := st.status.Render(strings.Join(left, "  "))
	if msg != "" {
		l += "  " + msg
	}
	lw := ansi.StringWidth(l)
	// The longest key reminder that fits; narrower ones keep the what-if
	// and report keys as long as there is room, and ? leads to the rest.
	g := m.keys
	for _, keys := range [][]key.Binding{
		g.ShortHelp(),
		{g.Help, g.Next, g.Add, g.Write, g.Quit},
		{g.Help, g.Add, g.Write, g.Quit},
		{g.Help, terse(g.Add, "what-if"), terse(g.Write, "report"), g.Quit},
		{g.Help, g.Next, g.Quit},
		{g.Help},
	} {
		right := m.help.ShortHelpView(keys)
		if rw := ansi.StringWidth(right); lw+rw+2 <= m.w {
			return l + strings.Repeat(" ", m.w-lw-rw) + right
		}
	}
	return fitLine(l, m.w)
}

// terse is b with a shorter description, for a narrow status line.
func terse(b key.Binding, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(b.Keys()...), key.WithHelp(b.Help().Key, desc))
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
	var b strings.Builder
	b.WriteString("kvscope compare " + shellQuote(source))
	for _, e := range entries {
		spec := e.Scenario.String()
		if c, err := sim.Resolve(e.Scenario); err == nil {
			spec = c
		}
		b.WriteString(" -s " + shellQuote(spec))
	}
	b.WriteString(" --seeds 1 -o " + shellQuote(out))
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// characters.
func shellQuote(s string) string {
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=,+@%", c)) {
			safe = false
			break
		}
	}
	if safe && s != "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
