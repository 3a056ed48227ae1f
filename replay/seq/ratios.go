package seq

import (
	"context"
	"fmt"

	"github.com/kvscope/kvscope/replay/bounds"
	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// Ratios compares a policy's misses on a worker's sequence with opt and
// the Belady bound (SPEC §5, §6), in the cache's unit.
type Ratios struct {
	OptMissed    int64 `json:"opt_missed"`
	BeladyMissed int64 `json:"belady_missed"`
	// RatioVsOpt = policy misses / opt misses; null when opt misses 0 and
	// the policy does not (1 when both are 0). Likewise RatioVsBelady.
	RatioVsOpt    *float64 `json:"ratio_vs_opt"`
	RatioVsBelady *float64 `json:"ratio_vs_belady"`
	// OptLabel is "optimum" in block mode and "farthest-in-future
	// heuristic" in token mode; BeladyLabel is "Belady bound" in block
	// mode and "compulsory misses only" in token mode.
	OptLabel    string        `json:"opt_label"`
	BeladyLabel string        `json:"belady_label"`
	Bounds      bounds.Bounds `json:"bounds"`
}

func divRatio(a, b int64) *float64 {
	var r float64
	switch {
	case b == 0 && a == 0:
		r = 1
	case b == 0:
		return nil
	default:
		r = float64(a) / float64(b)
	}
	return &r
}

// CompareOpt replays reqs — one worker's requests in service order (for a
// timed run: prefill-start order) — sequentially with opt, computes the
// Belady bound (block mode) or the compulsory misses (token mode), and
// returns them with the ratios of policyMissed (the policy's misses on that
// same sequential replay, in the cache's unit) and SPEC §6's bounds.
// Requests whose footprint exceeds capacity are not in a cache's sequence
// and must not be passed (an error). A cancelled ctx stops it with ctx's
// error.
func CompareOpt(ctx context.Context, reqs []*trace.Request, unit kvcache.Unit, capacity int64, blockSize int, policyMissed int64) (Ratios, error) {
	return compareOpt(ctx, compact(reqs), unit, capacity, blockSize, policyMissed, nil)
}

// compareOpt is CompareOpt on requests already renumbered by compact.
// tick (nil: none) hears the requests replayed, as checkCtx and passEnd
// report them.
func compareOpt(ctx context.Context, reqs []*trace.Request, unit kvcache.Unit, capacity int64, blockSize int, policyMissed int64, tick func(int)) (Ratios, error) {
	future := chains(reqs)
	c, err := newCache(param.Spec{Name: "opt"}, unit, capacity, blockSize, nil, future, sizeHint(reqs), false)
	if err != nil {
		return Ratios{}, err
	}
	var optMissed, longest int64
	for i, r := range reqs {
		if err := checkCtx(ctx, i, tick); err != nil {
			return Ratios{}, err
		}
		fp := c.Footprint(r)
		if fp > capacity {
			return Ratios{}, fmt.Errorf("request %d needs %d %s, more than the cache's %d", r.Index, fp, unit, capacity)
		}
		longest = max(longest, fp)
		hb, ht, err := c.HitOnly(r)
		if err != nil {
			return Ratios{}, fmt.Errorf("opt: request %d: %w", r.Index, err)
		}
		optMissed += missed(unit, r, hb, ht)
	}
	passEnd(len(reqs), tick)
	out := Ratios{OptMissed: optMissed, OptLabel: "optimum", BeladyLabel: "Belady bound"}
	if err := ctx.Err(); err != nil {
		return Ratios{}, err
	}
	if unit == kvcache.Blocks {
		out.BeladyMissed = evict.BeladyMisses(future, capacity)
	} else {
		out.OptLabel = "farthest-in-future heuristic"
		out.BeladyLabel = "compulsory misses only"
		out.BeladyMissed = evict.CompulsoryMisses(reqs, blockSize)
	}
	if tick != nil {
		// The bound is one more pass over the sequence (as long as a
		// replay on the kv-cache-tester archive): counted whole at its end.
		tick(len(reqs))
	}
	out.RatioVsOpt = divRatio(policyMissed, out.OptMissed)
	out.RatioVsBelady = divRatio(policyMissed, out.BeladyMissed)
	out.Bounds = bounds.Of(unit, capacity, longest)
	return out, nil
}

// sumRatios is the cluster's line: summed misses, ratios of the sums, and
// the bounds for the longest request of any worker.
func sumRatios(ws []Ratios, policyMissed int64, u kvcache.Unit, capacity int64) Ratios {
	out := Ratios{OptLabel: "optimum", BeladyLabel: "Belady bound"}
	if u == kvcache.Tokens {
		out.OptLabel, out.BeladyLabel = "farthest-in-future heuristic", "compulsory misses only"
	}
	var longest int64
	for _, w := range ws {
		out.OptMissed += w.OptMissed
		out.BeladyMissed += w.BeladyMissed
		longest = max(longest, w.Bounds.Longest)
	}
	out.RatioVsOpt = divRatio(policyMissed, out.OptMissed)
	out.RatioVsBelady = divRatio(policyMissed, out.BeladyMissed)
	out.Bounds = bounds.Of(u, capacity, longest)
	return out
}

// tickEvery is how many requests a replay pass reports to its tick at a
// time: the kv-cache-tester archive's requests run to thousands of blocks,
// and 256 of them took seconds on a loaded machine.
const tickEvery = 16

// checkCtx looks at ctx every 256 requests (i is the request about to be
// replayed): often enough to stop within milliseconds, rarely enough to
// cost nothing. tick, if set, hears every tickEvery requests replayed.
func checkCtx(ctx context.Context, i int, tick func(int)) error {
	if tick != nil && i > 0 && i%tickEvery == 0 {
		tick(tickEvery)
	}
	if i%256 != 0 {
		return nil
	}
	return ctx.Err()
}

// passEnd tells tick the requests of a pass of n that checkCtx has not
// (the last n mod tickEvery, or tickEvery when n is a multiple).
func passEnd(n int, tick func(int)) {
	if tick == nil || n == 0 {
		return
	}
	if r := n % tickEvery; r != 0 {
		tick(r)
	} else {
		tick(tickEvery)
	}
}
