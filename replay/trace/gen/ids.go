package gen

import (
	"fmt"

	"github.com/kvscope/kvscope/replay/trace"
)

// MaxBlocks is the number of block ids a generated trace may use at once:
// dense uint32 ids 0 … 2^32-2 (the Table keeps 2^32-1 as its root marker).
const MaxBlocks = 1<<32 - 1

// ErrBlocksExhausted is wrapped by the error a generator returns when a
// trace would need more than MaxBlocks unique blocks (gsp, longdoc, cycle:
// their shared blocks live for the whole trace), or, for multiturn, more
// than MaxBlocks ids alive at once.
var ErrBlocksExhausted = fmt.Errorf("more than %d unique blocks (uint32 block ids exhausted)", uint64(MaxBlocks))

// alloc hands out block ids sequentially from 0. Generators allocate a
// block when the request that first holds it is emitted, so ids are dense
// and in order of first appearance: exactly the ids a Table would assign
// when reading the trace back, which is why writers can take the chain as
// is (t == nil).
//
// Used wide (multiturn's: take given oldest), it counts on 64 bits and
// never runs out: the trace's id of a block is its 64-bit number, its dense
// id that number modulo MaxBlocks, and the two name the same block as long
// as no block still in use is MaxBlocks or more numbers old (take checks it
// against the oldest id its generator still holds). Writers then write the
// 64-bit ids (Orig); below 2^32-1 ids nothing differs.
type alloc struct {
	next uint64
	// oldest is a lower bound on the oldest number still in use, refreshed
	// from take's oldest only when the window reaches it (the true value
	// only grows: ids are handed out in increasing order).
	oldest uint64
}

// take reserves n consecutive ids and returns the first's number; dense
// converts a number to its dense id. oldest returns the oldest number still
// in use; it is called only when the window is about to pass it, and nil
// means not wide (MaxBlocks ids in all).
func (a *alloc) take(n int, req int64, oldest func() (uint64, bool)) (uint64, error) {
	if end := a.next + uint64(n); end > MaxBlocks {
		if oldest == nil {
			return 0, fmt.Errorf("request %d: %w", req, ErrBlocksExhausted)
		}
		if end-a.oldest > MaxBlocks {
			a.oldest = a.next // nothing held: every live id is new
			if o, ok := oldest(); ok {
				a.oldest = o
			}
			if end-a.oldest > MaxBlocks {
				return 0, fmt.Errorf("request %d: block %d still in use %d ids later: %w", req, a.oldest, end-a.oldest, ErrBlocksExhausted)
			}
		}
	}
	first := a.next
	a.next += uint64(n)
	return first, nil
}

// dense is the dense id of block number x.
func dense(x uint64) trace.BlockID { return trace.BlockID(x % MaxBlocks) }

// Orig is the 64-bit number of dense id d: the one number ≡ d (mod
// MaxBlocks) among the last MaxBlocks handed out (d itself before the
// numbers pass MaxBlocks). It implements trace.IDNames for writers.
func (a *alloc) Orig(d trace.BlockID) uint64 {
	if a.next <= MaxBlocks {
		return uint64(d)
	}
	top := a.next - 1
	return top - (top-uint64(d)+MaxBlocks)%MaxBlocks
}

// ceilDiv is ⌈a/b⌉ for a ≥ 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
