package analysis

import (
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
)

// job is one run to make: a scenario at one seed.
type job struct {
	// key is the run's canonical string (sim.Resolve), its cell key.
	key    string
	sc     scenario.Scenario
	charts bool
	keep   bool
}

type jobResult struct {
	m       RunMetrics
	charts  *ChartData
	records []RequestRow
	rows    *SpilledRows // a streamed run's records (CompareStream)
	err     error
}

// plan collects the distinct runs of a comparison: identical (canonical
// scenario, seed) pairs run once.
type plan struct {
	jobs  []job
	index map[string]int
}

func (p *plan) add(sc scenario.Scenario, charts, keep bool) (int, error) {
	key, err := sim.Resolve(sc)
	if err != nil {
		return -1, err
	}
	if i, ok := p.index[key]; ok {
		p.jobs[i].charts = p.jobs[i].charts || charts
		p.jobs[i].keep = p.jobs[i].keep || keep
		return i, nil
	}
	p.index[key] = len(p.jobs)
	p.jobs = append(p.jobs, job{key: key, sc: sc, charts: charts, keep: keep})
	return len(p.jobs) - 1, nil
}

// seedsOf returns the seeds a scenario runs with.
func seedsOf(sc scenario.Scenario, n int) []uint64 {
	if !sc.Randomized() {
		return []uint64{sc.Seed}
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// planned is one scenario (or sweep point) mapped to its jobs, one per seed.
type planned struct {
	seeds []uint64
	jobs  []int
	err   error
}

func (p *plan) scenario(sc scenario.Scenario, n int, charts, keep bool) planned {
	pl := planned{seeds: seedsOf(sc, n)}
	for i, s := range pl.seeds {
		c := sc
		c.Seed = s
		j, err := p.add(c, charts && i == 0, keep)
		if err != nil {
			pl.err = err
			return pl
		}
		pl.jobs = append(pl.jobs, j)
	}
	return pl
}
