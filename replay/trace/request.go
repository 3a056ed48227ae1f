package trace

import (
	"fmt"
	"time"
)

// BlockID is a dense block index assigned by a Table in order of first
// appearance. Dense ids let caches index slices instead of hashing the
// trace's 64-bit ids; the original id stays available through Table.Orig.
type BlockID = uint32

// NoParent is the parent of a root block and of a request without one.
const NoParent = -1

// Request is one prompt for one worker (SPEC §1).
//
// Blocks is the request's root-to-leaf chain. Every block weighs BlockSize
// tokens except the last, which weighs LastBlockTokens (a partial block of a
// Mooncake trace). Tokens past the chain (kv-cache-tester's tail beyond the
// last full block) have no id: they always miss and occupy capacity only while
// the request runs; TailTokens gives their count.
type Request struct {
	// Index is the request's 0-based position in the trace after reading
	// (and sorting, when asked).
	Index int
	// Source names where the request came from for error messages:
	// "FILE:LINE" or "ARCHIVE[MEMBER]:requests[i]".
	Source string
	// Arrival is the time since the trace's start.
	Arrival time.Duration
	// Input and Output are token counts.
	Input  int
	Output int
	// Blocks is the chain of dense block ids, root to leaf.
	Blocks []BlockID
	// LastBlockTokens is the token weight of the last block of Blocks
	// (BlockSize unless the last block is partial); 0 when Blocks is empty.
	LastBlockTokens int

	// Session groups requests of one conversation or agent session; -1 none.
	Session int64
	// ID is the trace's own request id where it has one (Qwen-Bailian
	// chat_id, native id); otherwise the Index.
	ID int64
	// Parent is the ID of the previous turn, or NoParent.
	Parent int64
	// Turn is the 1-based turn number within the session, 0 if unknown.
	Turn int
	// ThinkS is the user's think time before this turn, in seconds.
	ThinkS float64
	// Type is the trace's request type label, if any ("n", "s", "text", …).
	Type string
	// Tags are free labels carried through native traces.
	Tags []string
}

// BlockTokens returns the token weight of block i of the chain given the
// trace's block size.
func (r *Request) BlockTokens(i, blockSize int) int {
	if i == len(r.Blocks)-1 {
		return r.LastBlockTokens
	}
	return blockSize
}

// ChainTokens is the number of input tokens covered by block ids.
func (r *Request) ChainTokens(blockSize int) int {
	if len(r.Blocks) == 0 {
		return 0
	}
	return (len(r.Blocks)-1)*blockSize + r.LastBlockTokens
}

// TailTokens is the number of input tokens past the last block id.
func (r *Request) TailTokens(blockSize int) int {
	return r.Input - r.ChainTokens(blockSize)
}

// Validate checks the request's own invariants for a trace of the given
// block size. It does not check the one-parent rule (Table does).
func (r *Request) Validate(blockSize int) error {
	switch {
	case r.Input < 0:
		return fieldErr("input_length", "negative (%d)", r.Input)
	case r.Output < 0:
		return fieldErr("output_length", "negative (%d)", r.Output)
	case r.Arrival < 0:
		return fieldErr("timestamp", "negative (%s)", r.Arrival)
	case r.Arrival > MaxTime:
		return fieldErr("timestamp", "too large (%s; %s)", fmtDur(r.Arrival), maxTimeText)
	}
	if r.ThinkS != 0 {
		if err := checkSeconds("think_s", r.ThinkS); err != nil {
			return err
		}
	}
	if len(r.Blocks) == 0 {
		if r.LastBlockTokens != 0 {
			return fieldErr("hash_ids", "last block weight %d without blocks", r.LastBlockTokens)
		}
		return nil
	}
	if r.LastBlockTokens < 1 || r.LastBlockTokens > blockSize {
		return fieldErr("hash_ids", "last block weight %d outside 1..%d", r.LastBlockTokens, blockSize)
	}
	if c := r.ChainTokens(blockSize); c > r.Input {
		return fieldErr("hash_ids", "%d blocks of %d tokens cover %d tokens, more than input_length %d",
			len(r.Blocks), blockSize, c, r.Input)
	}
	return nil
}

// FieldError is a problem with one field of one record. Readers wrap it with
// the file and line: "FILE:LINE: field: reason".
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
