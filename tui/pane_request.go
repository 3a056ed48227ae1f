package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/sim"
)

// requestPane explains the request at the cursor (the last arrival at or
// before it) in every scenario: where it went and why, every worker's
// router score, its hits and its TTFT split into queueing and prefill.
type requestPane struct {
	paneHead
	scrollBody
}

func newRequestPane(s *shared) pane { return &requestPane{scrollBody: newScrollBody(s)} }

func (p *requestPane) summary() string {
	i := p.s.requestAtCursor()
	if i < 0 {
		return "no request has arrived yet"
	}
	r, ok := p.s.requestInfo(i)
	if !ok {
		return fmt.Sprintf("request %d", i)
	}
	return fmt.Sprintf("request %d · input %d · output %d tokens", i, r.input, r.output)
}

// wrap breaks s into lines of at most w cells, indenting continuations.
func wrap(s string, w int, indent string) []string {
	if w < 10 {
		return []string{s}
	}
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case ansi.StringWidth(line)+1+ansi.StringWidth(word) <= w:
			line += " " + word
		default:
			out = append(out, line)
			line = indent + word
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// ms formats nanoseconds with fmtMs.
func ms(d float64) string { return fmtMs(d/1e6, false) }

func (p *requestPane) lines() []string {
	s, st := p.s, p.s.st
	w := p.w - 2
	i := s.requestAtCursor()
	if i < 0 {
		return []string{st.dim.Render("no request has arrived by the cursor")}
	}
	r, _ := s.requestInfo(i)
	head := st.bold.Render(fmt.Sprintf("request %d", i))
	if r.source != "" {
		head += st.dim.Render(" · " + r.source)
	}
	out := []string{
		head,
		fmt.Sprintf("input %d tokens (%d blocks) · output %d · session %d turn %d", r.input, r.blocks, r.output, r.session, r.turn),
	}
	out = append(out, p.liveRequestLines(i, w)...)
	for k, sl := range s.slots {
		out = append(out, "")
		out = append(out, s.scenTag(k)+" "+sl.label())
		if sl.state != slotDone {
			out = append(out, s.slotStatusLines(sl, w, "  ")...)
			continue
		}
		recv := sl.data.record(i)
		rec := &recv
		if rec.Status == sim.Failed && rec.Worker < 0 {
			out = append(out, st.errText.Render("  failed before routing: "+rec.Fail))
			continue
		}
		dec := route.Decision{Worker: int(rec.Worker), Why: rec.Why}
		// The outcome first (it must show in a short pane), then why, then
		// every worker's score.
		switch {
		case rec.Status == sim.Failed:
			out = append(out, st.errText.Render(fmt.Sprintf("  w%d · failed: %s", rec.Worker, rec.Fail)))
		case rec.Status == sim.Bypassed:
			out = append(out, fmt.Sprintf("  w%d · bypassed the cache (oversize=bypass) · %s", rec.Worker, phaseAt(rec, s.cursor)))
		default:
			out = append(out, fmt.Sprintf("  w%d · hit %d/%d blocks, %d/%d tokens (%s) · %s", rec.Worker,
				rec.HitBlocks, r.blocks, rec.HitTokens, r.input, fnum(float64(rec.HitTokens)/math.Max(float64(r.input), 1), 3),
				phaseAt(rec, s.cursor)))
		}
		if rec.Status != sim.Failed {
			q := float64(rec.Queueing())
			svc := float64(rec.FirstToken - rec.Start)
			out = append(out, fmt.Sprintf("  TTFT %s = queueing %s + prefill %s · E2E %s", ms(q+svc), ms(q), ms(svc), ms(float64(rec.E2E()))))
		}
		if lines, ok := lbgrWhy(st, rec.Why, int(rec.Worker), w-2); ok {
			out = append(out, lines...)
		} else {
			for _, l := range wrap("why: "+dec.Reason(), w-2, "     ") {
				out = append(out, "  "+l)
			}
		}
		scores, matches := sl.data.scores(i)
		if scores == nil {
			out = append(out, st.dim.Render("  router scores: not in this spilled run (the decision above is)"))
			continue
		}
		hi := 0.0
		for _, x := range scores {
			hi = math.Max(hi, math.Abs(float64(x)))
		}
		out = append(out, st.dim.Render("  router scores: "+dec.Unit()+" · true cached prefix at arrival"))
		bw := max(min(w-42, 30), 4)
		for wi, x := range scores {
			mark := "  "
			if wi == int(rec.Worker) {
				mark = "▸ "
			}
			line := fmt.Sprintf("  %sw%-2d %10s %s %4d/%d blk", mark, wi, si(float64(x)), hbar(math.Abs(float64(x)), hi, bw), matches[wi], r.blocks)
			if wi == int(rec.Worker) {
				line = st.accent.Render(line)
			}
			out = append(out, line)
		}
	}
	return out
}

// lbgrWhy explains an lbgr decision by the parts of E of the winner and
// the runner-up (the terms that decide: a learned bias, a decayed W or a
// prefill the router believes cached), as lines indented for the pane;
// false for other rules.
func lbgrWhy(st *styles, y route.Why, worker, w int) ([]string, bool) {
	win, alt, ok := y.LBGRTerms()
	if !ok {
		return nil, false
	}
	var head string
	switch part, edge := y.LBGREdge(); {
	case y.Alt < 0:
		head = fmt.Sprintf("lbgr: single worker w%d", worker)
	case alt.E() < win.E():
		head = fmt.Sprintf("lbgr: w%d kept: w%d's E is lower, but a later worker must be lower by more than 1 ms", worker, y.Alt)
	case part == "":
		head = fmt.Sprintf("lbgr: lowest E → w%d (w%d next)", worker, y.Alt)
	default:
		head = fmt.Sprintf("lbgr: lowest E → w%d; its largest difference from w%d, the next best: %s, %s ms lower", worker, y.Alt, part, si(edge))
	}
	var out []string
	for _, l := range wrap("why: "+head, w, "     ") {
		out = append(out, "  "+l)
	}
	for _, l := range wrap("E = max(1, prefill + W + learned θ·φ) in ms; cached: tokens as the router sees them", w, "") {
		out = append(out, st.dim.Render("  "+l))
	}
	out = append(out, fmt.Sprintf("  %6s %7s %8s %7s %8s %8s", "", "E", "prefill", "W", "learned", "cached"))
	row := func(mark string, i int, t route.LBGRTerms) string {
		return fmt.Sprintf("  %sw%-3d %7s %8s %7s %8s %8s", mark, i, si(t.E()), si(t.Prefill), si(t.Queue), si(t.Learned), si(float64(t.Cached)))
	}
	out = append(out, row("▸ ", worker, win))
	if y.Alt >= 0 {
		out = append(out, row("  ", y.Alt, alt))
	}
	return out, true
}

func (p *requestPane) View() string {
	lines := p.lines()
	p.scroll.clampTo(len(lines), p.h-2)
	return box(p.s.st, p.title, "", p.focusedIn(p.s), lines, p.w, p.h, p.scroll.off)
}

// phaseAt says where a request stands at instant t.
func phaseAt(rec *sim.Record, t time.Duration) string {
	switch {
	case t < rec.Arrival:
		return "not arrived at the cursor"
	case rec.Start < 0 || t < rec.Start:
		return "queued at the cursor"
	case t < rec.FirstToken:
		return "in prefill at the cursor"
	case t < rec.Done:
		return "decoding at the cursor"
	}
	return "done by the cursor"
}
