package tui

import (
	"fmt"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/sim"
)

// spilledFacts are a spilled run's constants, from its records footer.
func spilledFacts(sp *sim.Spilled) runFacts {
	f := sp.Footer()
	return runFacts{start: f.Start, end: f.End, workers: f.Workers, capacity: f.Capacity, unit: f.Unit,
		loadUnit: f.LoadUnit, requests: sp.Records.Len()}
}

// spilledRequest is request i's row of the requests file. Its source is
// the trace's name and the request's line, as a held trace's reader
// writes it ("FILE:LINE"); a trace without lines (an archive) shows the
// name alone.
func spilledRequest(sp *sim.Spilled, i int) (reqInfo, error) {
	var q sim.RequestInfo
	if err := sp.Requests.Read(i, &q); err != nil {
		return reqInfo{}, err
	}
	src := sp.Footer().Trace.Source
	if q.Line > 0 {
		src = fmt.Sprintf("%s:%d", src, q.Line)
	}
	return reqInfo{source: src, input: int(q.Input), output: int(q.Output), blocks: int(q.Blocks),
		session: q.Session, turn: int(q.Turn)}, nil
}

// newSpilledMetrics opens dir again for the metrics at the cursor, which
// run off the event loop (spilledRun).
func newSpilledMetrics(dir string) (*spilledMetrics, error) {
	sp, err := sim.OpenSpill(dir)
	if err != nil {
		return nil, err
	}
	m, err := analysis.NewSpilledMetrics(analysis.SpilledRunOf(sp))
	if err != nil {
		sp.Close()
		return nil, err
	}
	return &spilledMetrics{sp: sp, m: m}, nil
}

// spilledMetrics is analysis.SpilledMetrics with the handle it reads.
type spilledMetrics struct {
	sp *sim.Spilled
	m  *analysis.SpilledMetrics
}

func (s *spilledMetrics) Close() error { return s.sp.Close() }

// spilledView computes a spilled run's chart series, as newRunView does a
// held run's, reading sp: the caller's only until it hands the run over
// (a spilled run's UI handle, read by the replay's goroutine before the
// event loop has it).
func spilledView(sp *sim.Spilled) (*runView, error) {
	var err error
	r := analysis.SpilledRunOf(sp)
	v := &runView{}
	if r.End <= r.Start {
		return v, nil
	}
	if v.hit, err = r.HitRatioSeries(seriesPoints); err != nil {
		return nil, err
	}
	qs, err := r.QueueSeries(seriesPoints)
	if err != nil {
		return nil, err
	}
	v.queue, v.queueMax = analysis.SumSeries(qs)
	if v.ttft, err = r.TTFTSeries(seriesPoints); err != nil {
		return nil, err
	}
	if v.inflight, err = r.InFlightSeries(seriesPoints); err != nil {
		return nil, err
	}
	return v, nil
}
