package analysis

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// runJobs runs every job on a pool of goroutines. Results are placed by
// index, so the outcome does not depend on scheduling.
func runJobs(ctx context.Context, tr *trace.Trace, jobs []job, opt CompareOptions) ([]jobResult, error) {
	results := make([]jobResult, len(jobs))
	var tick func(int64) // nil: no Work, and the runs report nothing
	if opt.Work != nil {
		var (
			mu   sync.Mutex
			work int64
		)
		total := 2 * int64(len(tr.Requests)) * int64(len(jobs))
		tick = func(d int64) {
			mu.Lock()
			work += d
			opt.Work(work, total)
			mu.Unlock()
		}
	}
	err := forEach(ctx, len(jobs), opt.Parallel, func(i int) {
		results[i] = runOne(ctx, tr, jobs[i], opt.Points, tick)
	}, opt.Progress)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	return results, nil
}

// forEach calls f(0) … f(n−1) on par goroutines (GOMAXPROCS when par ≤ 0),
// each index once, and progress (serialised) after each call; it stops
// handing out indices once ctx is done and then returns ctx's error. f
// places its result by index, so the outcome does not depend on
// scheduling. Comparisons and plans (Plan's cells) share it.
func forEach(ctx context.Context, n, par int, f func(i int), progress func(done, total int)) error {
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	par = min(par, n)
	var (
		next atomic.Int64
		done int
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for range par {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				f(i)
				if progress != nil {
					mu.Lock()
					done++
					progress(done, n)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

const cdfPoints = 200

// runOne runs one job, telling tick (if not nil) the work it does (Work's
// units: the trace's requests simulated, then through the ratio step;
// whatever is left when it stops early, at its end).
func runOne(ctx context.Context, tr *trace.Trace, j job, points int, tick func(int64)) (res jobResult) {
	n, counted := int64(len(tr.Requests)), int64(0)
	count := func(upTo int64) {
		if upTo > counted {
			tick(upTo - counted)
			counted = upTo
		}
	}
	var simProgress, ratioProgress func(done, total int)
	if tick != nil {
		defer count(2 * n)
		simProgress = func(done, _ int) { count(int64(done)) }
		ratioProgress = func(done, total int) { count(n + int64(done)*n/int64(max(total, 1))) }
	} else {
		count = func(int64) {}
	}
	defer func() {
		// A panic in one run must not take the other scenarios down.
		// Simulate recovers its own (naming the request); this catches
		// the metrics and charts computed from its result.
		if p := recover(); p != nil {
			res = jobResult{err: sim.Recovered(j.sc.String(), p)}
		}
	}()
	run, err := sim.Simulate(ctx, tr, j.sc, sim.Options{Progress: simProgress})
	if err != nil {
		return jobResult{err: err}
	}
	count(n)
	rs, err := RatiosProgress(ctx, tr, run, j.sc, ratioProgress)
	if err != nil {
		return jobResult{err: err}
	}
	res.m = Summary(tr, run, j.sc)
	res.m.SetRatios(rs)
	if j.charts {
		ms, frac := TTFTCDF(run)
		res.charts = &ChartData{
			Seed:     j.sc.Seed,
			HitRatio: HitRatioSeries(run, points),
			Queue:    QueueSeries(run, points),
			TTFTCDF:  thinCDF(ms, frac, cdfPoints),
		}
	}
	if j.keep {
		res.records = make([]RequestRow, len(run.Records))
		for i := range run.Records {
			r := &run.Records[i]
			res.records[i] = requestRow(r, &tr.Requests[r.Index])
		}
	}
	return res
}

// thinCDF keeps at most n points of a CDF: the values at evenly spaced
// ranks (thinRanks), always including the last.
func thinCDF(ms, frac []float64, n int) Series {
	if len(ms) <= n {
		return Series{T: ms, V: frac}
	}
	var s Series
	for _, j := range thinRanks(len(ms), n) {
		s.T = append(s.T, ms[j])
		s.V = append(s.V, frac[j])
	}
	return s
}

// thinRanks are the 0-based ranks thinCDF keeps of N sorted values: all of
// them when N ≤ n, else the ⌈i·N/n⌉-th smallest for i = 1..n, ascending.
func thinRanks(N, n int) []int {
	if N <= n {
		out := make([]int, N)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, n)
	for i := 1; i <= n; i++ {
		out[i-1] = int(math.Ceil(float64(i)*float64(N)/float64(n))) - 1
	}
	return out
}
