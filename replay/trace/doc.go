// Package trace owns kvscope's request model (SPEC §1), the dense block-id
// table that enforces the one-parent rule, the streaming readers for every
// trace format of SPEC §2, the native and Mooncake writers, and the one-pass
// trace statistics behind `kvscope trace stats`. It knows nothing of caches,
// timing or terminals: it must not import charm/terminal code (bubbletea,
// lipgloss, …) nor any other kvscope package.
//
// # Reading
//
//	s, err := trace.Open(path, trace.ReadOptions{})   // or OpenReader
//	for { r, err := s.Next(); if err == io.EOF { break } … }
//	st, err := trace.ComputeStats(s)                  // streams
//	t, err := trace.Load(path, opt)                   // whole trace in memory
//	t, err := trace.LoadBytes("sample:NAME", data, opt)
//
// Next returns a fresh *Request each call; NextInto reuses the caller's
// Request (and its Blocks and Tags arrays), which is what streaming consumers
// use.
// Requests come in arrival order; Arrival is a time.Duration since the
// trace's start. Every reader interns ids through one Table, so a chain is a
// root-to-leaf path of dense ids and an id under two parents is an error
// "FILE:LINE: hash_ids[i]: id X already has parent Y".
//
// A consumer that streams a trace longer than memory bounds the table
// (Table.SetLimit, Full, Sweep; see Table): past the limit it names the
// ids it still holds, the table forgets the others and hands their dense
// ids out again, and the one-parent rule is then checked only against ids
// still live. A stream that holds its requests (Stream.Holds: --sort,
// kv-cache-tester) must not be bounded. NextInto on native and Mooncake
// input allocates one string per 64 requests (their Request.Source,
// "FILE:LINE", as substrings of one: lines.loc), nothing else per request
// (an allocation per request before, measured with -memprofilerate 1 on a
// multiturn trace and the Mooncake trace; 4,162 allocations for the
// Mooncake trace repeated 20 times, 240,620 requests, in
// BenchmarkStreamMooncake20).
//
// The format is detected from the content (the first line of JSONL, the
// CSV header, a tar header) unless ReadOptions.Format forces one; gzip, zstd
// and xz are undone transparently by their magic bytes (nested too: a
// .tar.xz is xz, then tar).
//
// # Formats
//
// The formats are one table, builtinFormats in formats.go: each entry
// (FormatInfo) carries the name, the Doc that help shows, the content sniff,
// the opener, the reader options it records in Info.Options, what it
// reads besides a single file (kvtester: tar archives and directories), the
// block size its readers assume when the files record none, and its writer
// if it has one (native, mooncake). Formats, ParseFormat, detection, Open,
// `kvscope trace` (convert and head write through the table's writers) and
// `kvscope gen --format` all read that table and nothing else. Adding a format is its reader in a file of its own
// and one line in the table; RegisterFormat adds one from outside the
// package (tests, extensions) through the exported Records interface, after
// the built-in ones in detection order.
//
//   - mooncake: JSONL {"timestamp": ms, "input_length", "output_length",
//     "hash_ids"}; 512-token blocks (ReadOptions.BlockSize overrides, for
//     Mooncake-shaped traces with other pages); len(hash_ids) must be
//     ceil(input_length/block_size), the last block weighing what is left.
//   - bailian (Qwen-Bailian): the Mooncake fields with timestamp in seconds,
//     plus chat_id (the request's ID), parent_chat_id (-1 root: Parent),
//     turn and type; 16-token blocks. len(hash_ids) may be
//     ceil(input_length/16) (partial last block) or floor (tail without id).
//     A request's Session is the chat_id of its root turn. No real sample
//     was available: the reader is tested on files built from the schema.
//   - kvtester (kv-cache-tester): one session per JSON file; a single file,
//     a directory of .json files, or a tar archive (.tar.xz read directly).
//     Files are ranked in sorted member-name order; with hash_id_scope
//     "local" a file's ids are namespaced as rank<<32 | id, and the file's
//     requests get Session = rank. In an archive only regular members named
//     *.json are sessions (other members, such as a README, are not records
//     and are passed over). len(hash_ids) must be
//     floor(in/block_size): the tail has no id. A sub-agent entry's requests
//     arrive at the entry's t plus their own t, are chained (Parent) from the
//     parent's previous request, and carry the tags "subagent",
//     "agent_id=…" and "subagent_type=…". Sessions start at 0 unless
//     SessionStart says "poisson:rate=R" (seeded exponential gaps, the first
//     session at 0) or "stagger:s=S". Because sessions interleave, this
//     reader reads every file first, holding each request in a few words (a
//     chain is determined by its leaf), and emits all requests merged by
//     arrival, ties in (rank, position in file) order. Request IDs number
//     requests in that file order. Locations read
//     "ARCHIVE[MEMBER]:requests[i]" or "FILE:requests[i]" (with
//     ".requests[j]" inside a sub-agent), since each file is one JSON line.
//   - azure (Azure LLM inference 2023): CSV TIMESTAMP,ContextTokens,
//     GeneratedTokens; timestamps are read as UTC with up to 7 fractional
//     digits and kept as deltas from the first row (a row earlier than the
//     first is an error, even with Sort). No prefix data: each
//     request gets fresh ids, one per block of BlockSize (default 16)
//     tokens, the partial last block included. ContextTokens above 2^24 is
//     an error (one row would otherwise cost gigabytes of block table).
//   - native: kvscope's own JSONL, below.
//
// # Native format, version 1
//
// The first line is a header:
//
//	{"format":"kvscope-trace","version":1,"block_size":16,"source":"…"}
//
// Then one request per line, fields in this order, each left out when it has
// its default:
//
//	arrival_s          seconds since the trace's start, the exact decimal of
//	                   its nanoseconds (always written)
//	input, output      token counts (always written)
//	blocks             block ids root to leaf (default [])
//	last_block_tokens  weight of the last block (default block_size)
//	session            session id (default -1: none)
//	id                 request id (default: the request's 0-based line index)
//	parent             id of the previous turn (default -1: none)
//	think_s            think time before this turn, seconds (default 0)
//	turn               1-based turn number (default 0: unknown)
//	type               request type label (default "")
//	tags               free labels (default [])
//
// Tokens past the chain (input − covered tokens) have no id. Unknown fields
// are ignored, so later versions may add fields; a change of meaning bumps
// the version. Writers are deterministic: same requests, same bytes.
//
// # Time limits
//
// Every time a reader returns is at most MaxSeconds = 1e9 s (about 31.7
// years): arrivals (Mooncake timestamp in ms, Qwen-Bailian timestamp in s,
// native arrival_s, an Azure row's delta from the first, kv-cache-tester
// session start + sub-agent entry t + t) and think times (native think_s,
// kv-cache-tester think_time). A larger, negative or non-finite value is a
// record error "FILE:LINE: field: too large (V; at most 1e9 s, about 31.7
// years)", skippable with SkipBad; a kv-cache-tester sub-agent entry whose
// own t is bad fails each of its requests. Session starts (poisson,
// stagger) past the limit are an error of the option. The writers refuse
// what the readers would (Request.Validate). The bound is far beyond any
// recorded trace and keeps every single time, and the sum of a few, well
// inside time.Duration (about 292 years); the simulator bounds what a
// replay derives from them (time_scale, chains of think times, service
// times) against its own limit, sim.MaxTime.
//
// # Errors
//
// A record that does not parse stops the read with "FILE:LINE: field:
// reason" (*recordError wrapping a *FieldError or *ParentError). With
// SkipBad the record is skipped and counted in Info.Skipped (by reason, the
// first ten messages kept); a skipped record leaves nothing in the table.
// I/O failures (a truncated archive or compressed stream) always stop the
// read. Out-of-order arrivals are an error naming the line unless Sort, which
// holds the requests (compactly) and emits them stably sorted.
//
// # Writing
//
// NewNativeWriter and NewMooncakeWriter write requests deterministically
// (fixed field order, exact decimals): Write(r, t) writes t.Orig of each
// dense id (the trace's own ids; t == nil writes r.Blocks as they are).
// Splitter rewrites blocks into smaller pages with derived ids (`trace
// convert --block-size`). WriteFileAtomic writes an output through a
// temporary file in the same directory and a rename.
package trace
