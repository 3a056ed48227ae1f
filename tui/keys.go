package tui

import (
	"fmt"
	"slices"
	"strconv"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// globalKeys work whatever pane has focus.
type globalKeys struct {
	Next, Prev, Pick, Zoom, Help, Quit        key.Binding
	EvNext, EvPrev, ReqNext, ReqPrev          key.Binding
	Fwd1, Back1, Fwd10, Back10, Home, End     key.Binding
	Goto, Play, Faster, Slower                key.Binding
	ScenNext, ScenPrev, Add, Edit, Del, Write key.Binding
	Curve, Bypass                             key.Binding
}

// newGlobalKeys builds the global key map for n panes (the digit keys pick
// them).
func newGlobalKeys(n int) globalKeys {
	b := func(keys []string, k, d string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, d))
	}
	var digits []string
	for i := range n {
		digits = append(digits, strconv.Itoa(i+1))
	}
	return globalKeys{
		Next:     b([]string{"tab"}, "tab", "next pane"),
		Prev:     b([]string{"shift+tab"}, "shift+tab", "previous pane"),
		Pick:     b(digits, "1-"+digits[len(digits)-1], "focus pane"),
		Zoom:     b([]string{"z"}, "z", "zoom pane"),
		Help:     b([]string{"?"}, "?", "help"),
		Quit:     b([]string{"q", "ctrl+c"}, "q", "quit"),
		EvNext:   b([]string{"right", "l"}, "→/l", "next event"),
		EvPrev:   b([]string{"left", "h"}, "←/h", "previous event"),
		ReqNext:  b([]string{"."}, ".", "next request"),
		ReqPrev:  b([]string{","}, ",", "previous request"),
		Fwd1:     b([]string{"f"}, "f", "+1%"),
		Back1:    b([]string{"b"}, "b", "−1%"),
		Fwd10:    b([]string{"pgdown", "F"}, "pgdn/F", "+10%"),
		Back10:   b([]string{"pgup", "B"}, "pgup/B", "−10%"),
		Home:     b([]string{"home"}, "home", "start"),
		End:      b([]string{"end"}, "end", "end"),
		Goto:     b([]string{"g"}, "g", "go to time"),
		Play:     b([]string{"space"}, "space", "play/pause"),
		Faster:   b([]string{"+", "="}, "+", "faster"),
		Slower:   b([]string{"-"}, "-", "slower"),
		ScenNext: b([]string{"]"}, "]", "next scenario"),
		ScenPrev: b([]string{"["}, "[", "previous scenario"),
		Add:      b([]string{"a"}, "a", "add scenario"),
		Edit:     b([]string{"e"}, "e", "edit scenario"),
		Del:      b([]string{"x"}, "x", "remove scenario"),
		Write:    b([]string{"w"}, "w", "write report"),
		Curve:    b([]string{"C"}, "C", "hit-ratio curve"),
		Bypass:   b([]string{"o"}, "o", "oversize→bypass rerun"),
	}
}

// ShortHelp is the status line's reminder.
func (k globalKeys) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.Next, k.EvNext, k.Play, k.Add, k.Write, k.Quit}
}

// FullHelp groups every global key by topic.
func (k globalKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Prev, k.Pick, k.Zoom, k.Help, k.Curve, k.Bypass, k.Quit},
		{k.EvNext, k.EvPrev, k.ReqNext, k.ReqPrev, k.Fwd1, k.Back1},
		{k.Fwd10, k.Back10, k.Home, k.End, k.Goto, k.Play, k.Faster, k.Slower},
		{k.ScenNext, k.ScenPrev, k.Add, k.Edit, k.Del, k.Write},
	}
}

// scrollKeys are the keys of a scrollable pane.
type scrollKeys struct{ Up, Down, Top key.Binding }

func newScrollKeys() scrollKeys {
	return scrollKeys{
		Up:   key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll up")),
		Down: key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll down")),
		Top:  key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "scroll to top")),
	}
}

// scroller is the scroll state shared by panes that can scroll.
type scroller struct {
	keys scrollKeys
	off  int
}

// handle applies a scroll key; it reports whether the key was one.
func (s *scroller) handle(k tea.KeyPressMsg) bool {
	switch {
	case key.Matches(k, s.keys.Up):
		s.off = max(s.off-1, 0)
	case key.Matches(k, s.keys.Down):
		s.off++
	case key.Matches(k, s.keys.Top):
		s.off = 0
	default:
		return false
	}
	return true
}

// clampTo keeps the offset inside content of n lines shown h at a time.
func (s *scroller) clampTo(n, h int) { s.off = max(0, min(s.off, n-h)) }

// scrollBody is what every scrolling pane holds: the shared state, its
// size and a scroller. Embedded, it gives the pane SetSize, wheel and, for a
// pane whose only keys are the scroll keys (Workers, Request, Bounds),
// KeyMap and Update; a pane with keys of its own defines those two.
type scrollBody struct {
	s      *shared
	w, h   int
	scroll scroller
}

func newScrollBody(s *shared) scrollBody {
	return scrollBody{s: s, scroll: scroller{keys: newScrollKeys()}}
}

func (p *scrollBody) SetSize(w, h int)                 { p.w, p.h = w, h }
func (p *scrollBody) KeyMap() help.KeyMap              { return p.scroll.keys }
func (p *scrollBody) Update(k tea.KeyPressMsg) tea.Cmd { p.scroll.handle(k); return nil }
func (p *scrollBody) wheel(d int)                      { p.scroll.off = max(p.scroll.off+d, 0) }

// globalKey applies a global key; handled is false for a key the global
// map does not hold (the focused pane gets it).
func (m *Model) globalKey(msg tea.KeyPressMsg) (handled bool, cmd tea.Cmd) {
	g := m.keys
	s := m.s
	switch {
	case key.Matches(msg, g.Quit):
		return true, m.quit()
	case key.Matches(msg, g.Help):
		m.push(&helpDialog{m: m})
	case key.Matches(msg, g.Next):
		m.setFocus(cycleFocus(s.focus, 1, len(m.panes)))
	case key.Matches(msg, g.Prev):
		m.setFocus(cycleFocus(s.focus, -1, len(m.panes)))
	case key.Matches(msg, g.Pick):
		m.setFocus(int(msg.String()[0] - '1'))
	case key.Matches(msg, g.Zoom):
		m.zoom = !m.zoom
		m.relayout()
	case key.Matches(msg, g.EvNext):
		s.stepEvent(1)
	case key.Matches(msg, g.EvPrev):
		s.stepEvent(-1)
	case key.Matches(msg, g.ReqNext):
		s.stepRequest(1)
	case key.Matches(msg, g.ReqPrev):
		s.stepRequest(-1)
	case key.Matches(msg, g.Fwd1):
		s.cursor = s.span.jump(s.cursor, 0.01)
	case key.Matches(msg, g.Back1):
		s.cursor = s.span.jump(s.cursor, -0.01)
	case key.Matches(msg, g.Fwd10):
		s.cursor = s.span.jump(s.cursor, 0.10)
	case key.Matches(msg, g.Back10):
		s.cursor = s.span.jump(s.cursor, -0.10)
	case key.Matches(msg, g.Home):
		s.cursor = s.span.Start
	case key.Matches(msg, g.End):
		s.cursor = s.span.End
	case key.Matches(msg, g.Goto):
		m.push(newGotoDialog(s.st, m.goTo))
	case key.Matches(msg, g.Play):
		s.playing = !s.playing
		s.playSeq++
		if s.playing {
			if s.cursor >= s.span.End {
				// At the end: play again from the start, and say so (a
				// short span at a high speed is over in a tick).
				s.cursor = s.span.Start
				m.setStatus("playing from the start", true)
			}
			return true, m.tick()
		}
	case key.Matches(msg, g.Faster):
		s.speed = min(s.speed+1, len(speeds)-1)
	case key.Matches(msg, g.Slower):
		s.speed = max(s.speed-1, 0)
	case key.Matches(msg, g.ScenNext):
		s.sel = (s.sel + 1) % len(s.slots)
	case key.Matches(msg, g.ScenPrev):
		s.sel = (s.sel - 1 + len(s.slots)) % len(s.slots)
	case key.Matches(msg, g.Add):
		if len(s.slots) >= MaxScenarios {
			m.inputError(fmt.Sprintf("at most %d scenarios: remove one (x) or edit one (e)", MaxScenarios))
			return true, nil
		}
		from := m.cfg.Base
		if sl := s.selected(); sl != nil {
			from = sl.entry.Scenario
		}
		m.push(&formDialog{f: newWhatIfForm(s.st, m.cfg.Base, from, -1), submit: m.submitScenario})
	case key.Matches(msg, g.Edit):
		if sl := s.selected(); sl != nil {
			m.push(&formDialog{f: newWhatIfForm(s.st, m.cfg.Base, sl.entry.Scenario, s.sel), submit: m.submitScenario})
		}
	case key.Matches(msg, g.Del):
		if len(s.slots) <= 1 {
			m.inputError("the last scenario cannot be removed")
			return true, nil
		}
		sl := s.slots[s.sel]
		tag := string(rune('A' + s.sel))
		m.push(&confirmDialog{st: s.st, question: "remove " + tag + " " + sl.label() + "?", yes: func() tea.Cmd {
			if i := slices.Index(s.slots, sl); i >= 0 && len(s.slots) > 1 {
				m.remove(i)
				m.setStatus("removed "+tag+" "+sl.label(), true)
			}
			return nil
		}})
	case key.Matches(msg, g.Write):
		m.askExport()
	case key.Matches(msg, g.Curve):
		m.toggleCurve()
	case key.Matches(msg, g.Bypass):
		return true, m.bypassOversize()
	default:
		return false, nil
	}
	return true, nil
}

// keyString adapts a key's String() form to key.Matches.
type keyString string

func (k keyString) String() string { return string(k) }
