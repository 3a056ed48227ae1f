package analysis

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// RunMetrics is SPEC §9's summary of one run: what `kvscope run --json`
// prints and what comparisons aggregate over seeds.
type RunMetrics struct {
	Scenario string     `json:"scenario"`
	Trace    trace.Info `json:"trace"`
	Seed     uint64     `json:"seed"`
	Workers  int        `json:"workers_n"`
	Capacity int64      `json:"capacity"`
	Unit     string     `json:"unit"`

	Requests  int `json:"requests"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	// InFlight counts the requests that arrived but had not ended: only
	// in MetricsAt's summaries up to a cursor (Completed + Failed +
	// InFlight = Requests); 0 for a whole run.
	InFlight int `json:"in_flight,omitempty"`
	// FailedReasons counts failures by reason.
	FailedReasons map[string]int `json:"failed_reasons"`
	Bypassed      int            `json:"bypassed"`
	SkippedLines  int            `json:"skipped_lines"`

	TokenHitRatio float64 `json:"token_hit_ratio"`
	BlockHitRatio float64 `json:"block_hit_ratio"`
	HitTokens     int64   `json:"hit_tokens"`
	InputTokens   int64   `json:"input_tokens"`
	HitBlocks     int64   `json:"hit_blocks"`
	Blocks        int64   `json:"blocks"`

	TTFT  Dist `json:"ttft_ms"`
	E2E   Dist `json:"e2e_ms"`
	Queue Dist `json:"queue_ms"`
	// PercentilesNote says when percentiles come from sketches
	// (NewSketchTally); absent when exact.
	PercentilesNote string `json:"percentiles_note,omitempty"`

	ThroughputRPS float64 `json:"throughput_rps"`
	// MaxLoadS is max_i P_i, the busiest worker's service time (SPEC §9).
	MaxLoadS float64 `json:"max_load_s"`
	// MaxLoadLowerBoundS is max(max_j c_j, Σ c_j / M) for the linear model
	// (absent for the engine model); MaxLoadRatio = MaxLoadS / it.
	MaxLoadLowerBoundS *float64 `json:"max_load_lower_bound_s,omitempty"`
	MaxLoadRatio       *float64 `json:"max_load_ratio,omitempty"`
	// MaxLoadLowerBoundNote says when the bound is approximate (a streamed
	// run that forgot block ids: boundTally); absent when exact.
	MaxLoadLowerBoundNote string    `json:"max_load_lower_bound_note,omitempty"`
	MakespanS             float64   `json:"makespan_s"`
	Imbalance             Imbalance `json:"imbalance"`

	Evicted int64 `json:"evicted"`
	Phases  int64 `json:"phases"`

	WorkerMetrics []WorkerMetrics `json:"workers"`
	// IDRecycling is present when a streamed run recycled block ids under
	// a policy that draws among blocks by id (sim.Run.IDs).
	IDRecycling *seq.IDRecycling `json:"id_recycling,omitempty"`
}

// WorkerMetrics is one worker's share of a run.
type WorkerMetrics struct {
	Worker        int     `json:"worker"`
	Requests      int     `json:"requests"`
	Completed     int     `json:"completed"`
	TokenHitRatio float64 `json:"token_hit_ratio"`
	BlockHitRatio float64 `json:"block_hit_ratio"`
	HitTokens     int64   `json:"hit_tokens"`
	InputTokens   int64   `json:"input_tokens"`
	HitBlocks     int64   `json:"hit_blocks"`
	Blocks        int64   `json:"blocks"`
	TTFT          Dist    `json:"ttft_ms"`
	E2E           Dist    `json:"e2e_ms"`
	// LoadS is P_i, the service time given to the worker.
	LoadS   float64 `json:"load_s"`
	Evicted int64   `json:"evicted"`
	Phases  int64   `json:"phases"`
	// Ratios are the sequential competitive ratios (with --vs-opt: see
	// Ratios and SetRatios).
	Ratios *seq.WorkerRatios `json:"ratios,omitempty"`
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func msOf(d time.Duration) float64 { return float64(d) / 1e6 }

// Metrics summarises a run. lb is the linear model's lower bound on
// max_load_s (NaN when it does not apply).
func Metrics(run *sim.Run, seed uint64, lbS float64) RunMetrics {
	t := NewTally(run.Workers)
	for i := range run.Records {
		t.Add(&run.Records[i])
	}
	return t.Metrics(run, seed, lbS)
}

// Tally gathers a run's per-request figures one record at a time, so a
// streamed run (sim.SimulateStream's OnRecord) is summarised without
// holding its records: what it keeps is three values per request (TTFT,
// E2E and queueing, exact: percentiles need them all, 24 bytes a request)
// and counts. Records may come in any order; Metrics' figures do not
// depend on it (distributions are summarised over sorted values).
type Tally struct {
	requests, failed, bypassed, completed int
	reasons                               map[string]int
	reqs, done                            []int
	ttft, e2e                             [][]float64
	queue                                 []float64
	// sketched tallies (NewSketchTally) keep sketches instead of values.
	sketched    bool
	sTTFT, sE2E []Sketch
	sQueue      Sketch
	// spill, when set (SpillValues), takes the values once held reaches
	// its budget; err is the first error met spilling or reading back.
	spill *valueSpill
	held  int
	err   error
}

// SpillValues makes an exact tally hold at most budget values (0:
// DefaultSpillValues): past that it writes them, sorted, to a temporary
// file in dir ("" is the system's) and Metrics merges them back, so
// percentiles stay exact and the figures are the same to the bit, in
// bounded memory. Err reports a failure to write or read the file; Close
// releases it. A sketched tally holds no values and ignores this.
func (t *Tally) SpillValues(dir string, budget int) {
	if t.sketched {
		return
	}
	if budget <= 0 {
		budget = DefaultSpillValues
	}
	w := len(t.ttft)
	t.spill = &valueSpill{dir: dir, budget: budget, ttft: make([][]sortedRun, w), e2e: make([][]sortedRun, w)}
}

// Err is the first error the tally met spilling its values or reading
// them back (SpillValues); Metrics' percentiles are not to be trusted
// when it is not nil.
func (t *Tally) Err() error {
	if t.err != nil {
		return t.err
	}
	if t.spill != nil {
		return t.spill.err
	}
	return nil
}

// Close releases the file SpillValues wrote to (Metrics does too).
func (t *Tally) Close() {
	if t.spill != nil {
		t.spill.close()
	}
}

// SketchNote is a report's word on percentiles from sketches.
var SketchNote = fmt.Sprintf("TTFT, E2E and queueing percentiles come from DDSketch sketches (relative error at most %g of the exact nearest-rank value); means and counts are exact", SketchRelativeAccuracy)

// NewSketchTally is NewTally keeping, instead of every request's values,
// per-worker TTFT and E2E sketches and one queueing sketch (Sketch: a few
// kB each, whatever the run's length): percentiles within
// SketchRelativeAccuracy, means and counts exact. The metrics then carry
// PercentilesNote.
func NewSketchTally(workers int) *Tally {
	t := NewTally(workers)
	t.sketched = true
	t.sTTFT, t.sE2E = make([]Sketch, workers), make([]Sketch, workers)
	return t
}

// NewTally starts a tally for a run of workers workers.
func NewTally(workers int) *Tally {
	return &Tally{reasons: map[string]int{}, reqs: make([]int, workers), done: make([]int, workers),
		ttft: make([][]float64, workers), e2e: make([][]float64, workers)}
}

// Add counts one request's record.
func (t *Tally) Add(r *sim.Record) {
	t.requests++
	switch r.Status {
	case sim.Failed:
		t.failed++
		t.reasons[r.Fail]++
	case sim.Bypassed:
		t.bypassed++
	}
	if r.Worker >= 0 {
		t.reqs[r.Worker]++
	}
	if r.Status == sim.Failed {
		return
	}
	t.completed++
	w := r.Worker
	t.done[w]++
	if t.sketched {
		t.sTTFT[w].Add(r.TTFT())
		t.sE2E[w].Add(r.E2E())
		t.sQueue.Add(r.Queueing())
		return
	}
	t.ttft[w] = append(t.ttft[w], msOf(r.TTFT()))
	t.e2e[w] = append(t.e2e[w], msOf(r.E2E()))
	t.queue = append(t.queue, msOf(r.Queueing()))
	if t.spill != nil {
		if t.held += 3; t.held >= t.spill.budget {
			t.spill.flush(t)
		}
	}
}

// spilled reports whether values went to the spill file; Metrics then
// flushes the rest there too and reads every distribution back.
func (t *Tally) spilled() bool { return t.spill != nil && t.spill.f != nil }

// spilledDist is a distribution read back from the spill file; a failure
// is kept in t.err and gives Summarize(nil)'s NaNs.
func (t *Tally) spilledDist(runs []sortedRun, cursors int) Dist {
	d, err := t.spill.summarize(runs, cursors)
	if err != nil {
		t.err = cmp.Or(t.err, err)
		return Summarize(nil)
	}
	return d
}

// Metrics summarises the tallied records of run (whose per-worker samples
// give the counters). It sorts the tally's values in place.
func (t *Tally) Metrics(run *sim.Run, seed uint64, lbS float64) RunMetrics {
	m := RunMetrics{
		Scenario: run.Scenario, Trace: run.Trace, Seed: seed, Workers: run.Workers,
		Capacity: run.Capacity, Unit: run.Unit,
		Requests: t.requests, Failed: t.failed, Bypassed: t.bypassed, Completed: t.completed,
		FailedReasons: t.reasons, SkippedLines: run.Trace.Skipped.Count,
	}
	if t.spilled() {
		t.spill.flush(t)
		defer t.spill.close()
	}
	ws := make([]WorkerMetrics, run.Workers)
	loads := make([]float64, run.Workers)
	for w := range ws {
		wm := &ws[w]
		wm.Worker = w
		wm.Requests, wm.Completed = t.reqs[w], t.done[w]
		if ss := run.Samples[w]; len(ss) > 0 {
			last := ss[len(ss)-1]
			wm.HitTokens, wm.InputTokens = last.HitTokens, last.InputTokens
			wm.HitBlocks, wm.Blocks = last.HitBlocks, last.Blocks
			wm.Evicted, wm.Phases = last.Evicted, int64(last.Phases)
			wm.LoadS = last.Busy.Seconds()
		}
		wm.TokenHitRatio = ratio(wm.HitTokens, wm.InputTokens)
		wm.BlockHitRatio = ratio(wm.HitBlocks, wm.Blocks)
		switch {
		case t.sketched:
			wm.TTFT, wm.E2E = t.sTTFT[w].Dist(), t.sE2E[w].Dist()
		case t.spilled():
			wm.TTFT = t.spilledDist(t.spill.ttft[w], len(t.spill.ttft[w]))
			wm.E2E = t.spilledDist(t.spill.e2e[w], len(t.spill.e2e[w]))
		default:
			wm.TTFT, wm.E2E = Summarize(t.ttft[w]), Summarize(t.e2e[w]) // sorts them
		}
		loads[w] = wm.LoadS
		m.HitTokens += wm.HitTokens
		m.InputTokens += wm.InputTokens
		m.HitBlocks += wm.HitBlocks
		m.Blocks += wm.Blocks
		m.Evicted += wm.Evicted
		m.Phases += wm.Phases
		m.MaxLoadS = math.Max(m.MaxLoadS, wm.LoadS)
	}
	m.WorkerMetrics = ws
	m.TokenHitRatio = ratio(m.HitTokens, m.InputTokens)
	m.BlockHitRatio = ratio(m.HitBlocks, m.Blocks)
	if t.sketched {
		var st, se Sketch
		for w := range ws {
			st.Merge(&t.sTTFT[w])
			se.Merge(&t.sE2E[w])
		}
		m.TTFT, m.E2E, m.Queue = st.Dist(), se.Dist(), t.sQueue.Dist()
		m.PercentilesNote = SketchNote
	} else if t.spilled() {
		all := func(runs [][]sortedRun) []sortedRun { return slices.Concat(runs...) }
		tt, ee := all(t.spill.ttft), all(t.spill.e2e)
		m.TTFT, m.E2E = t.spilledDist(tt, len(tt)), t.spilledDist(ee, len(ee))
		m.Queue = t.spilledDist(t.spill.queue, len(t.spill.queue))
	} else {
		m.TTFT, m.E2E, m.Queue = SummarizeSorted(t.ttft), SummarizeSorted(t.e2e), Summarize(t.queue)
	}
	if span := run.End - run.Start; span > 0 {
		m.MakespanS = span.Seconds()
		m.ThroughputRPS = float64(m.Completed) / span.Seconds()
	}
	m.Imbalance = ImbalanceOf(loads)
	if !math.IsNaN(lbS) && lbS > 0 {
		lb, r := lbS, m.MaxLoadS/lbS
		m.MaxLoadLowerBoundS, m.MaxLoadRatio = &lb, &r
	}
	return m
}

// FailureReasons returns the failure reasons sorted by count, then text.
func (m *RunMetrics) FailureReasons() []string {
	keys := slices.Collect(maps.Keys(m.FailedReasons))
	slices.SortFunc(keys, func(a, b string) int {
		if m.FailedReasons[a] != m.FailedReasons[b] {
			return m.FailedReasons[b] - m.FailedReasons[a]
		}
		if a < b {
			return -1
		}
		return 1
	})
	return keys
}

// Summary computes a run's metrics, with the max_load_s lower bound when
// the scenario uses the linear model.
func Summary(tr *trace.Trace, run *sim.Run, sc scenario.Scenario) RunMetrics {
	return SummaryTally(tr, run, sc, NewTally(run.Workers))
}

// SummaryTally is Summary with the records counted by t (NewSketchTally
// for percentiles from sketches).
func SummaryTally(tr *trace.Trace, run *sim.Run, sc scenario.Scenario, t *Tally) RunMetrics {
	lb := math.NaN()
	if m, ok := boundModel(sc); ok {
		lb = MaxLoadLowerBound(tr, run, m)
	}
	for i := range run.Records {
		t.Add(&run.Records[i])
	}
	return t.Metrics(run, sc.Seed, lb)
}

// boundModel is the linear model the max_load_s lower bound is computed
// for, when it applies. The bound counts as cached only prefixes shared
// with earlier inputs; with keep_outputs a turn can also hit an earlier
// reply, so the bound would not hold: it is left out.
func boundModel(sc scenario.Scenario) (sim.Linear, bool) {
	if in, err := sim.LookupLatency(sc.Latency.Name); err == nil && in.LowerBound && !sc.KeepOutputs {
		if m, _, err := sim.ParseLinear(sc.Latency); err == nil {
			return m, true
		}
	}
	return sim.Linear{}, false
}

// SummaryStream simulates sc over the stream s (sim.SimulateStream) and
// summarises it as Summary does the same run held whole, with the same
// figures (and bytes) as long as the run recycles no block id: records
// are tallied as they are retired and the bound's requests taken in
// arrival order as they are read (sim.StreamOptions.OnRead), so nothing
// per request is held but Tally's three values. When block ids are
// recycled, the bound's seen set moves forgotten ids into a Bloom filter
// and says so (MaxLoadLowerBoundNote), and under rlt or random_leaf
// IDRecycling says their draws may differ.
// s need not keep original ids: its table tells the bound the original
// ids of the blocks it forgets and creates (SetOnForget, SetOnNew).
// opt.OnRecord, if set, gets each record after t (a records file:
// sim.RecordWriter). t is NewTally(sc.Workers), spilling its values past
// a budget (Tally.SpillValues) or not, or NewSketchTally for percentiles
// from sketches, which holds nothing per request at all.
func SummaryStream(ctx context.Context, s *trace.Stream, sc scenario.Scenario, opt sim.StreamOptions, t *Tally) (RunMetrics, error) {
	var b *boundTally
	if m, ok := boundModel(sc); ok {
		b = newBoundTally(m, s.Info().BlockSize, sc.Workers)
		tb := s.Table()
		tb.SetOnForget(b.forget)
		tb.SetOnNew(b.fresh)
	}
	// The bound takes requests as they are read (arrival order, the ids
	// still the chain's), leaving out those failed by then. Under the
	// linear model, the bound's, nothing fails later (a request that
	// passes the oversize verdict always fits an empty cache), so the
	// requests it took are those the held bound takes; should one fail
	// later all the same, the bound counted a request never served and is
	// dropped rather than reported wrong.
	failedRead, failedEnd := 0, 0
	alsoRead, alsoRec := opt.OnRead, opt.OnRecord
	if b != nil {
		opt.OnRead = func(rec *sim.Record, r *trace.Request) {
			b.add(rec, r)
			if rec.Status == sim.Failed {
				failedRead++
			}
			if alsoRead != nil {
				alsoRead(rec, r)
			}
		}
	}
	opt.OnRecord = func(rec *sim.Record, r *trace.Request) {
		t.Add(rec)
		if rec.Status == sim.Failed {
			failedEnd++
		}
		if alsoRec != nil {
			alsoRec(rec, r)
		}
	}
	run, err := sim.SimulateStream(ctx, s, sc, opt)
	if err != nil {
		return RunMetrics{}, err
	}
	lb := math.NaN()
	if b != nil && failedEnd == failedRead {
		lb = b.bound()
	}
	m := t.Metrics(run, sc.Seed, lb)
	if err := t.Err(); err != nil {
		return RunMetrics{}, err
	}
	if b != nil && m.MaxLoadLowerBoundS != nil {
		m.MaxLoadLowerBoundNote = b.note()
	}
	m.IDRecycling = run.IDs
	return m, nil
}
