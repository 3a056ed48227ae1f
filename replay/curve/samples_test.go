package curve_test

import (
	"testing"

	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
	"github.com/kvscope/kvscope/samples"
)

func loadSample(t testing.TB, name string) *trace.Trace {
	t.Helper()
	return tracetest.Sample(t, name)
}

// spread lists n capacities from lo to hi (geometric), lo and hi included,
// plus the first few above lo.
func spread(lo, hi int64, n int) []int64 {
	out := []int64{lo, lo + 1, lo + 2}
	for i := 1; i <= n; i++ {
		c := lo + (hi-lo)*int64(i)*int64(i)/int64(n*n)
		if c > out[len(out)-1] {
			out = append(out, c)
		}
	}
	return append(out, hi+1)
}

func TestSamples(t *testing.T) {
	for _, name := range samples.Names() {
		tr := loadSample(t, name)
		for _, u := range units() {
			for _, w := range []int{1, 3} {
				cfg := curve.Config{Workers: w, Router: spec("round_robin"), Unit: u}
				cv, err := curve.Compute(tr, cfg)
				if err != nil {
					t.Fatalf("%s %s: %v", name, u, err)
				}
				for _, c := range spread(cv.MinCapacity, cv.MaxCapacity, 25) {
					checkAt(t, tr, cfg, cv, c)
				}
			}
		}
	}
}
