package evict

import "github.com/kvscope/kvscope/replay/trace"

// BeladyMisses is the Belady bound of SPEC §5 (block mode): Belady's MIN on
// the flattened block sequence (each request's blocks root to leaf, no
// pinning, no tree) with capacity blocks. It is a true lower bound on the
// block misses of every policy on that sequence. Not a registered policy.
func BeladyMisses(seq [][]trace.BlockID, capacity int64) int64 {
	total := 0
	maxID := -1
	for _, ch := range seq {
		total += len(ch)
		for _, b := range ch {
			maxID = max(maxID, int(b))
		}
	}
	if total == 0 || capacity < 1 {
		return int64(total)
	}
	flat := make([]trace.BlockID, 0, total)
	for _, ch := range seq {
		flat = append(flat, ch...)
	}
	next := make([]int32, total)
	last := make([]int32, maxID+1)
	for i := range last {
		last[i] = never
	}
	for i := total - 1; i >= 0; i-- {
		next[i] = last[flat[i]]
		last[flat[i]] = int32(i)
	}
	var h keyHeap // cached blocks keyed by farthest next use first
	var misses int64
	for i, b := range flat {
		k := uint64(never - next[i])
		if h.has(b) {
			h.rekey(b, k, 0, 0)
			continue
		}
		misses++
		if int64(h.len()) >= capacity {
			v, _ := h.min()
			h.remove(v)
		}
		h.push(b, k, 0, 0)
	}
	return misses
}

// CompulsoryMisses is the token-mode bound of SPEC §5: the weight of every
// block's first occurrence plus every request's tail tokens (which have no
// id and always miss), in tokens. No optimality claim is made in token mode.
func CompulsoryMisses(reqs []*trace.Request, blockSize int) int64 {
	seen := map[trace.BlockID]struct{}{}
	var m int64
	for _, r := range reqs {
		for i, b := range r.Blocks {
			if _, ok := seen[b]; !ok {
				seen[b] = struct{}{}
				m += int64(r.BlockTokens(i, blockSize))
			}
		}
		m += int64(r.TailTokens(blockSize))
	}
	return m
}
