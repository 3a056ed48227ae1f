package trace

import (
	"io"

	"github.com/kvscope/kvscope/internal/atomicfile"
)

// WriteFileAtomic writes path through fn into a temporary file in the same
// directory and renames it into place, so a reader never sees a partial file
// and a failed write leaves any old file untouched. The path "-" writes to
// standard output directly. See internal/atomicfile.
func WriteFileAtomic(path string, fn func(io.Writer) error) error {
	return atomicfile.Write(path, fn)
}
