package sim

import (
	"cmp"
	"slices"

	"github.com/kvscope/kvscope/replay/rng"
	"github.com/kvscope/kvscope/replay/seq"
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
	seq.Ratios
}

// ratios computes every worker's WorkerRatios. The sequential replay of a
// randomized policy draws from its own stream ("evict-seq"), so asking for
// ratios never changes the timed run.
func (c *cluster) ratios() error {
	bs := c.tr.Info.BlockSize
	sc := &c.cfg.sc
	byWorker := make([][]*Record, c.run.Workers)
	for i := range c.run.Records {
		r := &c.run.Records[i]
		if r.Status == Completed && r.Worker >= 0 {
			byWorker[r.Worker] = append(byWorker[r.Worker], r)
		}
	}
	c.run.Ratios = make([]WorkerRatios, c.run.Workers)
	for w, recs := range byWorker {
		slices.SortFunc(recs, func(a, b *Record) int {
			return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Index, b.Index))
		})
		reqs := make([]*trace.Request, len(recs))
		for i, r := range recs {
			reqs[i] = &c.tr.Requests[r.Index]
		}
		pm, r, err := seq.SequentialRatios(reqs, sc.Evict, rng.Stream(sc.Seed, "evict-seq", w), c.cfg.unit, c.cfg.capacity, bs)
		if err != nil {
			return err
		}
		c.run.Ratios[w] = WorkerRatios{Sequence: len(reqs), PolicyMissed: pm, Ratios: r}
	}
	return nil
}
