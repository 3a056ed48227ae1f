package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// dialog is a layer over the panes: the what-if form, the go-to prompt,
// the help overlay. The root keeps them on a stack (as crush does): the
// top one sees every input message first and decides whether it goes on
// to the global and pane keys, so no field of the root has precedence
// rules of its own.
type dialog interface {
	// update handles an input message (key, paste, mouse) while the
	// dialog is on top.
	update(msg tea.Msg) dialogResult
	// draw draws the dialog over the frame's lines (w×h cells).
	draw(canvas []string, w, h int)
	// keys is what the help overlay lists for the dialog, under its
	// title; nil keys for none.
	keys() (title string, km help.KeyMap)
}

// dialogResult is what a message did to a dialog.
type dialogResult struct {
	// close pops the dialog.
	close bool
	// pass lets the message through to the layers below (the help
	// overlay does for keys it does not use).
	pass bool
	cmd  tea.Cmd
	// then is pushed after the dialog closes (a prompt that needs a
	// confirmation hands over to it).
	then dialog
}

func (m *Model) push(d dialog) { m.dialogs = append(m.dialogs, d) }

// top is the topmost dialog, or nil.
func (m *Model) top() dialog {
	if len(m.dialogs) == 0 {
		return nil
	}
	return m.dialogs[len(m.dialogs)-1]
}

// closeTop pops the topmost dialog.
func (m *Model) closeTop() { m.dialogs = m.dialogs[:len(m.dialogs)-1] }

// drawCentered places a block in the middle of the canvas.
func drawCentered(canvas []string, block string, w, h int) {
	bw := ansi.StringWidth(strings.SplitN(block, "\n", 2)[0])
	place(canvas, block, max((w-bw)/2, 0), max((h-strings.Count(block, "\n")-1)/2, 0), w)
}

// formDialog is the what-if form (form.go) as a dialog: it takes every
// input message until it is submitted or cancelled.
type formDialog struct {
	f *whatIfForm
	// submit replays the entry the form built, in slot editing (-1: a new
	// slot).
	submit func(editing int, e Entry) tea.Cmd
}

func (d *formDialog) update(msg tea.Msg) dialogResult {
	switch msg.(type) {
	case tea.MouseWheelMsg, tea.MouseClickMsg:
		return dialogResult{} // the form is modal: the panes do not scroll under it
	}
	res, e, cmd := d.f.update(msg)
	switch res {
	case formCancel:
		return dialogResult{close: true}
	case formSubmit:
		return dialogResult{close: true, cmd: d.submit(d.f.editing, e)}
	}
	return dialogResult{cmd: cmd}
}

func (d *formDialog) draw(canvas []string, w, h int) { drawCentered(canvas, d.f.View(w), w, h) }

func (d *formDialog) keys() (string, help.KeyMap) { return "What-if form", d.f.KeyMap() }

// promptDialog is a one-line prompt on the status line: the go-to time,
// the report's file name. enter gets the typed value and says what
// happens next (close, stay open with an error, open another dialog).
type promptDialog struct {
	st   *styles
	in   lineInput
	hint string
	// err is the last value's problem, shown after the value until the
	// next edit.
	err   string
	enter func(v string) dialogResult
	// passMouse lets wheel and clicks through (scrubbing goes on under
	// the go-to prompt).
	passMouse bool
}

func newGotoDialog(st *styles, enter func(string)) *promptDialog {
	in := newLineInput(st, "go to: ", "90s, 1m30s, 12.5 (seconds) or 25%", "", 30)
	in.focused = true
	return &promptDialog{st: st, in: in, hint: "enter go · esc cancel", passMouse: true,
		enter: func(v string) dialogResult { enter(v); return dialogResult{close: true} }}
}

func (d *promptDialog) update(msg tea.Msg) dialogResult {
	switch msg := msg.(type) {
	case tea.MouseWheelMsg, tea.MouseClickMsg:
		return dialogResult{pass: d.passMouse}
	case tea.KeyPressMsg:
		switch msg.String() {
		case "esc":
			return dialogResult{close: true}
		case "enter":
			return d.enter(d.in.Value())
		}
	}
	if d.in.Update(msg) {
		d.err = ""
	}
	return dialogResult{}
}

func (d *promptDialog) draw(canvas []string, w, h int) {
	tail := d.st.dim.Render("   " + d.hint)
	if d.err != "" {
		tail = "   " + d.st.errText.Render(d.err)
	}
	canvas[h-1] = fitLine(d.in.View()+tail, w)
}

func (d *promptDialog) keys() (string, help.KeyMap) { return "", nil }

// confirmDialog asks a yes/no question on the status line before
// something that cannot be undone (removing a scenario, overwriting a
// file); every other key is ignored until it is answered.
type confirmDialog struct {
	st       *styles
	question string
	yes      func() tea.Cmd
}

func (d *confirmDialog) update(msg tea.Msg) dialogResult {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return dialogResult{}
	}
	switch k.String() {
	case "y", "Y":
		return dialogResult{close: true, cmd: d.yes()}
	case "n", "N", "esc":
		return dialogResult{close: true}
	}
	return dialogResult{}
}

func (d *confirmDialog) draw(canvas []string, w, h int) {
	canvas[h-1] = fitLine(d.st.accent.Render(d.question)+d.st.dim.Render("   y yes · n/esc no"), w)
}

func (d *confirmDialog) keys() (string, help.KeyMap) { return "", nil }

// submitScenario replays a scenario the what-if form built: in slot i, or
// in a new slot when i is out of range.
func (m *Model) submitScenario(i int, e Entry) tea.Cmd {
	if i >= 0 && i < len(m.s.slots) {
		m.s.sel = i
		m.setStatus("replaying "+string(rune('A'+i))+": "+e.Label, true)
		return m.restart(i, e)
	}
	m.s.sel = len(m.s.slots)
	m.setStatus("replaying "+string(rune('A'+m.s.sel))+": "+e.Label, true)
	return m.addSlot(e)
}

// goTo moves the cursor to a typed instant.
func (m *Model) goTo(v string) {
	t, err := parseGoto(v, m.s.span)
	if err != nil {
		m.inputError("go to: " + err.Error())
		return
	}
	m.s.cursor = t
	m.setStatus("", true)
}
