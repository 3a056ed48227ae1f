// Package progress owns kvscope's sign of life on long work: one status
// line on standard error, rewritten in place with a carriage return and
// cleared at the end, and the "wrote FILE (SIZE)" line after every file a
// command writes.
//
// The line is driven by the work's own callbacks (bytes read of the input,
// requests replayed, runs done), never by a timer: a Printer draws at most
// one update per MinInterval (10 a second) and drops the others, so a
// callback can call it as often as it likes. It draws only when standard
// error is a terminal (Auto), or always (Always: tests and logs that want
// to see it), or never; --quiet silences it and the wrote lines.
//
// Reader counts the bytes of the input as read from the file, before any
// decompression, so the fraction of a .xz, .zst or .tar.xz trace read is
// compressed bytes against the file's size: the real share of the work.
//
// It knows nothing of traces or terminals' contents beyond "is this a
// terminal"; callers format the text.
package progress
