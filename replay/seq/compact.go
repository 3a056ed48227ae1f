package seq

import (
	"slices"

	"github.com/kvscope/kvscope/replay/trace"
)

// compact returns copies of reqs whose block ids are renumbered densely
// from 0, keeping their order: block a < block b after exactly when it was
// before.
//
// Why: a cache's per-block state is a dense array indexed by block id
// (kvcache and every policy size theirs from the largest id), and trace ids
// are numbered over the whole trace. One worker of W sees about 1/W of the
// ids but would allocate for all of them, several times over (the policy's
// replay, opt's, the Belady bound); on the Mooncake trace with 8 workers
// that was about 1 GB of allocation per compare of 12 runs, and the GC
// cycles it drove cost 15% of the compare's time once the ratio step left
// the simulator (which had kept a large live heap around it).
//
// Renumbering in order keeps every result byte-identical: policies break
// ties by id (keyHeap, idset's order statistics), and ids only ever meet
// through comparisons. The copies share nothing with the trace except
// their strings.
func compact(reqs []*trace.Request) []*trace.Request {
	n := 0
	for _, r := range reqs {
		n += len(r.Blocks)
	}
	ids := make([]trace.BlockID, 0, n)
	for _, r := range reqs {
		ids = append(ids, r.Blocks...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)

	blocks := make([]trace.BlockID, n)
	copies := make([]trace.Request, len(reqs))
	out := make([]*trace.Request, len(reqs))
	for i, r := range reqs {
		copies[i] = *r
		chain := blocks[:len(r.Blocks):len(r.Blocks)]
		blocks = blocks[len(r.Blocks):]
		for j, b := range r.Blocks {
			k, _ := slices.BinarySearch(ids, b)
			chain[j] = trace.BlockID(k)
		}
		copies[i].Blocks = chain
		out[i] = &copies[i]
	}
	return out
}
