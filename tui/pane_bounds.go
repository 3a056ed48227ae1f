package tui

import (
	"fmt"
	"math"
	"strings"

	"github.com/kvscope/kvscope/replay/seq"
)

// boundsPane shows each worker's competitive ratios (ratio_vs_opt and
// ratio_vs_belady of its sequential replay, SPEC §5) against SPEC §6's
// curves for its cache: H_k, 2·H_k (rlt) and k (lru), on a log scale.
type boundsPane struct {
	paneHead
	scrollBody
	// The content does not depend on the cursor: cached by data version,
	// width and replay progress.
	cacheKey [3]int
	cached   []string
}

func newBoundsPane(s *shared) pane { return &boundsPane{scrollBody: newScrollBody(s)} }

func (p *boundsPane) summary() string {
	return p.s.slotSummary(func(i int, sl *slot) string {
		worst := math.NaN()
		for _, r := range sl.view.ratios {
			if r.RatioVsOpt != nil && (math.IsNaN(worst) || *r.RatioVsOpt > worst) {
				worst = *r.RatioVsOpt
			}
		}
		return fmt.Sprintf("%s max vs opt %s", p.s.scenTag(i), fnum(worst, 3))
	})
}

func ptr(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// ratioStrip places markers on a log scale from 1 to k over w cells:
// h = H_k, r = 2·H_k, k = k, ○ = ratio vs Belady, ● = ratio vs opt.
func ratioStrip(st *styles, r *seq.WorkerRatios, w int) string {
	if r.Bounds.K == nil || *r.Bounds.K < 2 || w < 8 {
		return ""
	}
	k := float64(*r.Bounds.K)
	cells := []rune(strings.Repeat("─", w))
	kinds := make([]int, w) // 0 line, 1 bound, 2 belady, 3 opt
	pos := func(x float64) int {
		if math.IsNaN(x) || x < 1 {
			x = 1
		}
		return min(int(math.Round(math.Log(x)/math.Log(k)*float64(w-1))), w-1)
	}
	set := func(x float64, r rune, kind int) {
		if math.IsNaN(x) {
			return
		}
		i := pos(x)
		if kind >= kinds[i] {
			cells[i], kinds[i] = r, kind
		}
	}
	set(ptr(r.Bounds.HarmonicK), 'h', 1)
	set(ptr(r.Bounds.RLTBound), 'r', 1)
	set(k, 'k', 1)
	set(ptr(r.RatioVsBelady), '○', 2)
	set(ptr(r.RatioVsOpt), '●', 3)
	// Render runs of one kind at once: one style call per run.
	var b strings.Builder
	b.WriteString(st.dim.Render("1"))
	styleOf := func(kind int) func(...string) string {
		switch kind {
		case 0:
			return st.dim.Render
		case 1:
			return st.warn.Render
		}
		return st.accent.Render
	}
	for i := 0; i < w; {
		j := i
		for j < w && kinds[j] == kinds[i] {
			j++
		}
		b.WriteString(styleOf(kinds[i])(string(cells[i:j])))
		i = j
	}
	return b.String()
}

func (p *boundsPane) lines() []string {
	s, st := p.s, p.s.st
	w := p.w - 2
	out := []string{
		st.dim.Render("whole run, workers replayed alone · kvscope help bounds"),
		st.dim.Render("log scale 1…k: ● vs opt ○ vs Belady · h H_k  r 2·H_k (rlt)  k (lru)"),
	}
	for i, sl := range s.slots {
		out = append(out, s.scenTag(i)+" "+sl.label())
		if sl.state != slotDone {
			out = append(out, s.slotStatusLines(sl, w, "  ")...)
			continue
		}
		if len(sl.view.ratios) == 0 {
			why := "no ratios (replay ran without VsOpt)"
			if s.streamed() {
				why = "no ratios: they replay each worker's whole sequence, which a streamed trace does not hold (kvscope run TRACE --vs-opt)"
			}
			// wrap drops leading spaces: indent every line under the
			// scenario, continuations two more.
			for _, l := range wrap(why, w-2, "  ") {
				out = append(out, st.dim.Render("  "+l))
			}
			continue
		}
		out = append(out, st.dim.Render(fmt.Sprintf("  %-3s %6s %7s %9s %6s %6s %6s", "w", "k", "vs opt", "vs Belady", "H_k", "2H_k", "seq")))
		for wi := range sl.view.ratios {
			r := &sl.view.ratios[wi]
			k := "n/a"
			if r.Bounds.K != nil {
				k = fmt.Sprint(*r.Bounds.K)
			}
			na := func(p *float64, d int) string {
				if p == nil {
					return "n/a"
				}
				return fnum(*p, d)
			}
			out = append(out, fmt.Sprintf("  w%-2d %6s %7s %9s %6s %6s %6d", wi, k, na(r.RatioVsOpt, 3), na(r.RatioVsBelady, 3),
				na(r.Bounds.HarmonicK, 2), na(r.Bounds.RLTBound, 2), r.Sequence))
			if strip := ratioStrip(st, r, w-6); strip != "" {
				out = append(out, "    "+strip)
			}
		}
		if len(sl.view.ratios) > 0 {
			r := &sl.view.ratios[0]
			if r.OptLabel != "" {
				out = append(out, st.dim.Render("  opt: "+r.OptLabel+" · bound: "+r.BeladyLabel))
			}
			if r.Bounds.Note != "" {
				out = append(out, st.dim.Render("  "+r.Bounds.Note))
			}
		}
	}
	return out
}

func (p *boundsPane) View() string {
	key := [3]int{p.s.version, p.w, p.s.progressStamp()}
	if p.cached == nil || key != p.cacheKey {
		p.cached, p.cacheKey = p.lines(), key
	}
	lines := p.cached
	p.scroll.clampTo(len(lines), p.h-2)
	return box(p.s.st, p.title, "", p.focusedIn(p.s), lines, p.w, p.h, p.scroll.off)
}
