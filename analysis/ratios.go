package analysis

import (
	"context"
	"fmt"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/rng"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// Ratios is SPEC §5's competitive-ratio step for a timed run of scenario sc
// over tr: each worker's sequence (run.Sequences, prefill-start order) is
// replayed sequentially by the scenario's policy and by opt, and compared
// with the Belady bound, with SPEC §6's bounds. It runs after the
// simulation, at analysis's request, and stops with ctx's error when ctx is
// cancelled. A panic inside it (a bug) comes back as a *sim.InternalError
// naming the scenario, as it did when the simulator ran this step.
func Ratios(ctx context.Context, tr *trace.Trace, run *sim.Run, sc scenario.Scenario) (rs []seq.WorkerRatios, err error) {
	return RatiosProgress(ctx, tr, run, sc, nil)
}

// RatiosProgress is Ratios calling progress (if set) as it goes, every 16
// requests replayed and at the end of each worker, with the requests
// passed so far and in all: three passes over each worker's sequence (its
// policy's replay, opt's, then the Belady bound, which took as long as a
// replay on the kv-cache-tester archive and is counted at its end), so
// the total is three times the sequences' requests.
func RatiosProgress(ctx context.Context, tr *trace.Trace, run *sim.Run, sc scenario.Scenario, progress func(done, total int)) (rs []seq.WorkerRatios, err error) {
	defer func() {
		if p := recover(); p != nil {
			rs, err = nil, sim.Recovered(sc.String(), p)
		}
	}()
	unit := kvcache.Blocks
	if run.Unit == kvcache.Tokens.String() {
		unit = kvcache.Tokens
	}
	seqs := run.Sequences()
	out := make([]seq.WorkerRatios, len(seqs))
	total, done := 0, 0
	for _, idx := range seqs {
		total += 3 * len(idx)
	}
	var tick func(int)
	if progress != nil {
		tick = func(n int) {
			done += n
			progress(done, total)
		}
	}
	for w, idx := range seqs {
		reqs := make([]*trace.Request, len(idx))
		for i, j := range idx {
			reqs[i] = &tr.Requests[j]
		}
		r, err := seq.SequentialRatiosProgress(ctx, reqs, sc.Evict, rng.Stream(sc.Seed, rng.EvictSeq, w), unit, run.Capacity, tr.Info.BlockSize, tick)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, fmt.Errorf("ratios: worker %d: %w", w, err)
		}
		out[w] = r
	}
	return out, nil
}

// SetRatios attaches per-worker ratios (from Ratios) to m's workers.
func (m *RunMetrics) SetRatios(rs []seq.WorkerRatios) {
	for w := range m.WorkerMetrics {
		if w < len(rs) {
			m.WorkerMetrics[w].Ratios = &rs[w]
		}
	}
}
