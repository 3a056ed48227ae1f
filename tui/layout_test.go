package tui

import "testing"

func TestLayoutModes(t *testing.T) {
	for _, c := range []struct {
		w, h int
		zoom bool
		want layoutMode
	}{
		{80, 24, false, modeStack},
		{99, 40, false, modeStack},
		{120, 29, false, modeStack},
		{100, 30, false, modeGrid2},
		{120, 40, false, modeGrid2},
		{159, 60, false, modeGrid2},
		{160, 36, false, modeGrid3},
		{200, 60, false, modeGrid3},
		{200, 35, false, modeGrid2},
		{200, 60, true, modeZoom},
		{80, 24, true, modeZoom},
	} {
		if got := layout(builtinPanes(), c.w, c.h, paneWorkers, c.zoom).Mode; got != c.want {
			t.Errorf("layout(%d, %d, zoom %v) = %s, want %s", c.w, c.h, c.zoom, got, c.want)
		}
	}
}

// TestLayoutTiles checks, for many sizes and every focus, that the shown
// panes stay on screen, do not overlap, and together with the status line
// cover the screen exactly (zoom: the focused pane alone covers the body).
func TestLayoutTiles(t *testing.T) { checkTiling(t, builtinPanes()) }

// checkTiling is TestLayoutTiles over any pane table.
func checkTiling(t *testing.T, specs []paneSpec) {
	t.Helper()
	n := len(specs)
	for _, sz := range [][2]int{{80, 24}, {81, 25}, {100, 30}, {120, 40}, {133, 41}, {160, 36}, {200, 60}, {241, 77}, {40, 10}, {20, 8}} {
		w, h := sz[0], sz[1]
		for f := range n {
			for _, zoom := range []bool{false, true} {
				l := layout(specs, w, h, f, zoom)
				cover := make([]int, w*h)
				mark := func(r rect) {
					for y := r.Y; y < r.Y+r.H; y++ {
						for x := r.X; x < r.X+r.W; x++ {
							if x < 0 || y < 0 || x >= w || y >= h {
								t.Fatalf("%dx%d focus %d zoom %v: %+v off screen", w, h, f, zoom, r)
							}
							cover[y*w+x]++
						}
					}
				}
				for p := range n {
					if zoom && p != f && !l.Panes[p].empty() {
						t.Errorf("%dx%d zoom: pane %d shown", w, h, p)
					}
					mark(l.Panes[p])
				}
				mark(l.Status)
				for i, c := range cover {
					if c != 1 {
						t.Fatalf("%dx%d focus %d zoom %v: cell (%d,%d) covered %d times", w, h, f, zoom, i%w, i/w, c)
					}
				}
				if l.Mode == modeStack {
					if l.Collapsed[f] {
						t.Errorf("%dx%d: focused pane %d collapsed", w, h, f)
					}
					for p := range n {
						if p != f && !l.Collapsed[p] {
							t.Errorf("%dx%d: pane %d not collapsed", w, h, p)
						}
					}
				}
			}
		}
	}
}

func TestLayoutGridGivesRoom(t *testing.T) {
	l := layout(builtinPanes(), 120, 40, paneTimeline, false)
	for p := range numPanes {
		if r := l.Panes[p]; r.W < 40 || r.H < 7 {
			t.Errorf("120x40: pane %d too small: %+v", p, r)
		}
	}
	l = layout(builtinPanes(), 80, 24, paneCompare, false)
	if r := l.Panes[paneCompare]; r.H != 24-1-5 || r.W != 80 {
		t.Errorf("80x24 stack: focused compare %+v, want 80x18", r)
	}
}

func TestCycleFocusAndPaneAt(t *testing.T) {
	for _, c := range []struct {
		cur  int
		dir  int
		want int
	}{
		{paneTimeline, 1, paneTrace},
		{paneRequest, 1, paneTimeline},
		{paneTimeline, -1, paneRequest},
		{paneCompare, -1, paneWorkers},
	} {
		if got := cycleFocus(c.cur, c.dir, numPanes); got != c.want {
			t.Errorf("cycleFocus(%d, %d) = %d, want %d", c.cur, c.dir, got, c.want)
		}
	}
	// A full cycle visits every pane once.
	seen := map[int]bool{}
	p := paneTimeline
	for range numPanes {
		seen[p] = true
		p = cycleFocus(p, 1, numPanes)
	}
	if len(seen) != numPanes || p != paneTimeline {
		t.Errorf("tab cycle visits %d panes, ends at %d", len(seen), p)
	}
	l := layout(builtinPanes(), 120, 40, paneTimeline, false)
	for q := range numPanes {
		r := l.Panes[q]
		if got, ok := l.paneAt(r.X+r.W/2, r.Y+r.H/2); !ok || got != q {
			t.Errorf("paneAt centre of %d = %d, %v", q, got, ok)
		}
	}
	if _, ok := l.paneAt(5, 39); ok {
		t.Error("status line is not a pane")
	}
}
