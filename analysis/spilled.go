package analysis

import (
	"context"
	"errors"
	"math"
	"sort"
	"time"

	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// SpilledRun is a spilled run (sim.OpenSpill) with the figures of its
// shape that its series and metrics need: what sim.Run holds beside its
// records, events and samples, which SpilledRunOf takes from the records
// footer (first arrival, last completion, each worker's B and its unit).
//
// Its readers share the spill files' buffers (sim.Spilled): one goroutine
// at a time may use a SpilledRun, or anything built on it (SpilledMetrics
// included); another goroutine opens the run again.
type SpilledRun struct {
	Sp         *sim.Spilled
	Scenario   string
	Trace      trace.Info
	Workers    int
	Capacity   int64
	Unit       string
	Start, End time.Duration
}

// SpilledRunOf is sp with the scenario, trace information and worker
// count of its records footer.
func SpilledRunOf(sp *sim.Spilled) SpilledRun {
	f := sp.Records.Footer()
	return SpilledRun{Sp: sp, Scenario: f.Scenario, Trace: f.Trace, Workers: f.Workers,
		Capacity: f.Capacity, Unit: f.Unit, Start: f.Start, End: f.End}
}

// states is the run's states set over its span, for the series.
func (r SpilledRun) states() fileStates {
	return fileStates{f: r.Sp.States, start: r.Start, end: r.End}
}

// fileStates is a states spill set (sim.OpenStates) with its run's span,
// as states: a spilled run's, or a streamed comparison's charted run's.
type fileStates struct {
	f          *sim.StateFile
	start, end time.Duration
}

func (s fileStates) span() (time.Duration, time.Duration) { return s.start, s.end }

func (s fileStates) stateAt(t time.Duration) (sim.State, error) { return s.f.StateAt(t) }

// shape is the run's shape as a sim.Run without records, events or
// samples (cursorTally.metrics).
func (r SpilledRun) shape() sim.Run {
	return sim.Run{Scenario: r.Scenario, Trace: r.Trace, Workers: r.Workers,
		Capacity: r.Capacity, Unit: r.Unit, Start: r.Start, End: r.End}
}

// HitRatioSeries is HitRatioSeries over the spilled run: the same values,
// to the bit, from n reads of its states (StateFile.StateAt). A read's
// error is returned.
func (r SpilledRun) HitRatioSeries(n int) (Series, error) { return hitRatioSeries(r.states(), n) }

// QueueSeries is QueueSeries over the spilled run (one Series per worker;
// SumSeries adds them up), as HitRatioSeries.
func (r SpilledRun) QueueSeries(n int) ([]Series, error) {
	return queueSeries(r.states(), r.Workers, n)
}

// InFlightSeries is InFlightSeries over the spilled run, as
// HitRatioSeries.
func (r SpilledRun) InFlightSeries(n int) (Series, error) { return inFlightSeries(r.states(), n) }

// SumSeries adds series sampled at the same instants (QueueSeries' per
// worker, say) into one, and returns its largest value (0 for none).
// The T of the result is the first series'; nil series give an empty
// Series.
func SumSeries(ss []Series) (sum Series, maxV float64) {
	if len(ss) == 0 {
		return Series{}, 0
	}
	sum.T = ss[0].T
	sum.V = make([]float64, len(ss[0].V))
	for _, s := range ss {
		for i, v := range s.V {
			sum.V[i] += v
		}
	}
	for _, v := range sum.V {
		maxV = max(maxV, v)
	}
	return sum, maxV
}

// TTFTSeries is TTFTSeries over the spilled run, in memory bounded by n:
// one Sketch per window instead of every TTFT, filled by one scan of the
// records file. Each median is within SketchRelativeAccuracy of
// TTFTSeries' exact one (Sketch's bound) and NaN exactly where that is;
// the instants are the same. A read's error is returned.
func (r SpilledRun) TTFTSeries(n int) (Series, error) {
	g := grid(r.Start, r.End, n)
	sk := make([]Sketch, len(g))
	err := r.Sp.Records.Scan(func(rec *sim.Record) error {
		if j, ok := ttftWindow(g, rec); ok {
			sk[j].Add(rec.TTFT())
		}
		return nil
	})
	if err != nil {
		return Series{}, err
	}
	return windowSeries(g, func(j int) float64 { return sk[j].Quantile(0.5) }), nil
}

// SpilledMetrics is MetricsAt over a spilled run, in memory bounded by
// the workers, the sketches and the run's failures, not by its requests
// (NewSpilledMetrics). Like SpilledRun, one goroutine at a time may use
// it.
type SpilledMetrics struct {
	run SpilledRun
	// logged: the run has an event log; failAt then holds each failed
	// request's first LogFail instant (MetricsAt's failure time).
	logged bool
	failAt map[int32]time.Duration
	// sorted is whether the records' arrivals never decrease (0 unknown,
	// 1 yes, -1 no), learnt by At's first whole scan: a scan of sorted
	// records stops at the first arrival after the cursor.
	sorted int8
	// ck are the checkpoints that first scan builds when the records are
	// sorted (spilledCheckpoints), in order of index and instant.
	ck []checkpoint
	// For tests: noCheckpoints keeps At to scans from the start; ckStep
	// and flyCap, when set, replace the checkpoints' spacing and
	// in-flight cap; ckAlways starts from a checkpoint whenever there is
	// one (not only where that reads less); ckUsed is the checkpoint the
	// last At started from (-1: a scan from the start).
	noCheckpoints  bool
	ckStep, flyCap int
	ckAlways       bool
	ckUsed         int
}

// NewSpilledMetrics reads r's event log once, keeping the instant of
// every failure it logs: a map of one entry per failed request (about
// 40 bytes each: 38 measured for a million), the only thing it holds
// that grows with the run.
func NewSpilledMetrics(r SpilledRun) (*SpilledMetrics, error) {
	m := &SpilledMetrics{run: r, logged: r.Sp.Events.Len() > 0, failAt: map[int32]time.Duration{}}
	err := r.Sp.Events.Scan(func(_ int, e sim.Event) error {
		if e.Kind == sim.LogFail {
			if _, ok := m.failAt[e.Req]; !ok { // events are in time order: the first is the earliest
				m.failAt[e.Req] = e.T
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Failures is the number of failure instants held: the failed requests
// the event log records.
func (m *SpilledMetrics) Failures() int { return len(m.failAt) }

// At is MetricsAt(run, seed, t) over the spilled run: a sketch tally
// (NewSketchTally) of the requests that arrived by t, and the counters
// of StateFile.StateAt(t). Every count (requests, completed, failed, in
// flight, bypassed, failure reasons, per-worker requests and
// completions), the hit tokens and blocks, the loads, imbalance,
// makespan and throughput equal MetricsAt's exactly; TTFT, E2E and
// queueing percentiles come from sketches, within SketchRelativeAccuracy
// of MetricsAt's exact ones (their means and counts exact), and
// PercentilesNote says so. A read's error is returned, never a shortened
// summary.
//
// The first call scans the whole records file and, when their arrivals
// are in trace order, builds checkpoints (spilledCheckpoints); a later
// call starts from the last checkpoint at or before t and reads only the
// requests in flight there (one RecordFile.Read each) and those arriving
// after it up to t (RecordFile.ScanFrom), where that costs less than a
// scan from the first record (which stops at the first arrival after t).
// Both give the same RunMetrics, to the bit: a checkpoint's sketches
// merge into the sketch of all their values, and the sketch's figures
// depend on that multiset only (Sketch).
func (m *SpilledMetrics) At(seed uint64, t time.Duration) (RunMetrics, error) {
	return m.AtContext(context.Background(), seed, t)
}

// errPastCursor stops a scan of sorted records at the first request
// arriving after the cursor.
var errPastCursor = errors.New("past the cursor")

// AtContext is At, given up (with ctx's error) when ctx is done: a cursor
// that moved on need not wait for a scan of a long run.
func (m *SpilledMetrics) AtContext(ctx context.Context, seed uint64, t time.Duration) (RunMetrics, error) {
	r := m.run
	m.ckUsed = -1
	c, ok, err := m.fromCheckpoint(ctx, t)
	if err != nil {
		return RunMetrics{}, err
	}
	if !ok {
		if c, err = m.scan(ctx, t); err != nil {
			return RunMetrics{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return RunMetrics{}, err
	}
	st, err := r.Sp.States.StateAt(t)
	if err != nil {
		return RunMetrics{}, err
	}
	return c.metrics(r.shape(), st, seed), nil
}

// failedBy is cursorTally.add's failedBy for rec at t: for a failed
// request, whether its failure came by t (at its arrival without an
// event log).
func (m *SpilledMetrics) failedBy(rec *sim.Record, t time.Duration) bool {
	if rec.Status != sim.Failed {
		return false
	}
	at, ok := m.failAt[rec.Index]
	return !m.logged || ok && at <= t
}

// endAt is the instant from which rec counts as ended at every cursor
// that it arrived by (cursorTally.add): its failure (its arrival without
// an event log), or its last token; never (math.MaxInt64) for a failure
// the log does not hold or a request with no last token.
func (m *SpilledMetrics) endAt(rec *sim.Record) time.Duration {
	if rec.Status == sim.Failed {
		if !m.logged {
			return rec.Arrival
		}
		if at, ok := m.failAt[rec.Index]; ok {
			return at
		}
		return math.MaxInt64
	}
	if rec.Done < 0 {
		return math.MaxInt64
	}
	return rec.Done
}

// scan is At's tally from a scan of the records file from its start,
// stopping at the first arrival after t once the records are known
// sorted. The first whole scan learns whether they are, and builds the
// checkpoints if so; it then tallies for t only the rows from the last
// checkpoint at or before t on, and starts from that checkpoint at the
// end, so that it adds each request's values to sketches about once,
// not twice. (Where that checkpoint is dropped, At starts again as a
// later call would.)
func (m *SpilledMetrics) scan(ctx context.Context, t time.Duration) (*cursorTally, error) {
	r := m.run
	c := newCursorTally(t, r.Workers, NewSketchTally(r.Workers))
	sorted := m.sorted
	var prev time.Duration
	var b *ckBuilder
	// from: the checkpoint the first scan starts t's tally from (-1:
	// none), start its row.
	from, start := -1, 0
	if sorted == 0 {
		sorted = 1
		prev = math.MinInt64
		if !m.noCheckpoints {
			var err error
			if b, err = m.newCkBuilder(); err != nil {
				return nil, err
			}
			if from = sort.Search(len(b.ck), func(x int) bool { return b.ck[x].t > t }) - 1; from >= 0 {
				start = b.ck[from].i
			}
		}
	}
	n := 0
	err := r.Sp.Records.Scan(func(rec *sim.Record) error {
		if n++; n%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch {
		case m.sorted == 1 && rec.Arrival > t:
			return errPastCursor
		case m.sorted == 0:
			if rec.Arrival < prev {
				sorted, b = -1, nil
			}
			prev = rec.Arrival
		}
		if b != nil {
			b.add(rec, m.endAt(rec))
		}
		if int(rec.Index) >= start {
			c.add(rec, m.failedBy(rec, t))
		}
		return nil
	})
	switch {
	case errors.Is(err, errPastCursor):
		return c, nil
	case err != nil:
		return nil, err
	}
	m.sorted = sorted // a whole scan saw every arrival
	if b != nil {
		m.ck = b.finish()
	}
	switch {
	case start == 0:
		return c, nil
	case m.ck != nil && m.ck[from].ended != nil:
		m.ckUsed = from
		return c, m.resume(ctx, c, &m.ck[from])
	}
	// The records were found out of order, or from was dropped.
	if c, ok, err := m.fromCheckpoint(ctx, t); ok || err != nil {
		return c, err
	}
	return m.scan(ctx, t)
}

// Checkpoints (SpilledMetrics.ck). The records are cut every step rows,
// checkpoint j at row i_j = min((j+1)·step, n), instant t_j the arrival
// of row i_j − 1: with the records sorted, every request before i_j
// arrived by t_j, and from any cursor t ≥ t_j on, one that ended by t_j
// (its last token or its logged failure by t_j: SpilledMetrics.endAt)
// stays ended, counted in the same Tally fields (a failure stays a
// failure). So the checkpoint holds those requests' sketch tally, which
// At copies (Tally.mergeSketched) instead of reading them again, and the
// indices of the others, in flight at t_j, which At reads back (one
// RecordFile.Read each) to place at t; then it reads the rows from i_j
// on up to the first arrival after t. A cursor before t_0 has no
// checkpoint and scans from the start.
//
// Spacing and memory. step = max(ckMinStep, ⌈n/K⌉) with K = min(ckMax,
// ckSketches/(2W+1)) for W workers: at most ckMax checkpoints, each a
// sketch tally of 2W+1 sketches (per-worker TTFT and E2E, one queueing)
// and 2W counts, so at most ckSketches sketches over all checkpoints
// (2,304 at 4 workers in 256 checkpoints, 4,080 at 8 in 240, 4,092 at
// 16 in 124, 3,075 at 512 in 3). A Sketch takes 2 to 6 kB for latencies
// spanning one to three decades, at most about 18 kB (Sketch): measured,
// 10.8 MB for the 240 checkpoints of a 10-million-request run on 8
// workers (2.7 kB a sketch), so 4 to 25 MB at most. An in-flight list
// holds 4 bytes a request and at most flyCap = max(step/4, 1) of them: a
// checkpoint where more requests are in flight (a cluster that does not
// keep up) is dropped (its list freed, its tally folded into the next)
// and At falls back to an earlier one, or to the scan from the start
// where that reads less; so the lists take at most n bytes in all
// (10 MB for 10 M requests), and a few kB each on a cluster that keeps
// up (at most 7 requests in flight at the 10 M run's checkpoints).
// Building them costs a binary search over the checkpoints and a sketch
// tally's Add per record, plus the in-flight entries, in At's first
// whole scan, which tallies for its cursor only the rows after the
// checkpoint it then starts from: 1.11 s against 1.04 s without
// checkpoints on the 10 M run. At from a checkpoint then reads its
// in-flight requests one RecordFile.Read each and scans up to step rows
// after it (RecordFile.ScanFrom; 41,667 there): 7.3 ms a call at late
// cursors against 862 ms for the scan from the start
// (BenchmarkSpilledMetricsAtLate; 33 ms with a Read per row, before
// ScanFrom).
const (
	ckMax      = 256
	ckMinStep  = 4096
	ckSketches = 4096
	// readPerScan is about how many rows of a RecordFile.Scan cost as
	// much as one RecordFile.Read (a pread each, against a buffered
	// sequential read; 27 measured, BenchmarkSpilledRecordReads): At
	// starts from a checkpoint only when reading its in-flight requests
	// (a Read each) and scanning the rows after it costs less than a
	// scan from the start.
	readPerScan = 24
)

// checkpoint is At's cursor tally at instant t over the records before
// row i (each of which arrived by t): ended, the sketch tally of those
// that ended by t (nil: the checkpoint was dropped), and flying, the
// trace indices of the others, in order.
type checkpoint struct {
	t      time.Duration
	i      int
	ended  *Tally
	flying []int32
}

// ckBuilder builds the checkpoints in one scan of sorted records: each
// record goes into the tally of the first checkpoint at which it has
// ended (delta; finish adds each delta to the next) and into the
// in-flight list of those before it.
type ckBuilder struct {
	ck       []checkpoint
	dropped  []bool
	delta    []*Tally
	step     int
	cap      int
	workers  int
	nextLive []int32 // union-find: the first checkpoint ≥ j not dropped (len(ck): none)
}

// newCkBuilder places the checkpoints: it reads the arrival of the row
// before each.
func (m *SpilledMetrics) newCkBuilder() (*ckBuilder, error) {
	rf, w := m.run.Sp.Records, m.run.Workers
	n := rf.Len()
	step := m.ckStep
	if step <= 0 {
		k := max(1, min(ckMax, ckSketches/(2*w+1)))
		step = max(ckMinStep, (n+k-1)/k)
	}
	b := &ckBuilder{step: step, cap: m.flyCap, workers: w}
	if b.cap <= 0 {
		b.cap = max(step/4, 1)
	}
	var rec sim.Record
	for i := step; i < n+step; i += step {
		i := min(i, n)
		if err := rf.Read(i-1, &rec); err != nil {
			return nil, err
		}
		b.ck = append(b.ck, checkpoint{t: rec.Arrival, i: i})
	}
	b.dropped = make([]bool, len(b.ck))
	b.delta = make([]*Tally, len(b.ck))
	b.nextLive = make([]int32, len(b.ck)+1)
	for j := range b.nextLive {
		b.nextLive[j] = int32(j)
	}
	return b, nil
}

// live is the first checkpoint from j on that is not dropped (len(ck)
// for none).
func (b *ckBuilder) live(j int) int {
	for int(b.nextLive[j]) != j {
		b.nextLive[j] = b.nextLive[b.nextLive[j]] // path halving
		j = int(b.nextLive[j])
	}
	return j
}

// add takes rec, the next record, which ends (SpilledMetrics.endAt) at e.
func (b *ckBuilder) add(rec *sim.Record, e time.Duration) {
	ck := b.ck
	kf := int(rec.Index) / b.step // the first checkpoint after rec's row
	k0 := kf                      // the first at which rec has ended
	if ck[kf].t < e {
		k0 = kf + sort.Search(len(ck)-kf, func(x int) bool { return ck[kf+x].t >= e })
	}
	if k0 < len(ck) {
		if b.delta[k0] == nil {
			b.delta[k0] = NewSketchTally(b.workers)
		}
		b.delta[k0].Add(rec)
	}
	for j := b.live(kf); j < k0; j = b.live(j + 1) {
		c := &ck[j]
		if len(c.flying) >= b.cap {
			c.flying, b.dropped[j] = nil, true
			b.nextLive[j] = int32(j + 1)
			continue
		}
		c.flying = append(c.flying, rec.Index)
	}
}

// finish adds each checkpoint's tally to the next, so that each holds
// every request ended by its instant, and frees the dropped ones.
func (b *ckBuilder) finish() []checkpoint {
	var prev *Tally
	for j := range b.ck {
		d := b.delta[j]
		if d == nil {
			d = NewSketchTally(b.workers)
		}
		if prev != nil {
			d.mergeSketched(prev)
		}
		if !b.dropped[j] {
			b.ck[j].ended = d
		}
		prev = d
	}
	return b.ck
}

// mergeSketched adds o's requests to t, both sketched tallies
// (NewSketchTally) of as many workers: t's figures become those of one
// tally given both's records (Sketch.Merge). TestTallyFields lists the
// fields it covers.
func (t *Tally) mergeSketched(o *Tally) {
	t.requests += o.requests
	t.failed += o.failed
	t.bypassed += o.bypassed
	t.completed += o.completed
	for k, v := range o.reasons {
		t.reasons[k] += v
	}
	for w := range o.reqs {
		t.reqs[w] += o.reqs[w]
		t.done[w] += o.done[w]
		t.sTTFT[w].Merge(&o.sTTFT[w])
		t.sE2E[w].Merge(&o.sE2E[w])
	}
	t.sQueue.Merge(&o.sQueue)
}

// fromCheckpoint is At's tally from the last checkpoint at or before t
// (ok false, and nothing read, where there is none, or where a scan from
// the start reads less: see readPerScan).
func (m *SpilledMetrics) fromCheckpoint(ctx context.Context, t time.Duration) (c *cursorTally, ok bool, err error) {
	ck := m.ck
	if m.sorted != 1 || len(ck) == 0 {
		return nil, false, nil
	}
	j := sort.Search(len(ck), func(x int) bool { return ck[x].t > t }) - 1
	u := j
	for u >= 0 && ck[u].ended == nil {
		u--
	}
	if u < 0 {
		return nil, false, nil
	}
	rf := m.run.Sp.Records
	n := rf.Len()
	hi := n // past the rows a scan for t reads
	if j+1 < len(ck) {
		hi = ck[j+1].i
	}
	k := &ck[u]
	if readPerScan*len(k.flying)+hi-k.i > hi && !m.ckAlways {
		return nil, false, nil
	}
	m.ckUsed = u
	c = newCursorTally(t, m.run.Workers, NewSketchTally(m.run.Workers))
	if err := m.resume(ctx, c, k); err != nil {
		return nil, false, err
	}
	x := 0
	err = rf.ScanFrom(k.i, func(rec *sim.Record) error {
		if x++; x%(1<<12) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if rec.Arrival > c.t {
			return errPastCursor
		}
		c.add(rec, m.failedBy(rec, c.t))
		return nil
	})
	if err != nil && !errors.Is(err, errPastCursor) {
		return nil, false, err
	}
	return c, true, nil
}

// resume adds to c, which holds no row before k's, the requests before
// k's row: its tally of those ended by its instant and its requests in
// flight then, read again and placed at c's cursor.
func (m *SpilledMetrics) resume(ctx context.Context, c *cursorTally, k *checkpoint) error {
	c.tally.mergeSketched(k.ended)
	var rec sim.Record
	for x, i := range k.flying {
		if x%(1<<12) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := m.run.Sp.Records.Read(int(i), &rec); err != nil {
			return err
		}
		c.add(&rec, m.failedBy(&rec, c.t))
	}
	return nil
}
