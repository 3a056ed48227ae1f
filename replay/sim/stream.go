package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/rng"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
)

// StreamOptions tune a streamed simulation (SimulateStream).
type StreamOptions struct {
	// Progress, if set, is called every 1024 finished requests (total 0:
	// a stream does not know its length).
	Progress func(done, total int)
	// OnRecord receives every request's record, in trace order, once the
	// request and every one before it have ended, with the request
	// itself, whose chain is let go by then: Blocks has the chain's
	// length but every id in it is 0 (what needs the ids takes them in
	// OnRead). Neither may be kept: both are reused.
	OnRecord func(*Record, *trace.Request)
	// OnRead receives every request as it is read, in trace order, with
	// its record as the checks made before the run leave it: its arrival
	// and, from the oversize verdict, Status Failed (with Fail) or
	// Bypassed. The record may not be kept. A request that fails later
	// (an engine or vllm model's refusal, a vllm timeout) is Failed only
	// in the record OnRecord receives.
	OnRead func(*Record, *trace.Request)
	// IDLimit bounds the block table as seq.RunStream's limit does: 0
	// takes seq.IDLimit, a negative limit keeps every id.
	IDLimit int
	// OnEvent receives every event a whole-trace run appends to
	// Run.Events, in the same order, as it happens.
	OnEvent func(Event)
	// OnSample receives every sample a whole-trace run's Samples[w]
	// holds, in order per worker: a sample is held until its worker's
	// next instant (one at the same instant replaces it) or the run's
	// end, so samples of different workers interleave out of time order.
	// The sample is reused. Only with OnSample are the queue, running and
	// capacity split figures computed.
	OnSample func(w int, s *Sample)
	// OnLoads receives the router's per-worker loads as a whole-trace run
	// keeps them in LoadT and Loads (one row per instant, the last at it):
	// loads has one value per worker and is reused.
	OnLoads func(t time.Duration, loads []float32)
	// OnDetail receives, at each routed request's arrival (trace order;
	// never for a request failed before routing), every worker's router
	// score and true cached prefix in blocks: the rows a whole-trace run
	// keeps in Run.Scores and Run.Matches with Options.RequestDetail, at
	// the same cost (one cache match per worker). Both slices are reused.
	OnDetail func(x int, scores []float32, matches []int32)
	// OnEnd receives the finished run, what SimulateStream is about to
	// return, when the run succeeded: for a caller whose run another
	// function starts (analysis.SummaryStream returns metrics), such as a
	// spilled run's SpillWriter.Close.
	OnEnd func(*Run)

	iterModel IterationModel
	// parkBehind replaces the constant of that name when positive, and
	// parks every queued request when negative; parked counts the
	// requests parked (tests).
	parkBehind int
	parked     *int
}

// CanStream reports whether a scenario can be simulated from a stream:
// not with session_timing=closed (a turn waits for a parent that may be
// anywhere in the trace) nor keep_outputs (a request's output blocks are
// named by its next turn, which may be anywhere after it).
func CanStream(sc scenario.Scenario) bool {
	return sc.SessionTiming != "closed" && !sc.KeepOutputs
}

// SimulateStream is Simulate reading s as the simulated clock reaches each
// arrival: it holds the requests queued or running (and those ended behind
// an older one still running), hands each record to opt.OnRecord in trace
// order and keeps no event log and no series, so memory follows the
// caches, the routers and the requests in flight, not the trace. The
// event log, samples and load rows go to opt.OnEvent, OnSample and
// OnLoads where set (the last pending samples and load row are handed over
// when the run ends without error).
//
// The returned Run has no Records, Events, Scores or load series; each
// worker's Samples hold one sample with its cumulative counters (hits,
// inputs, evictions, phases, busy time), Trace is the stream's Info at its
// end and Requests the number read. Figures equal Simulate's on the same
// trace as long as no block id is recycled (Run.IDs says when one was and
// the policy may draw by id), and so do errors: a refusal Simulate makes
// before its run (an arrival or a run past MaxTime, oversize=error) is
// found when the request that makes it is read, after which the rest of
// the stream is read to give Simulate's message. A reading error comes
// back as an *InputError, also when the run stopped first with an error
// of its own (the rest of the stream is then read for it): Simulate's
// caller meets it loading the trace, before any run.
func SimulateStream(ctx context.Context, s *trace.Stream, sc scenario.Scenario, opt StreamOptions) (run *Run, err error) {
	g := newGuard(sc.String())
	defer func() {
		if p := recover(); p != nil {
			run, err = nil, g.internalError(p)
		}
	}()
	if !CanStream(sc) {
		return nil, fmt.Errorf("scenario %s: session_timing=closed and keep_outputs need the whole trace: use Simulate", sc.String())
	}
	tb := s.Table()
	info, err := evict.Lookup(sc.Evict.Name)
	if err != nil {
		return nil, err
	}
	bs := max(s.Info().BlockSize, 1)
	cfg, err := resolve(sc.Sized(bs), bs)
	if err != nil {
		return nil, err
	}
	def := seq.IDLimit(sc.Workers, cfg.capacity, cfg.unit, bs, info.IDFree)
	limit := opt.IDLimit
	if limit == 0 {
		limit = def
	}
	// Two parts hash dense ids and would change under recycling:
	// consistent_hash's key and the vllm model's chained block hashes.
	if sc.Router.Name == "consistent_hash" || cfg.isVLLM {
		limit = -1
	}
	hint := 0
	if limit > 0 && !s.Holds() {
		tb.SetLimit(limit)
		hint = min(limit, def) + 1<<16
	}
	tr := &trace.Trace{Info: s.Info(), Blocks: tb}
	c, err := newCluster(ctx, tr, sc, Options{Progress: opt.Progress, iterModel: opt.iterModel, streamed: true}, g, 0, hint)
	if err != nil {
		return nil, err
	}
	c.src = &source{s: s}
	c.onRecord, c.onRead = opt.OnRecord, opt.OnRead
	c.parkBehind, c.parked = parkBehind, opt.parked
	if opt.parkBehind != 0 {
		c.parkBehind = max(opt.parkBehind, 0)
	}
	if opt.OnDetail != nil {
		c.onDetail = opt.OnDetail
		c.dScores, c.dMatches = make([]float32, sc.Workers), make([]int32, sc.Workers)
	}
	c.checks = newStreamChecks(c)
	c.sinks = newSinks(&opt, sc.Workers)
	if err := c.loop(); err != nil {
		// A whole-trace run's trace fails to load before it runs: a
		// reading error further on wins over the run's own.
		if !errors.Is(err, errCanceled) && !errors.As(err, new(*InputError)) {
			if rerr := c.readRest(nil); rerr != nil {
				return nil, rerr
			}
		}
		return nil, err
	}
	c.cur = -1
	c.sinks.flush()
	c.run.Trace = s.Info()
	c.run.Requests = c.src.read
	if tb.Recycled() > 0 {
		c.run.IDs = &seq.IDRecycling{Limit: tb.Limit(), Sweeps: tb.Sweeps(), Recycled: tb.Recycled(), Note: seq.RecycledNote}
		if info.IDFree {
			c.run.IDs = nil // recycling cannot change these policies' choices
		}
	}
	if opt.OnEnd != nil {
		opt.OnEnd(c.run)
	}
	return c.run, nil
}

// ended reports whether every request of the run has ended.
func (c *cluster) ended() bool {
	if c.src != nil {
		return c.src.eof && c.done >= c.src.read
	}
	return c.done >= len(c.tr.Requests)
}

// holds reports whether request x is one the run can name (a panic's
// report).
func (c *cluster) holds(x int32) bool {
	if c.src != nil {
		return x >= c.win.base && int(x-c.win.base) < c.win.n
	}
	return int(x) < len(c.tr.Requests)
}

// pushNextStreamed reads the next request and schedules its arrival; a
// request that dooms the run (a refusal Simulate makes before its run)
// makes it read the rest of the stream and fail with Simulate's error.
func (c *cluster) pushNextStreamed() {
	r, err := c.src.next()
	if err != nil {
		c.fail(err)
		return
	}
	if r == nil {
		return
	}
	k := c.checks
	rec := k.note(r)
	if k.doomed() {
		if err := c.readRest(func(r *trace.Request) { k.note(r) }); err != nil {
			c.fail(err)
			return
		}
		c.fail(k.err(c.src.read))
		return
	}
	if c.src.read == 1 {
		c.run.Start = rec.Arrival
	}
	if c.onRead != nil {
		c.onRead(&rec, r)
	}
	c.win.add(r, rec)
	if tb := c.tr.Blocks; tb.Full() {
		tb.Sweep(c.live)
	}
	c.sched.push(event{t: rec.Arrival, kind: evArrival, req: int32(r.Index), worker: -1})
}

// readRest reads the rest of the stream once the run has stopped (refused
// or failed), handing each request to note (nil: none), and returns the
// first reading error. A full table is swept as during the run, so memory
// stays bounded. It stops when ctx is canceled.
func (c *cluster) readRest(note func(*trace.Request)) error {
	for n := 1; ; n++ {
		if n&4095 == 0 && c.ctx != nil {
			if err := c.ctx.Err(); err != nil {
				return fmt.Errorf("%w: %w", errCanceled, err)
			}
		}
		r, err := c.src.next()
		if err != nil || r == nil {
			return err
		}
		if note != nil {
			note(r)
		}
		if tb := c.tr.Blocks; tb.Full() {
			tb.Sweep(c.live)
		}
	}
}

// live names every block id the run holds: the caches' (with what their
// policies retain), the router's and the requests in the window.
func (c *cluster) live(keep func(trace.BlockID)) {
	for _, w := range c.workers {
		w.cache.Live(keep)
	}
	if h, ok := c.router.(route.Holder); ok {
		h.Live(keep)
	}
	c.win.live(keep)
}

// streamChecks are prepare's refusals taken one request at a time, in the
// order prepare takes them: an arrival past MaxTime (time_scale or rate),
// then oversize=error, then the linear model's horizon (checkHorizon).
type streamChecks struct {
	c *cluster
	// rate re-timing: the Poisson clock (seconds) and the first request
	// it carried past MaxTime (-1: none).
	wl      *rand.Rand
	clock   float64
	rateAt  int
	rateClk float64
	// time_scale: the latest arrival and where it is; scaled past
	// MaxTime once one is.
	last    time.Duration
	lastSrc string
	late    bool
	stop    *scenario.OversizedError
	// horizon: the latest release (s) and the service bound's sum (ms).
	maxR, sum float64
}

func newStreamChecks(c *cluster) *streamChecks {
	k := &streamChecks{c: c, rateAt: -1, stop: c.newOversized()}
	if c.cfg.sc.Rate > 0 {
		k.wl = rng.Stream(c.cfg.sc.Seed, rng.Workload, 0)
	}
	return k
}

// note takes request r (read, index r.Index) into the checks and returns
// its record before the run: its arrival time and the verdict prepare
// would give it (verdict, which also notes it under oversize=error).
func (k *streamChecks) note(r *trace.Request) Record {
	sc := &k.c.cfg.sc
	var at time.Duration
	if sc.Rate > 0 {
		if r.Index > 0 {
			k.clock += k.wl.ExpFloat64() / sc.Rate
		}
		ns := k.clock * 1e9
		if ns > float64(MaxTime) && k.rateAt < 0 {
			k.rateAt, k.rateClk = r.Index, k.clock
		}
		at = durationOf(ns)
	} else {
		if r.Arrival >= k.last {
			k.last, k.lastSrc = r.Arrival, r.Source
		}
		ns := float64(r.Arrival) * sc.TimeScale
		k.late = k.late || ns > float64(MaxTime)
		at = durationOf(ns)
	}
	rec := newRecord(int32(r.Index), at)
	k.c.verdict(r, &rec, k.stop)
	if !k.c.cfg.isEngine && !k.c.cfg.isVLLM {
		m := k.c.cfg.linear
		k.maxR = max(k.maxR, at.Seconds())
		k.sum += max(m.CachedMs, m.MissMs)*float64(r.Input) + m.OutMs*float64(r.Output)
	}
	return rec
}

func (k *streamChecks) doomed() bool {
	return k.rateAt >= 0 || k.late || k.stop.Count > 0 || k.horizon() > float64(MaxTime)
}

// horizon is checkHorizon's bound on the run's last instant (ns) over the
// requests noted so far; 0 for the engine and vllm models.
func (k *streamChecks) horizon() float64 {
	return (k.maxR + k.sum/1e3) * 1e9
}

// err is the refusal for a stream of n requests, once all are noted:
// Simulate's message.
func (k *streamChecks) err(n int) error {
	sc := &k.c.cfg.sc
	switch {
	case k.rateAt >= 0:
		return fmt.Errorf("rate=%s: the re-timed arrivals reach %s by request %d of %d, past %s",
			param.FormatFloat(sc.Rate), secs(k.rateClk), k.rateAt, n, maxTimeText)
	case k.late:
		return timeScaleError(sc.TimeScale, k.last, k.lastSrc)
	case k.stop.Count > 0:
		return k.stop
	}
	return horizonError(sc.Latency, k.sum, k.maxR)
}
