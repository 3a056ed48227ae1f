package seq_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/gen"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
)

// multiturnNative is `kvscope gen multiturn --clients N` as native bytes.
func multiturnNative(b *testing.B, clients int) []byte {
	p := gen.DefaultMultiturn()
	p.Clients = clients
	_, data := tracetest.Generate(b, &p, trace.FormatNative, "bench")
	return data
}

var benchCfg = seq.Config{Workers: 8, Router: spec("round_robin"), Evict: spec("lru"), Unit: kvcache.Blocks, Capacity: 4000, Seed: 1}

// Whole-process hit-only replay of a 10k-request multiturn trace, 8
// workers of 4,000 blocks, lru: streamed (RunStream, what `kvscope replay`
// does) against loading the trace first (Run). Reading and parsing are
// included. go test ./replay/seq -run '^$' -bench Multiturn -benchmem
func BenchmarkStreamMultiturn(b *testing.B) {
	data := multiturnNative(b, 2000)
	n := 0
	for b.Loop() {
		s, err := trace.OpenReader("bench", bytes.NewReader(data), trace.ReadOptions{KeepIDs: true})
		if err != nil {
			b.Fatal(err)
		}
		res, err := seq.RunStream(s, benchCfg, 0)
		if err != nil {
			b.Fatal(err)
		}
		n += res.Requests
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "requests/s")
}

func BenchmarkLoadRunMultiturn(b *testing.B) {
	data := multiturnNative(b, 2000)
	n := 0
	for b.Loop() {
		tr, err := trace.LoadBytes("bench", data, trace.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := seq.Run(tr, benchCfg)
		if err != nil {
			b.Fatal(err)
		}
		n += res.Requests
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "requests/s")
}

// mooncake20 is the Mooncake conversation trace repeated 20 times (240,620
// requests, 5,770,000 block lookups), each repetition after the last in
// time; ownIDs gives each repetition ids of its own (no block is shared
// between repetitions), as in the libCacheSim pair of BENCHMARKS.md.
func mooncake20(b *testing.B, ownIDs bool) []byte {
	data, err := os.ReadFile(filepath.Join(testenv.SharedTraces(b), "mooncake", "conversation_trace.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	type line struct {
		Timestamp    int64    `json:"timestamp"`
		InputLength  int      `json:"input_length"`
		OutputLength int      `json:"output_length"`
		HashIDs      []uint64 `json:"hash_ids"`
	}
	var lines []line
	var maxID uint64
	for l := range bytes.Lines(data) {
		var x line
		if err := json.Unmarshal(l, &x); err != nil {
			b.Fatal(err)
		}
		for _, id := range x.HashIDs {
			maxID = max(maxID, id)
		}
		lines = append(lines, x)
	}
	span := lines[len(lines)-1].Timestamp + 1
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	for rep := range 20 {
		for _, x := range lines {
			y := x
			y.Timestamp += int64(rep) * span
			if ownIDs {
				y.HashIDs = make([]uint64, len(x.HashIDs))
				for i, id := range x.HashIDs {
					y.HashIDs[i] = id + uint64(rep)*(maxID+1)
				}
			}
			if err := enc.Encode(y); err != nil {
				b.Fatal(err)
			}
		}
	}
	return out.Bytes()
}

// BenchmarkStreamMooncake20 is the kvscope half of the libCacheSim pair
// (BENCHMARKS.md, "Whole-process replay against libCacheSim") in one
// process: what `kvscope replay T --evict lru --cache-blocks 4000` does
// (8 workers, round_robin, streamed, parsing included, no original ids
// kept), over the trace in memory.
//
//	go test ./replay/seq -run '^$' -bench Mooncake20 -benchmem -count 5
func BenchmarkStreamMooncake20(b *testing.B) {
	for _, own := range []bool{false, true} {
		name := "plain"
		if own {
			name = "own-ids"
		}
		b.Run(name, func(b *testing.B) {
			data := mooncake20(b, own)
			lookups := 0
			for b.Loop() {
				s, err := trace.OpenReader("mc20", bytes.NewReader(data), trace.ReadOptions{})
				if err != nil {
					b.Fatal(err)
				}
				res, err := seq.RunStream(s, benchCfg, 0)
				if err != nil {
					b.Fatal(err)
				}
				if res.Requests != 240_620 {
					b.Fatalf("%d requests", res.Requests)
				}
				lookups += 5_770_000
			}
			b.ReportMetric(float64(lookups)/b.Elapsed().Seconds(), "lookups/s")
		})
	}
}
