package analysis

import (
	"io"
	"path/filepath"
	"strings"

	"github.com/kvscope/kvscope/internal/atomicfile"
)

// WriteFile writes the report in format f to path, whole or not at all
// (a temporary file renamed into place: a failed render leaves any old
// report untouched); "-" writes to standard output.
func (r *Report) WriteFile(path string, f Format) error {
	return atomicfile.Write(path, func(w io.Writer) error { return r.Write(w, f) })
}

// WriteFile writes the live report to path like Report.WriteFile: JSON for
// a .json path (any case), Markdown otherwise.
func (r *LiveReport) WriteFile(path string) error {
	write := r.WriteMarkdown
	if strings.EqualFold(filepath.Ext(path), ".json") {
		write = r.WriteJSON
	}
	return atomicfile.Write(path, write)
}

// WriteFile writes the curve report to path in format f, whole or not at
// all, like Report.WriteFile.
func (r *CurveReport) WriteFile(path string, f Format) error {
	return atomicfile.Write(path, func(w io.Writer) error { return r.Write(w, f) })
}
