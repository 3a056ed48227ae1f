package scenario

import (
	"fmt"
	"strings"
)

// OversizedError stops a run under oversize=error before any work: some
// requests' input plus output allowance exceed the per-worker cache. It
// names the first such request, how many there are and the largest need,
// and says which setting lets the run go on: a cache of at least Largest,
// or oversize=bypass (serve them uncached) or fail (count them failed).
// The explorer reads Fix to offer the re-run.
type OversizedError struct {
	// Source locates the first oversize request (file, member, line).
	Source string
	// Index is its position in the trace.
	Index int
	// Footprint is its need in Unit.
	Footprint int64
	// Count is how many requests exceed the cache; Largest the largest need.
	Count   int
	Largest int64
	// Capacity is the per-worker cache in Unit.
	Capacity int64
	// Unit is "blocks" or "tokens".
	Unit string
}

// NoteOversize records request index (at source, needing fp) as oversize:
// the first one is kept, the count and the largest need grow.
func (e *OversizedError) NoteOversize(source string, index int, fp int64) {
	if e.Count == 0 {
		e.Source, e.Index, e.Footprint = source, index, fp
	}
	e.Count++
	e.Largest = max(e.Largest, fp)
}

// SizeKey is the scenario key that gives a cache of the error's unit.
func (e *OversizedError) SizeKey() string {
	if e.Unit == string(Tokens) {
		return "cache_tokens"
	}
	return "cache_blocks"
}

func (e *OversizedError) Error() string {
	key := e.SizeKey()
	return fmt.Sprintf("%s. To go on, give %s=%d or more (--%s %d), or oversize=bypass to serve such requests uncached (--oversize bypass), or oversize=fail to count them failed (--oversize fail)",
		e.Brief(), key, e.Largest, strings.ReplaceAll(key, "_", "-"), e.Largest)
}

// Brief is the error without the ways to go on: where they are offered
// otherwise (the explorer's keys).
func (e *OversizedError) Brief() string {
	src := ""
	if e.Source != "" {
		src = e.Source + ": "
	}
	others := ""
	if e.Count > 1 {
		others = fmt.Sprintf(" (%d requests do, up to %d)", e.Count, e.Largest)
	}
	return fmt.Sprintf("%srequest %d needs %d %s (input plus output allowance), more than the cache's %d%s",
		src, e.Index, e.Footprint, e.Unit, e.Capacity, others)
}
