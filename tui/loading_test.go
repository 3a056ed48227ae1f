package tui

import (
	"context"
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/replay/trace"
)

// TestLoadingFrame: with Config.Load the first frame shows at once, says
// what is read, how much and the share, and the explorer takes over when
// the trace lands, its status line saying how long the load took.
func TestLoadingFrame(t *testing.T) {
	cfg := smallConfig(t, 50)
	tr := cfg.Trace
	cfg.Trace, cfg.Stats = nil, nil
	cfg.LoadName = "big.tar.xz"
	cfg.Load = func(context.Context, func(read, total int64)) (*trace.Trace, error) { return tr, nil }
	l, err := newLoader(cfg, builtinPanes())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	l.Update(winSize(100, 30))
	frame := ansi.Strip(l.View().Content)
	if !strings.Contains(frame, "kvscope · loading big.tar.xz") || !strings.Contains(frame, "reading… · ") {
		t.Fatalf("first frame:\n%s", frame)
	}
	if n := strings.Count(frame, "\n") + 1; n != 30 {
		t.Errorf("first frame has %d lines, want 30", n)
	}
	_, next := l.Update(loadProgressMsg{read: 1_000_000, total: 4_000_000, next: func() tea.Msg { return nil }})
	if next == nil {
		t.Error("progress did not ask for the next message")
	}
	frame = ansi.Strip(l.View().Content)
	if !strings.Contains(frame, "reading: 1.0 MB of 4.0 MB (25%)") || !strings.Contains(frame, "[==========") {
		t.Fatalf("progress frame:\n%s", frame)
	}
	// The clock redraws while loading, and asks for the next tick.
	if _, next := l.Update(loadClockMsg{}); next == nil {
		t.Error("the loading clock stopped")
	}
	_, cmd := l.Update(loadedMsg{tr: tr})
	if l.m == nil {
		t.Fatal("the explorer did not take over")
	}
	drive(t, l.m, cmd)
	if !l.m.Done() {
		t.Fatal("replays did not run after the load")
	}
	out := ansi.Strip(l.View().Content)
	for _, want := range []string{"1 Timeline", "4 Compare", "loaded big.tar.xz (1.0 MB) in", "50 requests"} {
		if !strings.Contains(out, want) {
			t.Errorf("explorer after the load lacks %q:\n%s", want, out)
		}
	}
	// A clock tick left over from the loading frame is dropped.
	if _, next := l.Update(loadClockMsg{}); next != nil {
		t.Error("the loading clock still ticks under the explorer")
	}
	// Keys now go to the explorer.
	l.Update(keyMsg("tab"))
	if l.m.s.focus != 1 {
		t.Errorf("tab after the load: focus %d, want 1", l.m.s.focus)
	}
}

// TestLoadCmd: the load's progress reaches the screen as messages, each
// carrying the command for the next, and the trace comes last.
func TestLoadCmd(t *testing.T) {
	tr := smallConfig(t, 10).Trace
	release := make(chan struct{})
	cmd := loadCmd(context.Background(), func(_ context.Context, progress func(read, total int64)) (*trace.Trace, error) {
		progress(10, 100)
		<-release
		return tr, nil
	})
	msg := cmd()
	p, ok := msg.(loadProgressMsg)
	if !ok || p.read != 10 || p.total != 100 || p.next == nil {
		t.Fatalf("first message %#v, want progress 10 of 100", msg)
	}
	close(release)
	if d, ok := p.next().(loadedMsg); !ok || d.tr != tr || d.err != nil {
		t.Fatalf("second message %#v, want the trace", d)
	}
}

// TestLoadingFails: a load error ends the program with that error; q
// leaves while loading.
func TestLoadingFails(t *testing.T) {
	cfg := smallConfig(t, 10)
	cfg.Trace = nil
	cfg.Load = func(context.Context, func(read, total int64)) (*trace.Trace, error) { return nil, nil }
	l, err := newLoader(cfg, builtinPanes())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	bad := errors.New("x.jsonl:3: input: not a number")
	_, cmd := l.Update(loadedMsg{err: bad})
	if _, quit := cmd().(tea.QuitMsg); !quit || l.err != bad || l.m != nil {
		t.Fatalf("load error: quit %v, err %v", quit, l.err)
	}
	l2, _ := newLoader(cfg, builtinPanes())
	t.Cleanup(l2.Close)
	if _, cmd := l2.Update(keyMsg("q")); cmd == nil {
		t.Fatal("q while loading did nothing")
	} else if _, quit := cmd().(tea.QuitMsg); !quit || l2.ctx.Err() == nil {
		t.Error("q while loading did not quit and cancel the load")
	}
}
