package analysis

import (
	"math"
	"strings"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// PlanResult is the result of Plan: what the plan reports render.
type PlanResult struct {
	Trace      trace.Info `json:"trace"`
	SLOs       []SLO      `json:"slos"`
	MaxWorkers int        `json:"max_workers"`
	Seeds      int        `json:"seeds"`
	GPUs       []PlanGPU  `json:"gpus"`
	// Scenarios follow the entries' order.
	Scenarios []PlanScenario `json:"scenarios"`
	// Runs counts the cells simulated; Rounds the search's rounds.
	Runs   int `json:"runs"`
	Rounds int `json:"rounds"`
	// Wall is the search's wall time (not rendered: reports are
	// deterministic).
	Wall time.Duration `json:"-"`
	// Notes say how the runs' figures were made where that is not Plan's
	// own way (a streamed plan's: StreamPlanRunner); reports show them
	// with the plan's facts.
	Notes []string `json:"notes,omitempty"`
}

// PlanScenario is one scenario's answer: the cheapest candidate that
// meets every SLO (the only one without GPUs), or, when none does, the
// one that misses by the least.
type PlanScenario struct {
	Label string `json:"scenario"`
	// Canonical is the scenario's canonical string at the answer (or at
	// the best fleet that misses).
	Canonical  string   `json:"canonical"`
	Randomized bool     `json:"randomized"`
	Seeds      []uint64 `json:"seeds"`
	// Workers is the answer (nil when no fleet up to MaxWorkers meets
	// every SLO); GPU the chosen GPU (nil without GPUs).
	Workers *int    `json:"workers"`
	GPU     *string `json:"gpu"`
	// CostPerHour is Workers × TP × price (nil without a price).
	CostPerHour *F `json:"cost_per_hour"`
	// Margin is the answer's smallest relative slack over the SLOs,
	// MarginBelow the same at answer−1 (nil at answer 1); Miss is how far
	// the best fleet misses when none meets (nil otherwise).
	Margin      *F `json:"margin"`
	MarginBelow *F `json:"margin_below"`
	Miss        *F `json:"miss"`
	// At, Below and Best are the probes behind Margin, MarginBelow and
	// Miss.
	At    *PlanProbe `json:"at,omitempty"`
	Below *PlanProbe `json:"below,omitempty"`
	Best  *PlanProbe `json:"best,omitempty"`
	// Candidates holds every GPU's search (one without GPUs).
	Candidates []PlanCandidate `json:"candidates"`
	// Error names why the scenario has no answer ("" when it ran).
	Error string `json:"error,omitempty"`
}

// OK reports whether every candidate of the scenario ran.
func (s *PlanScenario) OK() bool { return s.Error == "" }

// PlanCandidate is the search for one scenario on one GPU.
type PlanCandidate struct {
	GPU     string `json:"gpu,omitempty"`
	Profile string `json:"profile,omitempty"`
	TP      int    `json:"tp,omitempty"`
	// Workers is the smallest probed count meeting every SLO (nil: none up
	// to MaxWorkers); CostPerHour its cost (nil without a price).
	Workers     *int `json:"workers"`
	CostPerHour *F   `json:"cost_per_hour"`
	// Probes are the counts simulated, in increasing order: the curves
	// that led to the answer.
	Probes []PlanProbe `json:"probes"`
	// Scanned lists the segments [a, b] scanned one by one after a
	// monotonicity violation.
	Scanned [][2]int `json:"scanned,omitempty"`
	// Monotone is false when some SLO metric got worse with more workers
	// between probed counts, or a count met every SLO while a larger one
	// did not; Notes say where.
	Monotone bool     `json:"monotone"`
	Notes    []string `json:"notes,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// PlanProbe is one worker count over the scenario's seeds.
type PlanProbe struct {
	Workers  int    `json:"workers"`
	Scenario string `json:"scenario"`
	Meets    bool   `json:"meets"`
	// Margin is the smallest relative slack over the SLOs.
	Margin F `json:"margin"`
	// SLOs follow PlanResult.SLOs' order.
	SLOs []PlanSLOValue `json:"slos"`
	// Completed and Failed are summed over seeds.
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

// PlanSLOValue is one SLO metric at one probe: its mean over seeds with
// the 95% t interval, and the slack (target − mean), absolute and relative.
type PlanSLOValue struct {
	Metric  string `json:"metric"`
	Value   Stat   `json:"value_ms"`
	SlackMS F      `json:"slack_ms"`
	Slack   F      `json:"slack"`
	Meets   bool   `json:"meets"`
}

// msText writes a duration in ms as seconds above 10 s, ms otherwise.
func msText(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return "none"
	case math.Abs(ms) >= 10000:
		return num(ms/1000, 2) + " s"
	}
	return num(ms, 1) + " ms"
}

// choose picks the scenario's answer among its candidates: the cheapest
// that meets every SLO (ties: fewer workers, then the GPUs' order), or,
// without prices, the fewest workers; when none meets, the candidate
// whose best fleet misses by the least.
func (ps *PlanScenario) choose() {
	var errs []string
	for _, c := range ps.Candidates {
		if c.Error != "" {
			if c.GPU != "" {
				errs = append(errs, c.GPU+": "+c.Error)
			} else {
				errs = append(errs, c.Error)
			}
		}
	}
	if len(errs) > 0 {
		ps.Error = strings.Join(errs, "; ")
		return
	}
	best := -1
	for i, c := range ps.Candidates {
		if c.Workers == nil {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := ps.Candidates[best]
		cc, bc := costOf(c), costOf(b)
		switch {
		case !math.IsNaN(cc) && !math.IsNaN(bc) && cc != bc:
			if cc < bc {
				best = i
			}
		case *c.Workers < *b.Workers:
			best = i
		}
	}
	if best >= 0 {
		c := &ps.Candidates[best]
		ps.Workers, ps.CostPerHour = c.Workers, c.CostPerHour
		if c.GPU != "" {
			ps.GPU = &c.GPU
		}
		ps.At = probeAt(c, *c.Workers)
		ps.Canonical = ps.At.Scenario
		m := ps.At.Margin
		ps.Margin = &m
		if b := probeAt(c, *c.Workers-1); b != nil {
			ps.Below = b
			mb := b.Margin
			ps.MarginBelow = &mb
		}
		return
	}
	// No candidate meets: the probe whose worst SLO misses by the least
	// (ties: fewer workers, then the GPUs' order).
	var bp *PlanProbe
	bi := -1
	for i := range ps.Candidates {
		c := &ps.Candidates[i]
		for k := range c.Probes {
			p := &c.Probes[k]
			if bp == nil || p.Margin > bp.Margin || (p.Margin == bp.Margin && p.Workers < bp.Workers) {
				bp, bi = p, i
			}
		}
	}
	if bp == nil {
		return
	}
	ps.Best = bp
	ps.Canonical = bp.Scenario
	if g := ps.Candidates[bi].GPU; g != "" {
		ps.GPU = &g
	}
	miss := -bp.Margin
	ps.Miss = &miss
}

func costOf(c PlanCandidate) float64 {
	if c.CostPerHour == nil {
		return math.NaN()
	}
	return float64(*c.CostPerHour)
}

// probeAt returns the candidate's probe at w (nil if not probed).
func probeAt(c *PlanCandidate, w int) *PlanProbe {
	for i := range c.Probes {
		if c.Probes[i].Workers == w {
			return &c.Probes[i]
		}
	}
	return nil
}

// Failures lists "label: error" for each scenario that did not run.
func (r *PlanResult) Failures() []string {
	var out []string
	for _, s := range r.Scenarios {
		if !s.OK() {
			out = append(out, s.Label+": "+s.Error)
		}
	}
	return out
}
