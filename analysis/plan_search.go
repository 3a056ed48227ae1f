package analysis

import (
	"fmt"
	"math"
	"slices"

	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
)

// search is one candidate's state: its probes by worker count.
type search struct {
	entry, gpu int
	sc         scenario.Scenario
	seeds      []uint64
	max        int
	probes     map[int]*PlanProbe
	scanned    [][2]int
	err        string
}

// add records the probe at w from its cells (one per seed).
func (s *search) add(w int, cells []PlanCell, out []PlanCellResult, slos []SLO) {
	for k, r := range out {
		if r.Error != "" {
			s.err = fmt.Sprintf("%d workers, seed %d: %s", w, cells[k].Seed, r.Error)
			return
		}
	}
	c := s.sc
	c.Workers = w
	canon, _ := sim.Resolve(c)
	p := &PlanProbe{Workers: w, Scenario: canon, Meets: true, Margin: F(math.Inf(1))}
	det := !s.sc.Randomized()
	xs := make([]float64, len(out))
	for _, r := range out {
		p.Completed += r.Completed
		p.Failed += r.Failed
	}
	for _, slo := range slos {
		for k, r := range out {
			xs[k] = math.NaN()
			if v, ok := r.Values[slo.Metric]; ok {
				xs[k] = float64(v)
			}
		}
		v := PlanSLOValue{Metric: slo.Metric, Value: StatOf(xs, det)}
		// A metric with a missing seed (no completed request) cannot
		// meet its bound: its mean would be over the other seeds only.
		mean := float64(v.Value.Mean)
		if v.Value.N < len(out) {
			mean = math.NaN()
		}
		t := float64(slo.TargetMS)
		v.SlackMS = F(t - mean)
		v.Slack = F((t - mean) / t)
		v.Meets = mean <= t
		if !v.Meets {
			p.Meets = false
		}
		if math.IsNaN(mean) {
			p.Margin = F(math.Inf(-1))
		} else {
			p.Margin = min(p.Margin, v.Slack)
		}
		p.SLOs = append(p.SLOs, v)
	}
	s.probes[w] = p
}

// counts returns the probed worker counts in increasing order.
func (s *search) counts() []int {
	ws := make([]int, 0, len(s.probes))
	for w := range s.probes {
		ws = append(ws, w)
	}
	slices.Sort(ws)
	return ws
}

// answer is the smallest probed count meeting every SLO (0: none).
func (s *search) answer() int {
	for _, w := range s.counts() {
		if s.probes[w].Meets {
			return w
		}
	}
	return 0
}

// metric is an SLO metric's mean at probe p (NaN when a seed has none).
func metric(p *PlanProbe, i int) float64 {
	v := p.SLOs[i]
	if math.IsNaN(float64(v.SlackMS)) {
		return math.NaN()
	}
	return float64(v.Value.Mean)
}

// next returns the worker counts to probe in the next round (none: the
// search is over). It is a function of the probes alone (see Plan).
func (s *search) next(slos []SLO) []int {
	ws := s.counts()
	if len(ws) == 0 {
		return []int{1}
	}
	f := s.answer()
	if f == 0 {
		// Gallop: double the largest count until one meets or the cap
		// misses.
		top := ws[len(ws)-1]
		if top < s.max {
			return []int{min(2*top, s.max)}
		}
		// None meets: every probed count is checked below.
		f = s.max
	} else {
		// Bisect the gap below the answer: every probed count below f
		// misses.
		lo := 0
		for _, w := range ws {
			if w < f {
				lo = w
			}
		}
		if f-lo > 1 {
			if lo == 0 {
				// 1 is always probed first, so f = 1 here; kept for safety.
				return []int{1}
			}
			return []int{(lo + f) / 2}
		}
	}
	// Monotonicity at the probed points up to the answer (every probed
	// point when none meets).
	for i := 1; i < len(ws) && ws[i] <= f; i++ {
		a, b := s.probes[ws[i-1]], s.probes[ws[i]]
		if b.Workers-a.Workers < 2 || !rises(a, b, slos) {
			continue
		}
		s.scanned = append(s.scanned, [2]int{a.Workers + 1, b.Workers - 1})
		var out []int
		for w := a.Workers + 1; w < b.Workers; w++ {
			out = append(out, w)
		}
		return out
	}
	return nil
}

// rises reports whether some SLO metric is worse at b (more workers) than
// at a; a metric with no value at b but one at a counts as worse.
func rises(a, b *PlanProbe, slos []SLO) bool {
	for i := range slos {
		va, vb := metric(a, i), metric(b, i)
		if vb > va || (math.IsNaN(vb) && !math.IsNaN(va)) {
			return true
		}
	}
	return false
}

// result turns a finished search into its candidate.
func (s *search) result(slos []SLO, gpus []PlanGPU) PlanCandidate {
	c := PlanCandidate{Error: s.err, Monotone: true, Scanned: s.scanned}
	var g *PlanGPU
	if s.gpu >= 0 {
		g = &gpus[s.gpu]
		c.GPU, c.Profile, c.TP = g.Name, g.Profile, g.TP
	}
	ws := s.counts()
	for _, w := range ws {
		c.Probes = append(c.Probes, *s.probes[w])
	}
	if s.err != "" {
		return c
	}
	if f := s.answer(); f > 0 {
		c.Workers = &f
		if g != nil && !math.IsNaN(g.HourlyCost(f)) {
			cost := F(g.HourlyCost(f))
			c.CostPerHour = &cost
		}
	}
	for i := 1; i < len(ws); i++ {
		a, b := s.probes[ws[i-1]], s.probes[ws[i]]
		for k, slo := range slos {
			va, vb := metric(a, k), metric(b, k)
			if vb > va || (math.IsNaN(vb) && !math.IsNaN(va)) {
				c.Monotone = false
				c.Notes = append(c.Notes, fmt.Sprintf("%s rises from %s at %d workers to %s at %d", slo.Metric, msText(va), a.Workers, msText(vb), b.Workers))
			}
		}
	}
	firstMeets := 0
	for _, w := range ws {
		p := s.probes[w]
		if p.Meets && firstMeets == 0 {
			firstMeets = w
		}
		if !p.Meets && firstMeets > 0 {
			c.Monotone = false
			c.Notes = append(c.Notes, fmt.Sprintf("%d workers meet every SLO but %d do not", firstMeets, w))
		}
	}
	return c
}
