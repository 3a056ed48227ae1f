package seq

import (
	"fmt"
	"math/rand/v2"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// SequentialRatios is SPEC §5's ratio computation for one worker of a timed
// run: reqs is the worker's sequence (prefill-start order, oversize requests
// left out); the policy sp replays it sequentially (hit-only, drawing from
// rnd when randomized), and its misses are compared with opt's and the
// Belady bound's on the same sequence. The timed run's own misses never
// enter a ratio.
func SequentialRatios(reqs []*trace.Request, sp param.Spec, rnd *rand.Rand, unit kvcache.Unit, capacity int64, blockSize int) (policyMissed int64, r Ratios, err error) {
	c, err := newCache(sp, unit, capacity, blockSize, rnd, chains(reqs), sizeHint(reqs))
	if err != nil {
		return 0, Ratios{}, err
	}
	for _, q := range reqs {
		hb, ht, err := c.HitOnly(q)
		if err != nil {
			return 0, Ratios{}, fmt.Errorf("%s: request %d: %w", sp.Name, q.Index, err)
		}
		policyMissed += missed(unit, q, hb, ht)
	}
	r, err = CompareOpt(reqs, unit, capacity, blockSize, policyMissed)
	return policyMissed, r, err
}
