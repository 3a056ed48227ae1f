package progress

import (
	"io"
	"sync/atomic"
)

// Reader counts the bytes read through it and reports each read to a
// callback. Wrap the file itself, below any decompression, so the count is
// of the file's own bytes and comparable with its size.
type Reader struct {
	r     io.Reader
	n     atomic.Int64
	total int64
	on    func(n, total int64)
}

// NewReader wraps r; total is the input's size (0 or less: unknown) and
// on, if set, is called after every read with the bytes read so far.
func NewReader(r io.Reader, total int64, on func(n, total int64)) *Reader {
	return &Reader{r: r, total: total, on: on}
}

// chunk caps one read, so that a small compressed file (1.3 MB of .xz
// holding 100 MB of JSON) still reports in steps: its reader would
// otherwise take it in one or two buffer-sized gulps.
const chunk = 32 << 10

func (c *Reader) Read(b []byte) (int, error) {
	if len(b) > chunk {
		b = b[:chunk]
	}
	n, err := c.r.Read(b)
	if n > 0 {
		v := c.n.Add(int64(n))
		if c.on != nil {
			c.on(v, c.total)
		}
	}
	return n, err
}

// N is the bytes read so far.
func (c *Reader) N() int64 { return c.n.Load() }

// Writer counts the bytes written through it (gen's output).
type Writer struct {
	w io.Writer
	n atomic.Int64
}

// NewWriter wraps w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (c *Writer) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// N is the bytes written so far.
func (c *Writer) N() int64 { return c.n.Load() }
