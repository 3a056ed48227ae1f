package gen

import (
	"fmt"

	"github.com/kvscope/kvscope/replay/trace"
)

// MaxBlocks is the number of block ids a generated trace may use: dense
// uint32 ids 0 … 2^32-2 (the Table keeps 2^32-1 as its root marker).
const MaxBlocks = 1<<32 - 1

// ErrBlocksExhausted is wrapped by the error a generator returns when a
// trace would need more than MaxBlocks unique blocks.
var ErrBlocksExhausted = fmt.Errorf("more than %d unique blocks (uint32 block ids exhausted)", uint64(MaxBlocks))

// alloc hands out block ids sequentially from 0. Generators allocate a
// block when the request that first holds it is emitted, so ids are dense
// and in order of first appearance: exactly the ids a Table would assign
// when reading the trace back, which is why writers can take the chain as
// is (t == nil).
type alloc struct{ next uint64 }

// take reserves n consecutive ids and returns the first.
func (a *alloc) take(n int, req int64) (trace.BlockID, error) {
	if a.next+uint64(n) > MaxBlocks {
		return 0, fmt.Errorf("request %d: %w", req, ErrBlocksExhausted)
	}
	first := trace.BlockID(a.next)
	a.next += uint64(n)
	return first, nil
}

// ceilDiv is ⌈a/b⌉ for a ≥ 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
