package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write writes path through fn into a temporary file in the same
// directory and renames it into place, so a reader never sees a partial file
// and a failed write leaves any old file untouched. The path "-" writes to
// standard output directly.
func Write(path string, fn func(io.Writer) error) (err error) {
	if path == "-" {
		bw := bufio.NewWriter(os.Stdout)
		if err := fn(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	if err = fn(f); err != nil {
		return err
	}
	return f.Commit()
}

// File is a file being written whole or not at all (Create): writes go
// to a buffered temporary file beside the target, which Commit renames
// into place and Abort removes. It is for output produced over a long
// time (a run's spilled records), where Write's one function does not fit.
type File struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	done bool
}

// Create starts writing path through a temporary file in its directory,
// buffered by 64 KiB.
func Create(path string) (*File, error) { return CreateSize(path, 1<<16) }

// CreateSize is Create with a buffer of size bytes.
func CreateSize(path string, size int) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return nil, err
	}
	return &File{path: path, f: f, bw: bufio.NewWriterSize(f, size)}, nil
}

// Write buffers p for the temporary file.
func (f *File) Write(p []byte) (int, error) { return f.bw.Write(p) }

// Commit flushes, syncs and renames the file into place; on error the
// temporary file is removed and any old file is left untouched.
func (f *File) Commit() (err error) {
	if f.done {
		return fmt.Errorf("%s: already committed or aborted", f.path)
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	if err = f.bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	if err = f.f.Sync(); err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	if err = f.f.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	if err = f.f.Close(); err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	if err = os.Rename(f.f.Name(), f.path); err != nil {
		os.Remove(f.f.Name())
		return err
	}
	f.done = true
	return nil
}

// Abort drops what was written: the temporary file is closed and removed
// and the target is left as it was. It does nothing after Commit.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close()
	os.Remove(f.f.Name())
}
