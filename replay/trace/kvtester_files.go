package trace

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// The kv-cache-tester format's inputs: a single session file, a tar archive
// of them (FormatInfo.Archives) or a directory of them (the format opens
// directories itself). Each file's bytes go to kvReader.file; see
// kvtester.go for the parsing and merging.

type kvFile struct {
	name  string // member or file name (for messages)
	label string // "ARCHIVE[MEMBER]" or FILE
	data  []byte
}

// readKVTester reads a single .json file or a tar archive (already
// decompressed) into the stream's buffer: the format reads archives itself
// (FormatInfo.Archives).
func (s *Stream) readKVTester(br *bufio.Reader) error {
	name := s.name
	head, _ := br.Peek(512)
	k := &kvReader{s: s}
	if isTar(head) {
		return k.readTar(name, br)
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return fmt.Errorf("%s: %w", name, readErr(err))
	}
	return k.finish([]kvFile{{name: name, label: name, data: data}}, true)
}

// readKVTesterDir reads a directory of session files (the format opens
// directories itself), in sorted name order.
func (s *Stream) readKVTesterDir(dir string) error {
	names, err := sortedJSON(dir)
	if err != nil {
		return err
	}
	k := &kvReader{s: s}
	for rank, n := range names {
		f, err := os.Open(n)
		if err != nil {
			return err
		}
		br, closers, err := decompress(n, f)
		var data []byte
		if err == nil {
			data, err = io.ReadAll(br)
			if err != nil {
				err = fmt.Errorf("%s: %w", n, readErr(err))
			}
		}
		for _, c := range closers {
			c.Close()
		}
		f.Close()
		if err != nil {
			return err
		}
		if err := k.file(rank, kvFile{name: n, label: n, data: data}); err != nil {
			return err
		}
	}
	return k.done()
}

// sortedJSON lists the .json files of a directory (compressed ones too),
// sorted by name.
func sortedJSON(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && (strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".json.gz") ||
			strings.HasSuffix(n, ".json.zst") || strings.HasSuffix(n, ".json.xz")) {
			names = append(names, filepath.Join(dir, n))
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no .json files", dir)
	}
	return names, nil
}

func (k *kvReader) readTar(name string, br *bufio.Reader) error {
	tr := tar.NewReader(br)
	var data []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			// Read what follows the tar end so that a damaged or truncated
			// compressed stream is noticed.
			// (Not io.Copy: bufio.Reader.WriteTo would bypass the error
			// its buffer already holds.)
			if err := drainReader(br); err != nil {
				return fmt.Errorf("%s: truncated or corrupt archive: %w", name, readErr(err))
			}
			break
		}
		if err != nil {
			return fmt.Errorf("%s: truncated or corrupt archive: %w", name, err)
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".json") || strings.HasPrefix(path.Base(h.Name), "._") {
			continue
		}
		if h.Size > 1<<30 {
			return fmt.Errorf("%s[%s]: member too large (%d bytes)", name, h.Name, h.Size)
		}
		// Grow with what arrives rather than trusting the header's size.
		var err2 error
		data, err2 = readAllInto(data[:0], tr)
		if err2 == nil && int64(len(data)) != h.Size {
			err2 = io.ErrUnexpectedEOF
		}
		if err2 != nil {
			return fmt.Errorf("%s[%s]: truncated archive: %w", name, h.Name, readErr(err2))
		}
		// Members are parsed as they come, numbered in archive order;
		// done() renumbers them by sorted name if the archive was not sorted.
		if err := k.file(len(k.files), kvFile{name: h.Name, label: name + "[" + h.Name + "]", data: data}); err != nil {
			return err
		}
	}
	if len(k.files) == 0 {
		return fmt.Errorf("%s: archive has no .json members", name)
	}
	return k.done()
}

// finish parses in-memory files (a single .json).
func (k *kvReader) finish(files []kvFile, _ bool) error {
	for i := range files {
		if err := k.file(i, files[i]); err != nil {
			return err
		}
	}
	return k.done()
}

func drainReader(r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readAllInto appends all of r to buf.
func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
