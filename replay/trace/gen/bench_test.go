package gen

import (
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

// The generators alone, without a writer: requests and block ids per
// second. go test -run '^$' -bench . ./replay/trace/gen/
func benchGen(b *testing.B, g Generator) {
	var reqs, blocks int
	for b.Loop() {
		if err := g.Generate(func(r *trace.Request) error {
			reqs++
			blocks += len(r.Blocks)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(reqs)/s, "requests/s")
	b.ReportMetric(float64(blocks)/s, "blocks/s")
}

func BenchmarkGSPDefault(b *testing.B) {
	p := DefaultGSP()
	benchGen(b, &p)
}

func BenchmarkMultiturnDefault(b *testing.B) {
	p := DefaultMultiturn()
	benchGen(b, &p)
}

func BenchmarkLongdocDefault(b *testing.B) {
	p := DefaultLongdoc()
	benchGen(b, &p)
}
