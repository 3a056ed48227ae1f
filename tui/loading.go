package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/trace"
)

// LoadFunc loads the explorer's trace in the background (Config.Load). It
// calls progress, from any goroutine and as often as it likes, with the
// bytes of the input read so far and the input's size (0: unknown).
type LoadFunc func(ctx context.Context, progress func(read, total int64)) (*trace.Trace, error)

// loader is the program's model while the trace loads: the first frame
// shows at once, with what has been read and the rate, and the explorer
// (a *Model over the loaded trace) takes over when the load lands. A big
// archive takes seconds to read; a blank screen for that long reads as a
// hang.
type loader struct {
	cfg    Config
	specs  []paneSpec
	ctx    context.Context
	cancel context.CancelFunc
	st     styles
	w, h   int
	start  time.Time
	read   int64
	total  int64
	m      *Model // the explorer, once loaded
	err    error  // the load's error: the program quits with it
}

type (
	loadProgressMsg struct {
		read, total int64
		next        tea.Cmd
	}
	loadedMsg struct {
		tr      *trace.Trace
		err     error
		elapsed time.Duration
	}
	// loadClockMsg redraws the loading frame's clock (a directory of
	// session files reports no bytes; the clock still moves).
	loadClockMsg struct{}
)

// loadClock is how often the loading frame's elapsed time is redrawn.
const loadClock = 500 * time.Millisecond

func loadClockCmd() tea.Cmd {
	return tea.Tick(loadClock, func(time.Time) tea.Msg { return loadClockMsg{} })
}

func newLoader(cfg Config, specs []paneSpec) (*loader, error) {
	if err := checkPanes(specs); err != nil {
		return nil, err
	}
	if len(cfg.Scenarios) == 0 || len(cfg.Scenarios) > MaxScenarios {
		return nil, fmt.Errorf("tui: %d scenarios: want 1 to %d", len(cfg.Scenarios), MaxScenarios)
	}
	dark := cfg.Dark == nil || *cfg.Dark
	ctx, cancel := context.WithCancel(context.Background())
	return &loader{cfg: cfg, specs: specs, ctx: ctx, cancel: cancel, st: newStyles(dark, !cfg.NoColor && colorEnabled()),
		w: 80, h: 24, start: time.Now()}, nil
}

// Init starts the load.
func (l *loader) Init() tea.Cmd { return tea.Batch(loadCmd(l.ctx, l.cfg.Load), loadClockCmd()) }

// loadCmd runs load in a goroutine and streams its progress (each message
// carrying the command for the next; a progress report the screen has not
// taken yet is replaced, not queued) and then loadedMsg.
func loadCmd(ctx context.Context, load LoadFunc) tea.Cmd {
	ch := make(chan tea.Msg, 1)
	go func() {
		start := time.Now()
		tr, err := load(ctx, func(read, total int64) { offer(ch, loadProgressMsg{read: read, total: total}) })
		finish(ch, loadedMsg{tr: tr, err: err, elapsed: time.Since(start)})
	}()
	return listen(ch, func(m tea.Msg, next tea.Cmd) tea.Msg {
		if p, isP := m.(loadProgressMsg); isP {
			p.next = next
			return p
		}
		return m
	})
}

func (l *loader) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if l.m != nil {
		if _, stale := msg.(loadClockMsg); stale {
			return l, nil
		}
		_, cmd := l.m.Update(msg)
		return l, cmd
	}
	switch msg := msg.(type) {
	case loadClockMsg:
		return l, loadClockCmd()
	case tea.WindowSizeMsg:
		l.w, l.h = msg.Width, msg.Height
	case tea.KeyPressMsg:
		if s := msg.String(); s == "ctrl+c" || s == "q" || s == "esc" {
			l.cancel()
			return l, tea.Quit
		}
	case loadProgressMsg:
		l.read, l.total = msg.read, msg.total
		return l, msg.next
	case loadedMsg:
		if msg.err != nil {
			l.err = msg.err
			return l, tea.Quit
		}
		cfg := l.cfg
		cfg.Trace = msg.tr
		if cfg.Stats == nil {
			cfg.Stats = TraceStats(msg.tr)
		}
		m, err := newModel(cfg, l.specs)
		if err != nil {
			l.err = err
			return l, tea.Quit
		}
		l.m = m
		m.resize(l.w, l.h)
		size := ""
		if l.read > 0 {
			size = " (" + progress.Size(l.read) + ")"
		}
		m.setStatus(fmt.Sprintf("loaded %s%s in %.1f s", loadName(cfg), size, msg.elapsed.Seconds()), true)
		return l, m.Init()
	}
	return l, nil
}

// loadName is what the loading frame calls the input.
func loadName(cfg Config) string {
	if cfg.LoadName != "" {
		return cfg.LoadName
	}
	return "the trace"
}

func (l *loader) View() tea.View {
	if l.m != nil {
		return l.m.View()
	}
	v := tea.NewView(l.render())
	v.AltScreen = true
	v.WindowTitle = "kvscope · loading " + loadName(l.cfg)
	return v
}

// render is the loading frame: what is read, how much, how fast, and how
// to leave, in the middle of the screen.
func (l *loader) render() string {
	w, h := l.w, l.h
	if w <= 0 || h <= 0 {
		return ""
	}
	el := time.Since(l.start)
	lines := []string{l.st.bold.Render("kvscope · loading " + loadName(l.cfg))}
	read := "reading…"
	if l.read > 0 || l.total > 0 {
		read = "reading: " + progress.Size(l.read)
	}
	if l.total > 0 {
		read += " of " + progress.Size(l.total) + progress.Percent(l.read, l.total)
	}
	if r := progress.Rate(float64(l.read), el, "B"); r != "" && l.read > 0 {
		read += " · " + r
	}
	read += fmt.Sprintf(" · %.1f s", el.Seconds())
	lines = append(lines, "", read)
	if l.total > 0 {
		const width = 40
		n := int(min(l.read, l.total) * width / l.total)
		lines = append(lines, "["+strings.Repeat("=", n)+strings.Repeat(" ", width-n)+"]")
		if l.read >= l.total {
			lines = append(lines, "", l.st.dim.Render("read: building the requests"))
		}
	}
	lines = append(lines, "", l.st.dim.Render("q quit"))
	canvas := make([]string, h)
	top := max(0, (h-len(lines))/2)
	for i := range canvas {
		s := ""
		if j := i - top; j >= 0 && j < len(lines) {
			s = lines[j]
			s = strings.Repeat(" ", max(0, (w-ansi.StringWidth(s))/2)) + s
		}
		canvas[i] = fitLine(s, w)
	}
	return strings.Join(canvas, "\n")
}

// Close cancels the load and, once open, the explorer's work.
func (l *loader) Close() {
	l.cancel()
	if l.m != nil {
		l.m.Close()
	}
}
