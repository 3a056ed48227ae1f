package trace

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
)

// writeSynthetic writes a multiturn-shaped native trace: clients
// conversations of turns turns, each turn adding userBlocks blocks to the
// conversation's chain (every request carries the whole history). With
// hashed, ids are scrambled 64-bit values (the Table's map path) instead of
// consecutive integers (its flat path). It returns the file size, requests
// and unique blocks.
func writeSynthetic(tb testing.TB, path string, clients, turns, userBlocks int, hashed bool) (size int64, requests, unique int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := NewNativeWriter(bw, 16, "synthetic")
	if err != nil {
		tb.Fatal(err)
	}
	var next uint64
	id := func() uint64 {
		next++
		if !hashed {
			return next
		}
		z := next * 0x9e3779b97f4a7c15 // splitmix64 finaliser
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return (z ^ z>>31) >> 1
	}
	// The writer gets dense ids and a table that maps them to the 64-bit
	// ids written.
	tab := NewTable(true)
	chains := make([][]uint64, clients)
	var dense []BlockID
	var at int64
	// Interleave clients turn by turn, as concurrent conversations do.
	for turn := range turns {
		for c := range clients {
			for range userBlocks {
				chains[c] = append(chains[c], id())
			}
			if dense, err = tab.Intern(dense[:0], chains[c]); err != nil {
				tb.Fatal(err)
			}
			at += 1e6
			r := Request{Arrival: timeDur(at), Input: len(chains[c]) * 16, Output: 4, Blocks: dense,
				LastBlockTokens: 16, Session: int64(c), ID: int64(requests), Parent: NoParent, Turn: turn + 1}
			if err := w.Write(&r, tab); err != nil {
				tb.Fatal(err)
			}
			requests++
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	fi, _ := f.Stat()
	f.Close()
	return fi.Size(), requests, int(next)
}

// memProbe samples HeapAlloc right after runtime.GC every `every` requests
// (100,000 in benchmarks).
type memProbe struct {
	every int
	peak  uint64
}

func (m *memProbe) probe() StatsProbe {
	return StatsProbe{Every: m.every, Func: func(int, int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		m.peak = max(m.peak, ms.HeapAlloc)
	}}
}

// benchStats runs ComputeStats over path and reports MB/s, requests/s,
// allocated bytes per request and the peak sampled heap against the budget
// of 64 bytes per unique block plus 16 per request, which it enforces.
func benchStats(b *testing.B, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	m := memProbe{every: 100_000}
	var st *Stats
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	for b.Loop() {
		s, err := Open(path, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if st, err = ComputeStatsProbe(s, m.probe()); err != nil {
			b.Fatal(err)
		}
		s.Close()
		n++
	}
	runtime.ReadMemStats(&after)
	reqs := float64(st.Requests) * float64(n)
	b.ReportMetric(reqs/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/reqs, "alloc-B/req")
	limit := 64*uint64(st.UniqueBlocks) + 16*uint64(st.Requests)
	b.ReportMetric(float64(m.peak)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(limit)/1e6, "limit-MB")
	if st.Requests >= 100_000 && m.peak == 0 {
		b.Fatal("no heap sample taken")
	}
	if m.peak > limit {
		b.Fatalf("peak HeapAlloc %d bytes over the budget %d (64·%d blocks + 16·%d requests)", m.peak, limit, st.UniqueBlocks, st.Requests)
	}
}

// BenchmarkStatsNative: 120,000 requests (5,000 conversations of 24 turns,
// 2 new 16-token blocks a turn), 240,000 unique blocks, with consecutive ids
// (flat table) and with scrambled 64-bit ids (map).
func BenchmarkStatsNative(b *testing.B) {
	for _, c := range []struct {
		name   string
		hashed bool
	}{{"dense_ids", false}, {"hashed_ids", true}} {
		b.Run(c.name, func(b *testing.B) {
			p := filepath.Join(b.TempDir(), "syn.jsonl")
			writeSynthetic(b, p, 5000, 24, 2, c.hashed)
			benchStats(b, p)
		})
	}
}

// BenchmarkStatsBigTrace reads the trace named by $KVSCOPE_BIG_TRACE (the
// 1 GB `kvscope gen multiturn` trace of BENCHMARKS.md); skipped without it
// (a failure under KVSCOPE_REQUIRE_EXTERNAL=1, as for any outside input).
func BenchmarkStatsBigTrace(b *testing.B) {
	p := os.Getenv("KVSCOPE_BIG_TRACE")
	testenv.Require(b, "$KVSCOPE_BIG_TRACE (a native trace, see BENCHMARKS.md)", p != "")
	benchStats(b, p)
}

// BenchmarkReadMooncake: reader throughput on the real Mooncake trace.
func BenchmarkReadMooncake(b *testing.B) {
	p := filepath.Join(testenv.SharedTraces(b), "mooncake", "conversation_trace.jsonl")
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	var reqs int
	for b.Loop() {
		s, err := Open(p, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var r Request
		for {
			err := s.NextInto(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			reqs++
		}
		s.Close()
	}
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkReadKVTesterArchive: the whole kv-cache-tester archive (1.3 MB
// xz, 441 MB of JSON), read and merged.
func BenchmarkReadKVTesterArchive(b *testing.B) {
	p := filepath.Join(testenv.SharedTraces(b), "kv-cache-tester", "traces.tar.xz")
	var reqs int
	for b.Loop() {
		s, err := Open(p, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n, err := drain(s)
		if err != nil {
			b.Fatal(err)
		}
		reqs += n
		s.Close()
	}
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(441e6*float64(b.N)/1e6/b.Elapsed().Seconds(), "unpacked-MB/s")
}

// TestStatsMemoryBudget is the benchmark's memory check as a test, on a
// smaller synthetic trace with hashed ids (the map path, the worst case), so
// that `go test` enforces the budget too.
func TestStatsMemoryBudget(t *testing.T) {
	testenv.SkipIfShort(t, "40,000 synthetic requests with heap probes take about 20 times longer under -race; the plain pass checks the budget")
	p := filepath.Join(t.TempDir(), "syn.jsonl")
	_, reqs, unique := writeSynthetic(t, p, 1000, 40, 2, true)
	s, err := Open(p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := memProbe{every: 10_000}
	st, err := ComputeStatsProbe(s, m.probe())
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != reqs || st.UniqueBlocks != unique {
		t.Fatalf("requests %d/%d, unique %d/%d", st.Requests, reqs, st.UniqueBlocks, unique)
	}
	limit := 64*uint64(unique) + 16*uint64(reqs)
	t.Logf("peak HeapAlloc %d bytes for %d blocks, %d requests (budget %d, %.1f B/block)", m.peak, unique, reqs, limit, float64(m.peak)/float64(unique))
	if m.peak == 0 || m.peak > limit {
		t.Fatalf("peak HeapAlloc %d, budget %d", m.peak, limit)
	}
}

// BenchmarkLoadMooncake: the Mooncake trace read whole into memory (what
// run, compare and the explorer do), against BenchmarkReadMooncake's
// streaming read: the difference is collect's cost.
func BenchmarkLoadMooncake(b *testing.B) {
	p := filepath.Join(testenv.SharedTraces(b), "mooncake", "conversation_trace.jsonl")
	var reqs int
	for b.Loop() {
		tr, err := Load(p, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		reqs += len(tr.Requests)
	}
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "req/s")
}
