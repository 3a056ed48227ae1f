//go:build unix

package analysis

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkSweepMerge merges 1,000 cell results of the sample trace (one
// randomized scenario, 4 workers, 200 cache sizes × 5 seeds) and renders
// the JSON report: `sweep merge`'s work but for loading the binary and
// the cells file. cpu-s/op is the process's CPU time per merge (all
// threads: reading the files runs on every core), which a loaded machine
// does not inflate as it does the wall time.
func BenchmarkSweepMerge(b *testing.B) {
	dir := b.TempDir()
	var vals []string
	for v := range 200 {
		vals = append(vals, fmt.Sprint(600+v))
	}
	cp, c, _, _ := sweepFixture(b, dir, "cache_blocks="+strings.Join(vals, ","), 5, "lbgr+rlt")
	res := filepath.Join(dir, "res")
	runShards(b, cp, c, []string{res})
	if len(c.Cells) < 1000 {
		b.Fatalf("%d cells, want 1000", len(c.Cells))
	}
	b.ReportMetric(float64(len(c.Cells)), "cells")
	cpu0 := processCPU(b)
	for b.Loop() {
		cmp, err := c.MergeSweep(cp, []string{res})
		if err != nil {
			b.Fatal(err)
		}
		rep := &Report{Command: "x", Version: "bench", Stats: c.Stats, Comparison: cmp}
		var w bytes.Buffer
		if err := rep.Write(&w, FormatJSON); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((processCPU(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
