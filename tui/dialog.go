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

// gotoDialog is the go-to prompt on the status line.
type gotoDialog struct {
	st *styles
	in lineInput
	// enter receives the typed value.
	enter func(string)
}

func newGotoDialog(st *styles, enter func(string)) *gotoDialog {
	in := newLineInput(st, "go to: ", "90s, 1m30s, 12.5 (seconds) or 25%", "", 30)
	in.focused = true
	return &gotoDialog{st: st, in: in, enter: enter}
}

func (d *gotoDialog) update(msg tea.Msg) dialogResult {
	switch msg := msg.(type) {
	case tea.MouseWheelMsg, tea.MouseClickMsg:
		return dialogResult{pass: true} // scrubbing and focusing go on
	case tea.KeyPressMsg:
		switch msg.String() {
		case "esc":
			return dialogResult{close: true}
		case "enter":
			d.enter(d.in.Value())
			return dialogResult{close: true}
		}
	}
	d.in.Update(msg)
	return dialogResult{}
}

func (d *gotoDialog) draw(canvas []string, w, h int) {
	canvas[h-1] = fitLine(d.in.View()+d.st.dim.Render("   enter go · esc cancel"), w)
}

func (d *gotoDialog) keys() (string, help.KeyMap) { return "", nil }

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
		m.setStatus("go to: "+err.Error(), false)
		return
	}
	m.s.cursor = t
	m.setStatus("", true)
}
