package analysis

import (
	"slices"
)

// TTFTCDF is the report's TTFT CDF chart (TTFTCDF thinned to at most n
// points, as Compare draws it) from the tally instead of the run's
// records. From an exact tally, held or spilled (SpillValues), it gives
// the same values to the bit: the tally holds every completed request's
// TTFT in ms, as TTFTCDF collects them, and the kept ranks are thinCDF's.
// From a sketched tally the values at those ranks are within
// SketchRelativeAccuracy (the fractions are exact). Call it before
// Metrics, which releases a spilled tally's file; an error is one met
// reading the spilled values back.
func (t *Tally) TTFTCDF(n int) (Series, error) {
	if t.sketched {
		var all Sketch
		for w := range t.sTTFT {
			all.Merge(&t.sTTFT[w])
		}
		N := int(all.N())
		s := Series{V: []float64{}}
		for _, j := range thinRanks(N, n) {
			s.T = append(s.T, all.atRank(int64(j+1)))
			s.V = append(s.V, float64(j+1)/float64(N))
		}
		return s, nil
	}
	var (
		cs  []valueCursor
		N   int
		err error
	)
	if t.spilled() {
		t.spill.flush(t)
		if err := t.spill.err; err != nil { // a failed flush: the file is short
			return Series{}, err
		}
		runs := slices.Concat(t.spill.ttft...)
		if cs, N, err = t.spill.cursors(runs, len(runs)); err != nil {
			return Series{}, err
		}
	} else {
		for w := range t.ttft {
			slices.Sort(t.ttft[w])
			N += len(t.ttft[w])
			cs = append(cs, valueCursor{buf: t.ttft[w]})
		}
	}
	if N == 0 {
		return Series{V: []float64{}}, nil // as thinCDF of TTFTCDF's empty result
	}
	ranks := thinRanks(N, n)
	s := Series{T: make([]float64, 0, len(ranks)), V: make([]float64, 0, len(ranks))}
	next := 0
	err = walkMerged(N, cs, func(k int, x float64) {
		if next < len(ranks) && ranks[next] == k-1 {
			s.T = append(s.T, x)
			s.V = append(s.V, float64(k)/float64(N))
			next++
		}
	})
	return s, err
}
