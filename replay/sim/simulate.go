package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/rng"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
)

// unset marks a time not reached (a request that never got its first token).
const unset = time.Duration(-1)

// Options tune a simulation beyond its scenario.
type Options struct {
	// Progress, if set, is called every 1024 finished requests.
	Progress func(done, total int)
	// RequestDetail records, for every request, every worker's router
	// score and true cached prefix at arrival (Run.Scores, Run.Matches:
	// requests × workers entries each): what the explorer's request pane
	// shows. Without it they are nil: nothing else reads them, and at 512
	// workers the prefix match of every worker was over half of a run's
	// CPU (issue 18). Results are the same either way.
	RequestDetail bool

	// iterModel replaces the profile's iteration model (tests).
	iterModel IterationModel
	// streamed: a SimulateStream run (no series, records retired).
	streamed bool
}

// config is a scenario resolved against the registries.
type config struct {
	sc        scenario.Scenario
	canonical string
	unit      kvcache.Unit
	capacity  int64
	linear    Linear
	isEngine  bool
	engine    Engine
	isVLLM    bool
	vllm      VLLM
	cachedMs  float64 // for lbgr:preset=paper
	missMs    float64
}

// Resolve checks a scenario against the registries and the trace's block
// size and returns its canonical string. It builds nothing. A scenario left
// at the default size has no size key in that string: only Simulate knows
// the trace whose blocks it is counted in.
func Resolve(sc scenario.Scenario) (string, error) {
	cfg, err := resolve(sc, 1)
	if err != nil {
		return "", err
	}
	return cfg.canonical, nil
}

func resolve(sc scenario.Scenario, blockSize int) (*config, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	cfg := &config{sc: sc}
	latCanon, err := cfg.readLatency(sc.Latency)
	if err != nil {
		return nil, err
	}
	capTokens, err := cfg.applyProfile(blockSize)
	if err != nil {
		return nil, err
	}
	cfg.unit = kvcache.Blocks
	if sc.Unit == scenario.Tokens {
		cfg.unit = kvcache.Tokens
	}
	switch {
	case sc.Capacity > 0:
		cfg.capacity = int64(sc.Capacity)
	case sc.DefaultSize():
		// Only Resolve, which knows no trace, gets here: Simulate sizes
		// the scenario first.
		cfg.capacity = int64(sc.Sized(blockSize).Capacity)
	case cfg.unit == kvcache.Tokens:
		cfg.capacity = capTokens
	default:
		cfg.capacity = capTokens / int64(blockSize)
	}
	if cfg.capacity < 1 {
		return nil, fmt.Errorf("scenario %s: capacity %d %s: need at least 1", sc.String(), cfg.capacity, cfg.unit)
	}
	if info, err := evict.Lookup(sc.Evict.Name); err != nil {
		return nil, err
	} else if info.Offline {
		return nil, fmt.Errorf("eviction %s is offline (it needs each worker's future) and runs only in `kvscope replay` or as --vs-opt", sc.Evict.Name)
	}
	lat := func(param.Spec) (string, error) { return latCanon, nil }
	cfg.canonical, err = sc.Canonical(route.Resolve, evict.Resolve, lat)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Simulate replays tr under scenario sc in simulated time. A panic inside
// the replay (a bug, never bad input) does not escape: it comes back as an
// *InternalError naming the scenario and the request being handled.
func Simulate(ctx context.Context, tr *trace.Trace, sc scenario.Scenario, opt Options) (run *Run, err error) {
	g := newGuard(sc.String())
	defer func() {
		if p := recover(); p != nil {
			run, err = nil, g.internalError(p)
		}
	}()
	return simulate(ctx, tr, sc, opt, g)
}

func simulate(ctx context.Context, tr *trace.Trace, sc scenario.Scenario, opt Options, g *guard) (*Run, error) {
	c, err := newCluster(ctx, tr, sc, opt, g, len(tr.Requests), tr.Blocks.Len())
	if err != nil {
		return nil, err
	}
	if err := c.prepare(); err != nil {
		return nil, err
	}
	if err := c.loop(); err != nil {
		return nil, err
	}
	c.cur = -1
	return c.run, nil
}

// newCluster builds the workers and the router for a run of n requests
// (0 for a streamed run: its arrays grow) over blocks dense ids.
func newCluster(ctx context.Context, tr *trace.Trace, sc scenario.Scenario, opt Options, g *guard, n, blocks int) (*cluster, error) {
	bs := tr.Info.BlockSize
	if bs < 1 {
		return nil, fmt.Errorf("trace %s: block size %d", tr.Info.Source, bs)
	}
	// The default size becomes explicit blocks of this trace (the
	// canonical string and the run say how many).
	sc = sc.Sized(bs)
	cfg, err := resolve(sc, bs)
	if err != nil {
		return nil, err
	}
	g.scenario = cfg.canonical
	if opt.iterModel != nil {
		cfg.engine.Model = opt.iterModel
		cfg.vllm.Model = opt.iterModel
	}
	if cfg.isVLLM {
		if cfg.vllm.BlockSize != bs {
			return nil, fmt.Errorf("latency vllm: block_size %d differs from the trace's block size %d (vLLM hashes blocks of block_size tokens: generate the trace with that block size, or set block_size=%d)",
				cfg.vllm.BlockSize, bs, bs)
		}
		if sc.Capacity > 0 {
			cfg.vllm.Blocks = sc.Capacity
			if cfg.unit == kvcache.Tokens {
				cfg.vllm.Blocks = sc.Capacity / bs
			}
		}
		if cfg.vllm.Blocks < 1 {
			return nil, fmt.Errorf("latency vllm: a KV pool of %d blocks", cfg.vllm.Blocks)
		}
		if sc.KeepOutputs {
			return nil, fmt.Errorf("latency vllm: keep_outputs is not modeled (vLLM caches a request's output blocks under its own hashes)")
		}
		// The run's capacity is the vLLM pool, in blocks.
		cfg.capacity, cfg.unit = int64(cfg.vllm.Blocks), kvcache.Blocks
	}
	run := &Run{
		Scenario: cfg.canonical, Trace: tr.Info, Workers: sc.Workers,
		Capacity: cfg.capacity, Unit: cfg.unit.String(),
		Records: make([]Record, n),
		Samples: make([][]Sample, sc.Workers),
	}
	series := !opt.streamed
	if series {
		run.Events = make([]Event, 0, 4*n)
		// Preallocate the series at their usual sizes (about three
		// samples per request per worker, two router-load samples per
		// request).
		for w := range run.Samples {
			run.Samples[w] = make([]Sample, 0, 3*n/sc.Workers+16)
		}
		run.LoadT = make([]time.Duration, 0, 2*n)
		run.Loads = make([]float32, 0, 2*n*sc.Workers)
	}
	if opt.RequestDetail {
		run.Scores = make([]float32, n*sc.Workers)
		run.Matches = make([]int32, n*sc.Workers)
	}
	c := &cluster{ctx: ctx, tr: tr, cfg: cfg, run: run, progress: opt.Progress, series: series,
		nextFresh: trace.BlockID(blocks), cur: -1}
	g.c = c
	info, err := evict.Lookup(sc.Evict.Name)
	if err != nil {
		return nil, err
	}
	for w := range sc.Workers {
		pol, _, err := evict.New(sc.Evict, evict.Env{Unit: cfg.unit, Capacity: cfg.capacity, Rand: evict.WorkerRand(sc.Seed, w)})
		if err != nil {
			return nil, err
		}
		// A policy blind to slot numbers gets local slots: its cache's arrays follow
		// the capacity, not the trace (kvcache.Config.LocalSlots, issue 18;
		// same results, checked by evict's TestLocalSlotsMatchGlobal).
		cache, err := kvcache.New(kvcache.Config{Unit: cfg.unit, Capacity: cfg.capacity, BlockSize: bs, SizeHint: blocks,
			LocalSlots: info.LocalSlots()}, pol)
		if err != nil {
			return nil, err
		}
		wk := &worker{id: w, cache: cache}
		if cfg.isVLLM {
			wk.vl = &vstate{pool: newVPool(cfg.vllm.Blocks), pending: map[int32]*vreq{}}
		}
		c.workers = append(c.workers, wk)
	}
	c.router, _, err = route.NewSpec(sc.Router, route.Env{
		Workers: sc.Workers, BlockSize: bs, Blocks: blocks, Rand: rng.Stream(sc.Seed, rng.Router, 0),
		CachedMs: cfg.cachedMs, MissMs: cfg.missMs, Cluster: clusterView{c}, Orig: tr.Blocks.OrigFunc(),
	})
	if err != nil {
		return nil, err
	}
	if at := g.debug.panicAt; at >= 0 {
		c.router = panicRouter{Router: c.router, at: at}
	}
	run.LoadUnit = c.router.LoadUnit()
	c.probe = c.workers[0].cache
	return c, nil
}

// newRecord is request x's record before the run: arriving at t, not yet
// routed, started or ended.
func newRecord(x int32, t time.Duration) Record {
	return Record{Index: x, Worker: -1, Arrival: t, Start: unset, FirstToken: unset, Done: unset}
}

// newOversized is the error of oversize=error, empty.
func (c *cluster) newOversized() *scenario.OversizedError {
	return &scenario.OversizedError{Capacity: c.cfg.capacity, Unit: c.cfg.unit.String()}
}

// verdict decides what becomes of request r before the run (rec is its
// record): failed or bypassed as oversize (SPEC §1: input plus output
// allowance larger than B), failed for vLLM's limits, or noted in stop
// under oversize=error.
func (c *cluster) verdict(r *trace.Request, rec *Record, stop *scenario.OversizedError) {
	if c.cfg.isVLLM {
		c.vllmVerdict(r, rec) // vLLM reserves no output allowance
		return
	}
	fp := c.probe.Footprint(r)
	if fp <= c.cfg.capacity {
		return
	}
	switch c.cfg.sc.Oversize {
	case scenario.OversizeError:
		stop.NoteOversize(r.Source, r.Index, fp)
	case scenario.OversizeFail:
		rec.Status = Failed
		rec.Fail = fmt.Sprintf("oversize: needs %d %s, cache holds %d", fp, c.cfg.unit, c.cfg.capacity)
	case scenario.OversizeBypass:
		rec.Status = Bypassed
	}
}

// prepare sets arrival times, oversize verdicts and session dependencies,
// and refuses a run that could pass MaxTime.
func (c *cluster) prepare() error {
	tr, sc := c.tr, &c.cfg.sc
	n := len(tr.Requests)
	if err := c.arrivalTimes(); err != nil {
		return err
	}
	for i := range tr.Requests {
		c.run.Records[i] = newRecord(int32(i), c.arrivals[i])
	}
	if n > 0 {
		c.run.Start = c.arrivals[0]
	}
	// Oversize (SPEC §1): input plus output allowance larger than B.
	// Under oversize=error every request is checked first, so the error
	// can name the size that holds them all.
	stop := c.newOversized()
	for i := range tr.Requests {
		c.verdict(&tr.Requests[i], &c.run.Records[i], stop)
	}
	if stop.Count > 0 {
		return stop
	}
	if sc.SessionTiming == "closed" {
		byID := make(map[int64]int32, n)
		for i := range tr.Requests {
			byID[tr.Requests[i].ID] = int32(i)
		}
		c.children = map[int32][]int32{}
		c.dependent = make([]bool, n)
		c.parentOf = make([]int32, n)
		for i := range tr.Requests {
			r := &tr.Requests[i]
			c.parentOf[i] = -1
			if r.Parent == trace.NoParent {
				continue
			}
			if p, ok := byID[r.Parent]; ok && p != int32(i) {
				c.children[p] = append(c.children[p], int32(i))
				c.dependent[i] = true
				c.parentOf[i] = p
			}
		}
	}
	return c.checkHorizon()
}

// pushNextTraceArrival schedules the next request released by the trace's
// own clock (skipping closed-session turns, released by their parents).
func (c *cluster) pushNextTraceArrival() {
	if c.src != nil {
		c.pushNextStreamed()
		return
	}
	for c.next < len(c.tr.Requests) {
		i := c.next
		c.next++
		if c.dependent != nil && c.dependent[i] {
			continue
		}
		c.sched.push(event{t: c.arrivals[i], kind: evArrival, req: int32(i), worker: -1})
		return
	}
}

var errCanceled = errors.New("simulation canceled")

func (c *cluster) loop() error {
	c.pushNextTraceArrival()
	obsPending := false
	scheduleObserve := func() {
		if obsPending || c.ended() {
			return
		}
		if at, ok := c.router.NextObserve(); ok {
			c.sched.push(event{t: at, kind: evObserve, worker: -1, req: -1})
			obsPending = true
		}
	}
	scheduleObserve()
	steps := 0
	for {
		e, ok := c.sched.pop()
		if !ok {
			break
		}
		if steps++; steps&4095 == 0 && c.ctx != nil {
			if err := c.ctx.Err(); err != nil {
				return fmt.Errorf("%w: %w", errCanceled, err)
			}
		}
		c.cur, c.now = e.req, e.t
		switch e.kind {
		case evObserve:
			obsPending = false
			c.router.Observe(e.t)
		case evArrival:
			if c.dependent == nil || !c.dependent[e.req] {
				c.pushNextTraceArrival()
			}
			c.arrive(e.req, e.t)
		case evPrefillEnd:
			c.linearPrefillEnd(c.workers[e.worker], e.t)
		case evComplete:
			c.linearComplete(c.workers[e.worker], e.t)
		case evEnqueue:
			w := c.workers[e.worker]
			q := w.vl.pending[e.req]
			delete(w.vl.pending, e.req)
			c.vllmEnqueue(w, q, e.t)
		case evIterEnd:
			if c.cfg.isVLLM {
				c.vllmIterEnd(c.workers[e.worker], e.t)
			} else {
				c.engineIterEnd(c.workers[e.worker], e.t)
			}
		}
		if c.err != nil {
			return c.err
		}
		scheduleObserve()
	}
	if c.err != nil {
		return c.err // a streamed run's first request refused it, before any event
	}
	if c.done != c.total() {
		return fmt.Errorf("internal: %d of %d requests ended", c.done, c.total())
	}
	return nil
}

// detailRows are where request x's per-worker router scores and true
// cached prefixes go: its rows of Run.Scores and Run.Matches
// (Options.RequestDetail), the scratch rows handed to
// StreamOptions.OnDetail, or nil for a run that keeps neither.
func (c *cluster) detailRows(x int32) ([]float32, []int32) {
	switch {
	case c.run.Matches != nil:
		return c.run.RequestScores(int(x)), c.run.RequestMatches(int(x))
	case c.onDetail != nil:
		clear(c.dScores)
		return c.dScores, c.dMatches
	}
	return nil, nil
}

// arrive routes request x at t and queues it on the chosen worker.
func (c *cluster) arrive(x int32, t time.Duration) {
	c.cur = x
	rec := c.rec(x)
	rec.Arrival = t
	r := c.req(x)
	if rec.Status == Failed {
		c.logEvent(t, LogFail, x, -1)
		c.finish(rec, r, -1, t, true)
		return
	}
	scores, m := c.detailRows(x)
	if m != nil {
		for w, wk := range c.workers {
			if wk.vl != nil {
				m[w] = int32(vllmPromptMatch(wk.vl.pool, r, c.tr.Info.BlockSize))
				continue
			}
			m[w] = int32(wk.cache.Match(r.Blocks))
		}
	}
	d := c.router.Route(t, r)
	rec.Worker = int16(d.Worker)
	rec.Why = d.Why
	if scores != nil {
		for i, s := range d.Scores {
			scores[i] = float32(s)
		}
	}
	if c.onDetail != nil {
		c.onDetail(int(x), scores, m)
	}
	c.logEvent(t, LogRouted, x, d.Worker)
	c.sampleLoads(t)
	w := c.workers[d.Worker]
	if w.vl != nil {
		c.vllmArrive(w, x, t)
		return
	}
	w.waiting = append(w.waiting, x)
	if c.src != nil && w.queueLen() > c.parkBehind {
		c.win.park(x)
		if c.parked != nil {
			*c.parked++
		}
	}
	if c.cfg.isEngine {
		c.engineStep(w, t)
	} else {
		c.linearStart(w, t)
	}
	c.snap(w, t)
}

// failRequest fails a routed request that cannot be served.
func (c *cluster) failRequest(w *worker, x int32, t time.Duration, why string) {
	rec := c.rec(x)
	rec.Status = Failed
	rec.Fail = why
	c.logEvent(t, LogFail, x, w.id)
	c.finish(rec, c.req(x), w.id, t, true)
}
