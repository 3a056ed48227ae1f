package tui

import "charm.land/bubbles/v2/key"

// globalKeys work whatever pane has focus.
type globalKeys struct {
	Next, Prev, Pick, Zoom, Help, Quit        key.Binding
	EvNext, EvPrev, ReqNext, ReqPrev          key.Binding
	Fwd1, Back1, Fwd10, Back10, Home, End     key.Binding
	Goto, Play, Faster, Slower                key.Binding
	ScenNext, ScenPrev, Add, Edit, Del, Write key.Binding
}

func newGlobalKeys() globalKeys {
	b := func(keys []string, k, d string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, d))
	}
	return globalKeys{
		Next:     b([]string{"tab"}, "tab", "next pane"),
		Prev:     b([]string{"shift+tab"}, "shift+tab", "previous pane"),
		Pick:     b([]string{"1", "2", "3", "4", "5", "6"}, "1-6", "focus pane"),
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
	}
}

// ShortHelp is the status line's reminder.
func (k globalKeys) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.Next, k.EvNext, k.Play, k.Add, k.Write, k.Quit}
}

// FullHelp groups every global key by topic.
func (k globalKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Prev, k.Pick, k.Zoom, k.Help, k.Quit},
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
func (s *scroller) handle(k string) bool {
	switch {
	case key.Matches(keyString(k), s.keys.Up):
		s.off = max(s.off-1, 0)
	case key.Matches(keyString(k), s.keys.Down):
		s.off++
	case key.Matches(keyString(k), s.keys.Top):
		s.off = 0
	default:
		return false
	}
	return true
}

// clampTo keeps the offset inside content of n lines shown h at a time.
func (s *scroller) clampTo(n, h int) { s.off = max(0, min(s.off, n-h)) }

// keyString adapts a key's String() form to key.Matches.
type keyString string

func (k keyString) String() string { return string(k) }
