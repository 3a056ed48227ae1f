package trace

// Trace is a whole trace held in memory: what replays read.
type Trace struct {
	Requests []Request
	// Blocks holds the dense id table (parents, original ids).
	Blocks *Table
	Info   Info
}

// Info describes where a trace came from and how it was read. It is written
// with the trace's statistics into every result (SPEC §1: reader options that
// change the trace are part of what decides a run).
type Info struct {
	// Source is the path (or "sample:NAME" for embedded samples).
	Source string `json:"source"`
	// Format is the detected or forced format name.
	Format Format `json:"format"`
	// BlockSize is the number of tokens per block.
	BlockSize int `json:"block_size"`
	// Options is the canonical string of the reader options that change the
	// trace (block size for Azure, session start for kv-cache-tester, sort).
	Options string `json:"options,omitempty"`
	// Skipped counts lines skipped under --skip-bad, with reasons.
	Skipped Skipped `json:"skipped_lines"`
}

// Skipped counts lines that did not parse and were skipped (--skip-bad).
type Skipped struct {
	Count int `json:"count"`
	// Reasons maps a reason (field: reason, without the line) to its count.
	Reasons map[string]int `json:"reasons,omitempty"`
	// First lists up to 10 full messages (FILE:LINE: field: reason).
	First []string `json:"first,omitempty"`
}

// Format names a trace format.
type Format string

const (
	FormatMooncake Format = "mooncake"
	FormatBailian  Format = "bailian"
	FormatKVTester Format = "kvtester"
	FormatAzure    Format = "azure"
	FormatNative   Format = "native"
)
