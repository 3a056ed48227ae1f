// Package atomicfile writes a file whole or not at all: through a temporary
// file in the same directory, synced and renamed into place, so a reader
// never sees a partial file and a failed write leaves any old file
// untouched. Reports (analysis) and traces (replay/trace) are written
// through it. It imports nothing of this module.
package atomicfile
