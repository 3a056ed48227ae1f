package tui

// paneID names a pane. The order is the focus order and the stacking
// order; the digit keys 1–6 pick them in this order.
type paneID int

const (
	paneTimeline paneID = iota
	paneTrace
	paneWorkers
	paneCompare
	paneBounds
	paneRequest
	numPanes
)

var paneNames = [numPanes]string{"Timeline", "Trace", "Workers", "Compare", "Bounds", "Request"}

func (p paneID) String() string {
	if p >= 0 && p < numPanes {
		return paneNames[p]
	}
	return "?"
}

// rect is a screen rectangle; a zero-sized rect is not shown.
type rect struct{ X, Y, W, H int }

func (r rect) empty() bool { return r.W <= 0 || r.H <= 0 }

func (r rect) contains(x, y int) bool {
	return x >= r.X && x < r.X+r.W && y >= r.Y && y < r.Y+r.H
}

// layoutMode is how the panes are arranged.
type layoutMode int

const (
	// modeStack: one column; the focused pane gets the room, the others
	// one summary line each (narrow or short terminals).
	modeStack layoutMode = iota
	// modeGrid2: timeline on top, two columns below.
	modeGrid2
	// modeGrid3: timeline on top, three columns below (wide terminals).
	modeGrid3
	// modeZoom: the focused pane alone.
	modeZoom
)

func (m layoutMode) String() string {
	return [...]string{"stack", "grid2", "grid3", "zoom"}[m]
}

// screenLayout is every rectangle of one frame.
type screenLayout struct {
	Mode  layoutMode
	Panes [numPanes]rect
	// Collapsed panes are drawn as one summary line (stack mode).
	Collapsed [numPanes]bool
	Status    rect
}

// Thresholds of the grid layouts.
const (
	grid2MinW, grid2MinH = 100, 30
	grid3MinW, grid3MinH = 160, 36
)

// layout computes every rectangle for a w×h terminal: the status line is
// the last row; the panes share the rest. It is pure and cheap, called on
// every resize, focus change and zoom toggle.
func layout(w, h int, focus paneID, zoom bool) screenLayout {
	var l screenLayout
	w, h = max(w, 0), max(h, 0)
	if h == 0 || w == 0 {
		return l
	}
	l.Status = rect{0, h - 1, w, 1}
	body := h - 1
	switch {
	case zoom:
		l.Mode = modeZoom
		l.Panes[focus] = rect{0, 0, w, body}
	case w >= grid3MinW && h >= grid3MinH:
		l.Mode = modeGrid3
		tl := 10
		l.Panes[paneTimeline] = rect{0, 0, w, tl}
		rest := body - tl
		c1 := w * 30 / 100
		c2 := w * 34 / 100
		c3 := w - c1 - c2
		top1 := rest * 45 / 100
		l.Panes[paneTrace] = rect{0, tl, c1, top1}
		l.Panes[paneRequest] = rect{0, tl + top1, c1, rest - top1}
		top2 := rest * 55 / 100
		l.Panes[paneWorkers] = rect{c1, tl, c2, top2}
		l.Panes[paneBounds] = rect{c1, tl + top2, c2, rest - top2}
		l.Panes[paneCompare] = rect{c1 + c2, tl, c3, rest}
	case w >= grid2MinW && h >= grid2MinH:
		l.Mode = modeGrid2
		tl := 7
		l.Panes[paneTimeline] = rect{0, 0, w, tl}
		rest := body - tl
		c1 := w / 2
		c2 := w - c1
		a := rest * 25 / 100
		b := rest * 38 / 100
		l.Panes[paneTrace] = rect{0, tl, c1, a}
		l.Panes[paneWorkers] = rect{0, tl + a, c1, b}
		l.Panes[paneRequest] = rect{0, tl + a + b, c1, rest - a - b}
		cm := rest * 60 / 100
		l.Panes[paneCompare] = rect{c1, tl, c2, cm}
		l.Panes[paneBounds] = rect{c1, tl + cm, c2, rest - cm}
	default:
		l.Mode = modeStack
		big := max(body-int(numPanes-1), 1)
		y := 0
		for p := range numPanes {
			hh := 1
			if p == focus {
				hh = big
			} else {
				l.Collapsed[p] = true
			}
			if y+hh > body {
				hh = body - y
			}
			l.Panes[p] = rect{0, y, w, max(hh, 0)}
			y += max(hh, 0)
		}
	}
	return l
}

// paneAt returns the pane under a screen cell.
func (l screenLayout) paneAt(x, y int) (paneID, bool) {
	for p := range numPanes {
		if !l.Panes[p].empty() && l.Panes[p].contains(x, y) {
			return p, true
		}
	}
	return 0, false
}

// cycleFocus moves focus by dir (+1 tab, −1 shift+tab) around the panes.
func cycleFocus(cur paneID, dir int) paneID {
	n := int(numPanes)
	return paneID(((int(cur)+dir)%n + n) % n)
}
