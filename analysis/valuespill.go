package analysis

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"slices"
)

// DefaultSpillValues is how many values an exact tally holds before it
// spills them (Tally.SpillValues): 2^23 float64s, 64 MB, about 2.8 M
// requests' TTFT, E2E and queueing.
const DefaultSpillValues = 1 << 23

// valueSpill is where an exact tally's values go once it holds more than
// its budget: each flush sorts every per-worker slice and writes it as a
// sorted run to one temporary file (unlinked once created, so nothing is
// left behind however the process ends); Metrics then walks the merged
// order of a distribution's runs (summarizeMerged), which gives
// Summarize's figures to the bit. Memory is the budget (up to twice that
// in the slices' capacity: flush) plus one read buffer per run being
// merged; the file takes 24 bytes a request.
type valueSpill struct {
	dir    string
	budget int
	f      *os.File
	bw     *bufio.Writer
	// linked: the file could not be unlinked while open; close removes it.
	linked bool
	off    int64
	// runs of each distribution: ttft[w], e2e[w], queue.
	ttft, e2e [][]sortedRun
	queue     []sortedRun
	err       error
}

// sortedRun is n ascending float64s at offset off of the spill file.
type sortedRun struct{ off, n int64 }

// write sorts xs and appends it to the file as one run.
func (s *valueSpill) write(xs []float64) sortedRun {
	r := sortedRun{off: s.off, n: int64(len(xs))}
	if len(xs) == 0 || s.err != nil {
		return sortedRun{}
	}
	slices.Sort(xs)
	var b [8]byte
	for _, x := range xs {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
		if _, err := s.bw.Write(b[:]); err != nil {
			s.err = fmt.Errorf("spilling percentile values: %w", err)
			return sortedRun{}
		}
	}
	s.off += 8 * r.n
	return r
}

// unlinkOpen removes the file open just created; a variable so that a
// test can make it fail, as it does on Windows.
var unlinkOpen = os.Remove

// open creates the unlinked temporary file on the first flush.
func (s *valueSpill) open() error {
	if s.f != nil || s.err != nil {
		return s.err
	}
	f, err := os.CreateTemp(s.dir, "kvscope-values-*")
	if err != nil {
		s.err = fmt.Errorf("spilling percentile values: %w", err)
		return s.err
	}
	// Unlinked while open: the data lives until the file is closed, and
	// no path is left behind by a crash or an interrupt. (Where the
	// system refuses, as Windows does, close removes it.)
	s.linked = unlinkOpen(f.Name()) != nil
	s.f, s.bw = f, bufio.NewWriterSize(f, 1<<20)
	return nil
}

// flush writes the tally's held values as sorted runs and empties them.
// A slice keeps its capacity for the next ones only where it held at
// least half of it: capacity left from an earlier interval (requests
// that moved to other workers since) is dropped, so what the slices keep
// is at most twice the budget however the requests spread over workers.
func (s *valueSpill) flush(t *Tally) {
	if s.open() != nil {
		return
	}
	empty := func(xs []float64) []float64 {
		if cap(xs) > 2*len(xs) {
			return nil
		}
		return xs[:0]
	}
	for w := range t.ttft {
		if r := s.write(t.ttft[w]); r.n > 0 {
			s.ttft[w] = append(s.ttft[w], r)
		}
		if r := s.write(t.e2e[w]); r.n > 0 {
			s.e2e[w] = append(s.e2e[w], r)
		}
		t.ttft[w], t.e2e[w] = empty(t.ttft[w]), empty(t.e2e[w])
	}
	if r := s.write(t.queue); r.n > 0 {
		s.queue = append(s.queue, r)
	}
	t.queue = empty(t.queue)
	t.held = 0
	if s.err == nil {
		if err := s.bw.Flush(); err != nil {
			s.err = fmt.Errorf("spilling percentile values: %w", err)
		}
	}
}

// summarize is Summarize of the values in runs, read back in chunks.
func (s *valueSpill) summarize(runs []sortedRun, cursors int) (Dist, error) {
	cs, n, err := s.cursors(runs, cursors)
	if err != nil {
		return Dist{}, err
	}
	return summarizeMerged(n, cs)
}

// cursors are cursors over runs, read back in chunks, and the number of
// values they hold.
func (s *valueSpill) cursors(runs []sortedRun, cursors int) ([]valueCursor, int, error) {
	// About 1 MB of the file's bytes and 1 MB of their values in all,
	// 256 values per cursor at least.
	chunk := int64(max(256, min(8192, (1<<20)/8/max(cursors, 1))))
	n := int64(0)
	cs := make([]valueCursor, len(runs))
	for i, r := range runs {
		n += r.n
		pos, end := r.off, r.off+8*r.n
		raw := make([]byte, 8*chunk)
		vals := make([]float64, chunk)
		cs[i].refill = func() ([]float64, error) {
			k := min(chunk, (end-pos)/8)
			if k == 0 {
				return nil, nil
			}
			if _, err := s.f.ReadAt(raw[:8*k], pos); err != nil {
				return nil, fmt.Errorf("reading spilled percentile values: %w", err)
			}
			pos += 8 * k
			for j := range k {
				vals[j] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*j:]))
			}
			return vals[:k], nil
		}
		b, err := cs[i].refill()
		if err != nil {
			return nil, 0, err
		}
		cs[i].buf = b
	}
	return cs, int(n), nil
}

// close releases the file (and removes it where open could not).
func (s *valueSpill) close() {
	if s.f == nil {
		return
	}
	s.f.Close()
	if s.linked {
		os.Remove(s.f.Name())
	}
	s.f = nil
}
