package tui

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
	// modeGrid2: the top band (timeline), two columns below.
	modeGrid2
	// modeGrid3: the top band, three columns below (wide terminals).
	modeGrid3
	// modeZoom: the focused pane alone.
	modeZoom
)

func (m layoutMode) String() string {
	return [...]string{"stack", "grid2", "grid3", "zoom"}[m]
}

// grid is a grid layout: a full-width top band of a fixed height over
// columns sharing the width by weight (the last takes the rest). Which pane
// sits where is the pane table's (paneSpec.Wide, paneSpec.Medium).
type grid struct {
	minW, minH int // the smallest terminal it is used on
	band       int
	cols       []int
}

var (
	mediumGrid = grid{minW: 100, minH: 30, band: 7, cols: []int{50, 50}}
	wideGrid   = grid{minW: 160, minH: 36, band: 10, cols: []int{30, 34, 36}}
)

// screenLayout is every rectangle of one frame, indexed like the pane table.
type screenLayout struct {
	Mode  layoutMode
	Panes []rect
	// Collapsed panes are drawn as one summary line (stack mode).
	Collapsed []bool
	Status    rect
}

// layout computes every rectangle for a w×h terminal and the panes of
// specs: the status line is the last row; the panes share the rest. It is
// pure and cheap, called on every resize, focus change and zoom toggle.
func layout(specs []paneSpec, w, h, focus int, zoom bool) screenLayout {
	n := len(specs)
	l := screenLayout{Panes: make([]rect, n), Collapsed: make([]bool, n)}
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
	case w >= wideGrid.minW && h >= wideGrid.minH:
		l.Mode = modeGrid3
		wideGrid.place(l.Panes, specs, func(p paneSpec) cell { return p.Wide }, w, body)
	case w >= mediumGrid.minW && h >= mediumGrid.minH:
		l.Mode = modeGrid2
		mediumGrid.place(l.Panes, specs, func(p paneSpec) cell { return p.Medium }, w, body)
	default:
		l.Mode = modeStack
		big := max(body-(n-1), 1)
		y := 0
		for p := range n {
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

// place fills out with the rectangles of the grid's panes on a w×body area.
func (g grid) place(out []rect, specs []paneSpec, at func(paneSpec) cell, w, body int) {
	colW := split(w, g.cols)
	x := 0
	for c := 0; c <= len(g.cols); c++ {
		var members []int
		var weights []int
		for i, p := range specs {
			if at(p).Col == c {
				members = append(members, i)
				weights = append(weights, at(p).Weight)
			}
		}
		if c == 0 {
			// The band: its panes side by side.
			xx := 0
			for j, pw := range split(w, weights) {
				out[members[j]] = rect{xx, 0, pw, g.band}
				xx += pw
			}
			continue
		}
		cw := colW[c-1]
		y := g.band
		for j, ph := range split(body-g.band, weights) {
			out[members[j]] = rect{x, y, cw, ph}
			y += ph
		}
		x += cw
	}
}

// split shares total by weights: total·weight/sum each, the last the rest.
func split(total int, weights []int) []int {
	sum := 0
	for _, wt := range weights {
		sum += wt
	}
	out := make([]int, len(weights))
	left := total
	for i, wt := range weights {
		if i == len(weights)-1 {
			out[i] = left
			break
		}
		out[i] = total * wt / sum
		left -= out[i]
	}
	return out
}

// paneAt returns the pane under a screen cell.
func (l screenLayout) paneAt(x, y int) (int, bool) {
	for p, r := range l.Panes {
		if !r.empty() && r.contains(x, y) {
			return p, true
		}
	}
	return 0, false
}

// cycleFocus moves focus by dir (+1 tab, −1 shift+tab) around n panes.
func cycleFocus(cur, dir, n int) int {
	return ((cur+dir)%n + n) % n
}
