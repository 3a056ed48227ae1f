package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// lineInput is a one-line text field. bubbles/v2's textinput would do, but
// it pulls github.com/atotto/clipboard, which go.mod does not carry; this
// is the small subset the form and the go-to prompt need (insert, delete,
// move, paste), drawn with a reverse-video cursor cell.
type lineInput struct {
	st          *styles
	prompt      string
	placeholder string
	value       []rune
	pos         int
	width       int
	focused     bool
}

func newLineInput(st *styles, prompt, placeholder, value string, width int) lineInput {
	v := []rune(value)
	return lineInput{st: st, prompt: prompt, placeholder: placeholder, value: v, pos: len(v), width: width}
}

func (in *lineInput) Value() string { return string(in.value) }

func (in *lineInput) insert(s string) {
	r := []rune(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s))
	v := make([]rune, 0, len(in.value)+len(r))
	v = append(v, in.value[:in.pos]...)
	v = append(v, r...)
	v = append(v, in.value[in.pos:]...)
	in.value = v
	in.pos += len(r)
}

// Update edits the value; it reports whether msg was an edit.
func (in *lineInput) Update(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		in.insert(msg.Content)
		return true
	case tea.KeyPressMsg:
		switch msg.String() {
		case "left", "ctrl+b":
			in.pos = max(in.pos-1, 0)
		case "right", "ctrl+f":
			in.pos = min(in.pos+1, len(in.value))
		case "home", "ctrl+a":
			in.pos = 0
		case "end", "ctrl+e":
			in.pos = len(in.value)
		case "backspace", "ctrl+h":
			if in.pos > 0 {
				in.value = append(in.value[:in.pos-1], in.value[in.pos:]...)
				in.pos--
			}
		case "delete", "ctrl+d":
			if in.pos < len(in.value) {
				in.value = append(in.value[:in.pos], in.value[in.pos+1:]...)
			}
		case "ctrl+u":
			in.value = in.value[in.pos:]
			in.pos = 0
		case "ctrl+k":
			in.value = in.value[:in.pos]
		default:
			if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
				in.insert(msg.Text)
				return true
			}
			return false
		}
		return true
	}
	return false
}

// View draws the prompt and the visible part of the value.
func (in *lineInput) View() string {
	st := in.st
	w := max(in.width, 4)
	if len(in.value) == 0 && !in.focused {
		return in.prompt + st.dim.Render(ansi.Truncate(in.placeholder, w, "…"))
	}
	// Scroll so the cursor stays visible.
	start := 0
	if in.pos >= w {
		start = in.pos - w + 1
	}
	end := min(len(in.value), start+w)
	before := string(in.value[start:in.pos])
	after := ""
	cur := " "
	if in.pos < len(in.value) {
		cur = string(in.value[in.pos])
		after = string(in.value[in.pos+1 : end])
	}
	if !in.focused {
		return in.prompt + string(in.value[start:end])
	}
	if len(in.value) == 0 {
		return in.prompt + st.selected.Render(" ") + st.dim.Render(ansi.Truncate(in.placeholder, w-1, "…"))
	}
	return in.prompt + before + st.selected.Render(cur) + after
}
