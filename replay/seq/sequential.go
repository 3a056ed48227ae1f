package seq

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// WorkerRatios is one worker's competitive ratios (SPEC §5): its requests
// in prefill-start order, replayed sequentially by the scenario's policy,
// by opt, and through the Belady bound (block mode), with SPEC §6's bounds
// for its capacity and longest request.
type WorkerRatios struct {
	// Sequence is the number of requests in the worker's sequence
	// (bypassed and failed requests are not cached and are left out).
	Sequence int `json:"sequence"`
	// PolicyMissed is the policy's misses on the sequential replay.
	PolicyMissed int64 `json:"policy_missed"`
	Ratios
}

// SequentialRatios is SPEC §5's ratio computation for one worker of a timed
// run: reqs is the worker's sequence (prefill-start order, oversize requests
// left out); the policy sp replays it sequentially (hit-only, drawing from
// rnd when randomized), and its misses are compared with opt's and the
// Belady bound's on the same sequence. The timed run's own misses never
// enter a ratio. A cancelled ctx stops it with ctx's error.
func SequentialRatios(ctx context.Context, reqs []*trace.Request, sp param.Spec, rnd *rand.Rand, unit kvcache.Unit, capacity int64, blockSize int) (WorkerRatios, error) {
	return sequentialRatios(ctx, compact(reqs), sp, rnd, unit, capacity, blockSize, nil)
}

// SequentialRatiosProgress is SequentialRatios telling tick, as it goes,
// how many requests of its three passes it has done since the last call:
// the policy's replay and opt's, every 16 requests, then the Belady
// bound's, whole at its end; 3·len(reqs) in all.
func SequentialRatiosProgress(ctx context.Context, reqs []*trace.Request, sp param.Spec, rnd *rand.Rand, unit kvcache.Unit, capacity int64, blockSize int, tick func(n int)) (WorkerRatios, error) {
	return sequentialRatios(ctx, compact(reqs), sp, rnd, unit, capacity, blockSize, tick)
}

// sequentialRatios is SequentialRatiosProgress on requests already
// renumbered by compact; tick may be nil.
func sequentialRatios(ctx context.Context, reqs []*trace.Request, sp param.Spec, rnd *rand.Rand, unit kvcache.Unit, capacity int64, blockSize int, tick func(int)) (WorkerRatios, error) {
	c, err := newCache(sp, unit, capacity, blockSize, rnd, chains(reqs), sizeHint(reqs), false)
	if err != nil {
		return WorkerRatios{}, err
	}
	var policyMissed int64
	for i, q := range reqs {
		if err := checkCtx(ctx, i, tick); err != nil {
			return WorkerRatios{}, err
		}
		hb, ht, err := c.HitOnly(q)
		if err != nil {
			return WorkerRatios{}, fmt.Errorf("%s: request %d: %w", sp.Name, q.Index, err)
		}
		policyMissed += missed(unit, q, hb, ht)
	}
	passEnd(len(reqs), tick)
	r, err := compareOpt(ctx, reqs, unit, capacity, blockSize, policyMissed, tick)
	if err != nil {
		return WorkerRatios{}, err
	}
	return WorkerRatios{Sequence: len(reqs), PolicyMissed: policyMissed, Ratios: r}, nil
}
