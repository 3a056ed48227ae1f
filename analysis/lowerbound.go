package analysis

import (
	"slices"

	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// MaxLoadLowerBound is SPEC §9's lower bound on max_load_s for the linear
// model: max(max_j c_j, Σ_j c_j / M), where c_j is request j's cost when its
// longest prefix shared with any earlier arrival is counted as cached. No
// schedule can beat it: each request is served whole by one worker, and at
// best everything ever shared before is cached where it runs. Failed
// requests are left out (they are never served); arrival order is the
// run's (after re-timing).
func MaxLoadLowerBound(tr *trace.Trace, run *sim.Run, m sim.Linear) float64 {
	order := make([]int32, 0, len(run.Records))
	for i := range run.Records {
		if run.Records[i].Status != sim.Failed {
			order = append(order, int32(i))
		}
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		ta, tb := run.Records[a].Arrival, run.Records[b].Arrival
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	seen := make([]bool, tr.Blocks.Len())
	bs := tr.Info.BlockSize
	var sum, mx float64
	for _, x := range order {
		r := &tr.Requests[x]
		h := 0
		for h < len(r.Blocks) && seen[r.Blocks[h]] {
			h++
		}
		for _, b := range r.Blocks[h:] {
			seen[b] = true
		}
		hit := h * bs
		if h == len(r.Blocks) {
			hit = r.ChainTokens(bs)
		}
		if run.Records[x].Status == sim.Bypassed {
			hit = 0
		}
		c := m.Cost(hit, r.Input, r.Output) / 1000 // seconds
		sum += c
		mx = max(mx, c)
	}
	if run.Workers == 0 {
		return 0
	}
	return max(mx, sum/float64(run.Workers))
}
