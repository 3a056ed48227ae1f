package tui

import (
	"fmt"
	"strconv"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
)

// pane is what the root needs from each pane. A pane owns its keys: the
// root offers it every key the global key map does not take while it has
// focus, and runs the command it returns.
type pane interface {
	// setHead tells the pane its title and its index in the table (what
	// focus compares with); the root calls it once, after the constructor.
	setHead(h paneHead)
	SetSize(w, h int)
	View() string
	// KeyMap is what the help overlay lists for the pane.
	KeyMap() help.KeyMap
	// Update handles a key while the pane has focus.
	Update(msg tea.KeyPressMsg) tea.Cmd
	// wheel scrolls the pane by d notches (mouse wheel over it).
	wheel(d int)
	// summary is the pane's one line when the stack layout collapses it.
	summary() string
}

// paneHead is a pane's place as the table gives it. Panes embed it.
type paneHead struct {
	// title is the box title: the digit that focuses the pane, then its
	// Title (or Name).
	title string
	index int
}

func (h *paneHead) setHead(x paneHead) { *h = x }

// focusedIn reports whether the pane has focus.
func (h *paneHead) focusedIn(s *shared) bool { return s.focus == h.index }

// paneSpec is one line of the pane table: everything the root asks about a
// pane. Adding a pane is its file (a type implementing pane, embedding
// paneHead) plus one line in builtinPanes.
type paneSpec struct {
	// Name is the pane's name in the status line, the stack layout's
	// summary lines and the help overlay ("Trace pane keys").
	Name string
	// Title is its box title when longer than Name ("" uses Name).
	Title string
	// New builds the pane over the shared state. Its keys are the pane's
	// own (pane.KeyMap, pane.Update).
	New func(s *shared) pane
	// Wide and Medium place the pane in the three- and two-column grids
	// (type grid, layout.go). Narrow terminals stack every pane in table
	// order, which is also the focus order and the order of the digit
	// keys.
	Wide, Medium cell
}

// cell is where a pane sits in a grid layout: in the grid's top band
// (Col 0) or in column Col (1, 2, …). Panes sharing a band or column split
// it in table order by Weight: each gets Weight/sum of it (rounded down),
// the last the rest.
type cell struct{ Col, Weight int }

// builtinPanes is the pane table: the explorer's panes in focus order.
func builtinPanes() []paneSpec {
	return []paneSpec{
		{Name: "Timeline", New: newTimelinePane, Wide: cell{0, 100}, Medium: cell{0, 100}},
		{Name: "Trace", New: newTracePane, Wide: cell{1, 45}, Medium: cell{1, 25}},
		{Name: "Workers", Title: "Workers at cursor", New: newWorkersPane, Wide: cell{2, 55}, Medium: cell{1, 38}},
		{Name: "Compare", New: newComparePane, Wide: cell{3, 100}, Medium: cell{2, 60}},
		{Name: "Bounds", New: newBoundsPane, Wide: cell{2, 45}, Medium: cell{2, 40}},
		{Name: "Request", New: newRequestPane, Wide: cell{1, 55}, Medium: cell{1, 37}},
	}
}

// maxPanes is how many panes the digit keys can pick.
const maxPanes = 9

// panesWith is the built-in table with extra panes after the built-in
// ones: the one way a test (or an extension living in this package) adds
// a pane without editing the table. Pass the result to newModel; nothing
// registers globally.
func panesWith(extra ...paneSpec) []paneSpec {
	return append(builtinPanes(), extra...)
}

// checkPanes rejects a table the layouts cannot place.
func checkPanes(specs []paneSpec) error {
	if len(specs) == 0 || len(specs) > maxPanes {
		return fmt.Errorf("tui: %d panes: want 1 to %d", len(specs), maxPanes)
	}
	names := map[string]bool{}
	for _, p := range specs {
		if p.Name == "" || p.New == nil {
			return fmt.Errorf("tui: pane %q: a name and a constructor are required", p.Name)
		}
		if names[p.Name] {
			return fmt.Errorf("tui: pane %q listed twice", p.Name)
		}
		names[p.Name] = true
		for _, g := range []struct {
			name string
			at   cell
			grid grid
		}{{"wide", p.Wide, wideGrid}, {"medium", p.Medium, mediumGrid}} {
			if g.at.Col < 0 || g.at.Col > len(g.grid.cols) || g.at.Weight <= 0 {
				return fmt.Errorf("tui: pane %q: %s place %+v: want column 0 to %d and a positive weight", p.Name, g.name, g.at, len(g.grid.cols))
			}
		}
	}
	return nil
}

// buildPanes constructs the table's panes and tells each its head.
func buildPanes(specs []paneSpec, s *shared) []pane {
	out := make([]pane, len(specs))
	for i, sp := range specs {
		title := sp.Title
		if title == "" {
			title = sp.Name
		}
		out[i] = sp.New(s)
		out[i].setHead(paneHead{title: strconv.Itoa(i+1) + " " + title, index: i})
	}
	return out
}
