package live

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/live/liverun"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/rng"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// Config is everything that decides a live run besides the trace.
type Config struct {
	Workers []Endpoint
	Client  ClientConfig
	// Router is a route spec ("cache_aware", "llmd:precise=true", …).
	Router string
	// Seed feeds the router's stream (random, p2c, dynamo with a
	// temperature).
	Seed uint64
	// TimeScale multiplies the trace's arrival times (1 = as recorded;
	// 0.1 = ten times faster).
	TimeScale float64
	// Concurrency caps the requests in flight (≥ 1); arrivals beyond it wait
	// in the driver, FIFO.
	Concurrency int
	// Retries is how many more attempts a request gets after a retryable
	// failure; Backoff the wait before the first retry (doubling, at most
	// 16×).
	Retries int
	Backoff time.Duration
	// ProbeInterval is how often an unhealthy worker is probed (GET
	// /health); ScrapeInterval how often /metrics is read during the run
	// (queue lengths and usage for llmd, snapshots).
	ProbeInterval, ScrapeInterval time.Duration
	// CacheBlocks is each worker's cache size in server blocks; 0 reads
	// vLLM's vllm:cache_config_info from /metrics.
	CacheBlocks int
	// ServerBlockSize is the workers' tokens per block; 0 reads it from
	// /metrics, else 16 for the OpenAI API and 1 (sglang's token pool)
	// for sglang.
	ServerBlockSize int
	// ModelEvict is the eviction policy of kvscope's model of each worker's
	// cache (default server_lru for OpenAI workers, lru for sglang).
	ModelEvict string
	// Updates, if set, receives a Record per finished request (sent
	// blocking: the consumer must keep up) and a Snapshot every
	// SnapshotEvery (dropped when the channel is full). The driver never
	// closes it.
	Updates       chan<- Update
	SnapshotEvery time.Duration

	// settleFor bounds the wait for the workers' /metrics counters to stop
	// moving after the run, all workers together; settleEvery is the pause
	// between two readings (tests shorten them).
	settleFor, settleEvery time.Duration
	// wrapRouter, when set, wraps the router (tests: one that panics).
	wrapRouter func(route.Router) route.Router
}

func (c *Config) defaults() {
	if c.TimeScale <= 0 {
		c.TimeScale = 1
	}
	if c.Concurrency < 1 {
		c.Concurrency = 1
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 500 * time.Millisecond
	}
	if c.ScrapeInterval <= 0 {
		c.ScrapeInterval = time.Second
	}
	if c.SnapshotEvery <= 0 {
		c.SnapshotEvery = time.Second
	}
	if c.settleFor <= 0 {
		c.settleFor = 3 * time.Second
	}
	if c.settleEvery <= 0 {
		c.settleEvery = 100 * time.Millisecond
	}
	if c.Client.API == "" {
		c.Client.API = OpenAI
	}
	if c.ModelEvict == "" {
		c.ModelEvict = "server_lru"
		if c.Client.API == SGLang {
			c.ModelEvict = "lru"
		}
	}
}

// Update is one message of the streaming API: exactly one field is set.
type Update struct {
	Record   *Record
	Snapshot *Snapshot
}

// Snapshot is the run's state at one moment.
type Snapshot struct {
	Elapsed    time.Duration
	Dispatched int
	Finished   int
	Total      int
	Workers    []WorkerSnapshot
}

// WorkerSnapshot is one worker's state in a Snapshot.
type WorkerSnapshot struct {
	Worker    int
	URL       string
	Healthy   bool
	InFlight  int
	Completed int
	Failed    int
	// HitRatio is Σ cached / Σ prompt tokens over its completed responses.
	PromptTokens, CachedTokens int64
	HitRatio                   float64
	// From the latest /metrics reading (Has* false when absent).
	Usage, Waiting     float64
	HasUsage, HasQueue bool
}

// worker is the driver's state of one attached worker.
type worker struct {
	ep        Endpoint
	healthy   bool
	probing   bool
	downs     int
	recovered int
	inFlight  int
	completed int
	failed    int
	prompt    int64
	cached    int64
	modelHit  int64
	model     *kvcache.Cache
	capacity  int64
	before    *Scrape
	latest    *Scrape
	settled   bool
	fail      map[string]int
}

type driver struct {
	cfg     Config
	plan    *Plan
	client  *Client
	start   time.Time
	mu      sync.Mutex
	router  route.Router
	canon   string
	last    time.Duration
	workers []*worker
	records []Record
	done    int
	sent    int
	bs      int
	newPol  func(w int) (kvcache.Policy, error)
	// bg ends with the run (probes, scrapes); probes counts probe loops.
	bg     context.Context
	probes sync.WaitGroup
	// stopRun ends the run's context when a goroutine panics; panicked
	// keeps the first panic, as the run's error.
	stopRun   context.CancelCauseFunc
	panicOnce sync.Once
	panicked  *PanicError
}

// PanicError is a panic inside a live run (the driver, a router it calls,
// its model of a worker's cache) turned into the run's error: the run stops
// and Run returns it instead of the process crashing. Error() is one line
// (for a status bar); Stack holds the panicking goroutine's stack.
type PanicError struct {
	// Router and ModelEvict name the run's scenario.
	Router, ModelEvict string
	// Request is the trace index of the request being handled, -1 when the
	// panic was outside any request; Where says what the driver was doing.
	Request int
	Where   string
	Value   any
	Stack   []byte
}

func (e *PanicError) Error() string {
	at := e.Where
	if e.Request >= 0 {
		at = fmt.Sprintf("%s request %d", e.Where, e.Request)
	}
	return fmt.Sprintf("live run (router %s, model eviction %s): internal error (panic) %s: %v", e.Router, e.ModelEvict, at, e.Value)
}

// recovered turns p, a recover() result, into the run's error (the first
// one is kept) and stops the run. Deferred as
// defer func() { d.recovered(recover(), where, index) }().
func (d *driver) recovered(p any, where string, index int) {
	if p == nil {
		return
	}
	router := d.canon
	if router == "" {
		router = d.cfg.Router
	}
	pe := &PanicError{Router: router, ModelEvict: d.cfg.ModelEvict, Request: index, Where: where, Value: p, Stack: debug.Stack()}
	d.panicOnce.Do(func() { d.panicked = pe })
	if d.stopRun != nil {
		d.stopRun(pe)
	}
}

// Run replays reqs (requests of tr, in arrival order) against cfg.Workers.
// Failures of requests and workers are in the Result. It returns an error
// with no Result when the run cannot start (bad router, no cache size, ctx
// already done) or when something panicked (a *PanicError naming the
// scenario and the request); and both the Result of what was done and an
// error wrapping ctx.Err() when ctx ended before every request did
// (Result.Interrupted, the unfinished requests Cancelled).
func Run(ctx context.Context, tr *trace.Trace, reqs []trace.Request, cfg Config) (res *Result, err error) {
	cfg.defaults()
	if len(cfg.Workers) == 0 {
		return nil, errors.New("live: no workers")
	}
	d := &driver{cfg: cfg, client: NewClient(cfg.Client, cfg.Workers)}
	defer d.client.Close()
	defer func() {
		d.recovered(recover(), "in the driver", -1)
		if d.panicked != nil {
			res, err = nil, d.panicked
		}
	}()

	// Readings before the run: counters' baselines, cache config.
	scrapeErr := make([]error, len(cfg.Workers))
	for i, ep := range cfg.Workers {
		w := &worker{ep: ep, healthy: true, fail: map[string]int{}}
		if s, err := d.client.Scrape(ctx, ep); err == nil {
			w.before, w.latest = &s, &s
		} else {
			scrapeErr[i] = err
		}
		d.workers = append(d.workers, w)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("live: cancelled before the run started (%v): %w", context.Cause(ctx), err)
	}
	d.bs = cfg.ServerBlockSize
	for _, w := range d.workers {
		if d.bs == 0 && w.before != nil && w.before.BlockSize > 0 {
			d.bs = w.before.BlockSize
		}
	}
	if d.bs == 0 {
		d.bs = 16
		if cfg.Client.API == SGLang {
			d.bs = 1
		}
	}
	// A worker without a reading (down at the start) gets the size the
	// others report: attached workers are taken to be alike.
	known := int64(0)
	for _, w := range d.workers {
		if w.before != nil && w.before.CacheBlocks > 0 {
			known = int64(w.before.CacheBlocks)
			break
		}
	}
	for i, w := range d.workers {
		switch {
		case cfg.CacheBlocks > 0:
			w.capacity = int64(cfg.CacheBlocks)
		case w.before != nil && w.before.CacheBlocks > 0:
			w.capacity = int64(w.before.CacheBlocks)
		case known > 0:
			w.capacity = known
		default:
			why := "no vllm:cache_config_info in /metrics"
			if scrapeErr[i] != nil {
				why = "/metrics: " + scrapeErr[i].Error()
			}
			return nil, fmt.Errorf("live: worker %d (%s): cache size unknown (%s): give --cache-blocks", i, w.ep, why)
		}
	}
	plan, err := liverun.NewPlan(tr, reqs, d.bs)
	if err != nil {
		return nil, err
	}
	d.plan = plan
	sp, err := param.Parse(cfg.ModelEvict)
	if err != nil {
		return nil, fmt.Errorf("live: model eviction: %w", err)
	}
	d.newPol = func(w int) (kvcache.Policy, error) {
		if sp.Name == "server_lru" && len(sp.Params) == 0 {
			return evict.NewServerLRU(), nil
		}
		p, _, err := evict.New(sp, evict.Env{Unit: kvcache.Blocks, Capacity: d.workers[w].capacity, Rand: evict.WorkerRand(cfg.Seed, w)})
		return p, err
	}
	for i, w := range d.workers {
		if w.model, err = d.newModel(i); err != nil {
			return nil, fmt.Errorf("live: model eviction: %w", err)
		}
	}
	d.router, d.canon, err = route.New(cfg.Router, route.Env{
		Workers: len(cfg.Workers), BlockSize: d.bs, Blocks: plan.Model.Blocks.Len(),
		Rand: rng.Stream(cfg.Seed, rng.Router, 0), Cluster: clusterView{d}, Orig: plan.Model.Blocks.OrigFunc(),
		// lbgr:preset=paper's a_c/a_m: the real workers' costs are unknown,
		// so the linear model's defaults (SPEC §8).
		CachedMs: 0, MissMs: 0.15,
	})
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	if cfg.wrapRouter != nil {
		d.router = cfg.wrapRouter(d.router)
	}
	d.records = make([]Record, len(plan.Requests))
	return d.run(ctx)
}

func (d *driver) newModel(w int) (*kvcache.Cache, error) {
	p, err := d.newPol(w)
	if err != nil {
		return nil, err
	}
	return kvcache.New(kvcache.Config{Unit: kvcache.Blocks, Capacity: d.workers[w].capacity, BlockSize: d.bs,
		SizeHint: d.plan.Model.Blocks.Len()}, p)
}

func (d *driver) run(ctx context.Context) (*Result, error) {
	d.start = time.Now()
	// runCtx ends with ctx or at the first panic.
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	d.stopRun = stopRun
	bg, stopBG := context.WithCancel(runCtx)
	d.bg = bg
	var bgWG sync.WaitGroup
	bgWG.Go(func() {
		defer func() { d.recovered(recover(), "scraping /metrics", -1) }()
		d.scrapeLoop(bg)
	})
	if d.cfg.Updates != nil {
		bgWG.Go(func() {
			defer func() { d.recovered(recover(), "taking a snapshot", -1) }()
			d.snapshotLoop(bg)
		})
	}
	var wg sync.WaitGroup
	d.dispatch(runCtx, &wg)
	wg.Wait()
	stopBG()
	bgWG.Wait()
	d.probes.Wait()
	if d.panicked != nil {
		return nil, d.panicked
	}
	res := d.result(ctx)
	if d.panicked != nil { // in settle
		return nil, d.panicked
	}
	if res.Interrupted {
		return res, fmt.Errorf("live: run cancelled (%s) with %d of %d requests sent: %w", res.InterruptCause, res.Sent, res.Requests, ctx.Err())
	}
	return res, nil
}

// dispatch sends every request at its arrival time, at most
// Config.Concurrency at once, each served in its own goroutine (counted by
// wg); once ctx ends, the requests not yet sent are cancelled.
func (d *driver) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	cur := -1
	defer func() { d.recovered(recover(), "dispatching", cur) }()
	sem := make(chan struct{}, d.cfg.Concurrency)
	for i := range d.plan.Requests {
		pr := &d.plan.Requests[i]
		cur = pr.Index
		at := time.Duration(float64(pr.Arrival) * d.cfg.TimeScale)
		d.records[i] = Record{Index: pr.Index, Worker: -1, Routed: -1, ArrivalMs: ms(at), SentTokens: len(pr.Tokens)}
		if ctx.Err() == nil {
			if wait := time.Until(d.start.Add(at)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
		}
		if ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			d.finish(ctx, i, Cancelled, "run cancelled before sending")
			continue
		}
		d.mu.Lock()
		d.sent++
		d.mu.Unlock()
		wg.Go(func() {
			defer func() { <-sem }()
			defer func() { d.recovered(recover(), "serving", pr.Index) }()
			d.serve(ctx, i)
		})
	}
}

// now is the run's clock for the router: nondecreasing, under d.mu.
func (d *driver) now() time.Duration {
	t := time.Since(d.start)
	if t < d.last {
		t = d.last
	}
	d.last = t
	for at, ok := d.router.NextObserve(); ok && at <= t; at, ok = d.router.NextObserve() {
		d.router.Observe(at)
	}
	return t
}

// attempt is one send's bookkeeping under d.mu.
type attempt struct {
	routed, w int
	routedAt  time.Duration
	model     *kvcache.Cache
	pinned    []trace.BlockID
	hit       int
	fits      bool
	evicted   int64
	why       string
}

// begin routes request i and updates the model of the chosen worker.
func (d *driver) begin(i int) (*attempt, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	req := &d.plan.Model.Requests[i]
	t := d.now()
	dec := d.router.Route(t, req)
	a := &attempt{routed: dec.Worker, w: dec.Worker, routedAt: t, why: dec.Reason()}
	if !d.workers[a.w].healthy {
		a.w = -1
		for k := 1; k < len(d.workers); k++ {
			if x := (dec.Worker + k) % len(d.workers); d.workers[x].healthy {
				a.w = x
				break
			}
		}
		if a.w < 0 {
			d.complete(a, i, 0, true)
			return nil, &AttemptError{Kind: KindConnect, Msg: "no healthy worker"}
		}
		a.why += fmt.Sprintf("; worker %d unhealthy, sent to worker %d", dec.Worker, a.w)
	}
	w := d.workers[a.w]
	w.inFlight++
	// kvscope's model of the worker: the server counts the blocks of
	// running requests as cached, so a request's blocks are inserted (and
	// held) from the moment it is sent until it ends.
	c := w.model
	a.model = c
	chain := req.Blocks
	h := c.Match(chain)
	a.hit = h
	before := c.Evicted()
	if err := c.Pin(chain[:h]); err == nil {
		miss := int64(len(chain) - h)
		// The server checks that the request fits beside the blocks held by
		// running requests before it evicts anything, and rejects it
		// otherwise: no eviction for a request that cannot fit.
		fits := miss <= c.Capacity()-c.PinnedWeight()-c.Reserved()
		var short int64
		if fits {
			short, err = c.MakeRoom(miss)
		}
		if fits && err == nil && short == 0 && c.Reserve(miss) == nil {
			parent := kvcache.NoBlock
			if h > 0 {
				parent = chain[h-1]
			}
			ok := true
			for k := h; k < len(chain); k++ {
				if _, err := c.Commit(parent, chain[k], 1); err != nil {
					ok = false
					break
				}
				parent = chain[k]
			}
			if ok {
				a.fits, a.pinned = true, chain
			}
		} else {
			_ = c.Unpin(chain[:h])
		}
	}
	a.evicted = c.Evicted() - before
	return a, nil
}

// complete ends an attempt for the router and the model (under d.mu).
func (d *driver) complete(a *attempt, i int, e2e time.Duration, failed bool) {
	req := &d.plan.Model.Requests[i]
	t := d.now()
	if err := d.router.Complete(route.Completion{Worker: a.routed, Req: req, Routed: a.routedAt, Done: t, E2E: e2e, Failed: failed}); err != nil {
		panic(fmt.Sprintf("live: router completion: %v", err)) // a driver bug: every route is completed once
	}
	if a.w >= 0 {
		d.workers[a.w].inFlight--
	}
	if a.fits {
		a.model.Access(a.pinned, kvcache.Complete)
		_ = a.model.Unpin(a.pinned)
	}
}

// ended books an attempt's end: the router, the model, the worker's counts
// (ae nil: completed). A cancelled attempt is not the worker's failure.
func (d *driver) ended(a *attempt, i int, resp Response, ae *AttemptError) {
	d.mu.Lock()
	defer d.mu.Unlock() // also when the router panics
	d.complete(a, i, resp.E2E, ae != nil)
	w := d.workers[a.w]
	switch {
	case ae == nil:
		w.completed++
		w.prompt += int64(resp.PromptTokens)
		w.cached += int64(resp.CachedTokens)
		w.modelHit += int64(d.records[i].ModelCachedTokens)
	case ae.Kind != KindCancelled:
		w.fail[string(ae.Kind)]++
	}
}

func (d *driver) serve(ctx context.Context, i int) {
	pr := &d.plan.Requests[i]
	rec := &d.records[i]
	backoff := d.cfg.Backoff
	var last *AttemptError
	for attempt := 0; attempt <= d.cfg.Retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			backoff = min(2*backoff, 16*d.cfg.Backoff)
		}
		if ctx.Err() != nil {
			why := "run cancelled before sending"
			if attempt > 0 {
				why = "run cancelled before a retry"
			}
			d.finish(ctx, i, Cancelled, why)
			return
		}
		a, err := d.begin(i)
		rec.Attempts++
		if err != nil {
			last = err.(*AttemptError)
			rec.Failures = append(rec.Failures, string(last.Kind))
			continue
		}
		rec.Worker, rec.Routed, rec.Why = a.w, a.routed, a.why
		rec.SentMs = ms(time.Since(d.start))
		rec.ModelCachedTokens, rec.ModelFits, rec.ModelEvicted = a.hit*d.bs, a.fits, a.evicted
		resp, serr := d.client.Send(ctx, d.workers[a.w].ep, pr.Tokens, pr.Output)
		var ae *AttemptError
		if serr != nil && !errors.As(serr, &ae) {
			ae = &AttemptError{Kind: KindProtocol, Msg: serr.Error()}
		}
		d.ended(a, i, resp, ae)
		// A worker that refuses connections leaves routing at once; after a
		// stall, a timeout or a cut stream it leaves only if it does not
		// answer a health probe either (one slow request is not a dead
		// worker).
		if serr != nil && ae.Unhealthy() && ctx.Err() == nil {
			down := ae.Kind == KindRefused || ae.Kind == KindConnect || d.client.Probe(ctx, d.workers[a.w].ep) != nil
			if down {
				d.mu.Lock()
				d.markDown(a.w)
				d.mu.Unlock()
			}
		}
		if serr == nil {
			rec.TTFTMs, rec.E2EMs = ms(resp.TTFT), ms(resp.E2E)
			rec.PromptTokens, rec.CachedTokens, rec.CachedKnown = resp.PromptTokens, resp.CachedTokens, resp.CachedKnown
			rec.OutputTokens = resp.OutputTokens
			d.finish(ctx, i, Completed, "")
			return
		}
		last = ae
		rec.Failures = append(rec.Failures, string(ae.Kind))
		if ctx.Err() != nil || ae.Kind == KindCancelled {
			d.finish(ctx, i, Cancelled, d.cfg.Client.Key.scrub(ae.Error()))
			return
		}
		if !ae.Retryable() {
			break
		}
	}
	st := Failed
	if last != nil && (last.Kind == KindTimeout || last.Kind == KindStall) {
		st = TimedOut
	}
	reason := "failed"
	if last != nil {
		reason = d.cfg.Client.Key.scrub(last.Error())
	}
	if rec.Worker >= 0 {
		d.mu.Lock()
		d.workers[rec.Worker].failed++
		d.mu.Unlock()
	}
	d.finish(ctx, i, st, reason)
}

// finish records request i's outcome and streams it.
func (d *driver) finish(ctx context.Context, i int, st Status, reason string) {
	rec := &d.records[i]
	rec.Status, rec.Reason = st, reason
	d.mu.Lock()
	d.done++
	d.mu.Unlock()
	if d.cfg.Updates != nil {
		r := *rec
		r.Failures = append([]string(nil), rec.Failures...)
		u := Update{Record: &r}
		// Delivered when there is room, even after ctx ended (the records
		// of cancelled requests); a blocked consumer holds the run only
		// until ctx ends.
		select {
		case d.cfg.Updates <- u:
		default:
			select {
			case d.cfg.Updates <- u:
			case <-ctx.Done():
			}
		}
	}
}

// markDown takes worker w out of routing and probes it until it answers
// (under d.mu).
func (d *driver) markDown(w int) {
	ctx := d.bg
	wk := d.workers[w]
	if !wk.healthy {
		return
	}
	wk.healthy = false
	wk.downs++
	if wk.probing {
		return
	}
	wk.probing = true
	d.probes.Go(func() {
		defer func() { d.recovered(recover(), fmt.Sprintf("probing worker %d", w), -1) }()
		t := time.NewTicker(d.cfg.ProbeInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				d.mu.Lock()
				wk.probing = false
				d.mu.Unlock()
				return
			case <-t.C:
			}
			if d.client.Probe(ctx, wk.ep) != nil {
				continue
			}
			d.rejoin(w)
			return
		}
	})
}

// rejoin puts worker w back into routing after a successful probe.
func (d *driver) rejoin(w int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	wk := d.workers[w]
	wk.healthy, wk.probing = true, false
	wk.recovered++
	// A worker that went away most likely restarted with an empty cache:
	// start its model afresh (requests still holding the old model release
	// their pins there).
	if m, err := d.newModel(w); err == nil {
		wk.model = m
	}
}

func (d *driver) scrapeLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.ScrapeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, w := range d.workers {
			d.mu.Lock()
			ok := w.healthy
			d.mu.Unlock()
			if !ok {
				continue
			}
			if s, err := d.client.Scrape(ctx, w.ep); err == nil {
				d.mu.Lock()
				w.latest = &s
				d.mu.Unlock()
			}
		}
	}
}

func (d *driver) snapshotLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.SnapshotEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := d.Snapshot()
		select {
		case d.cfg.Updates <- Update{Snapshot: &s}:
		default: // a slow consumer loses snapshots, never records
		}
	}
}

// Snapshot is the run's state now.
func (d *driver) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Snapshot{Elapsed: time.Since(d.start), Dispatched: d.sent, Finished: d.done, Total: len(d.records)}
	for i, w := range d.workers {
		ws := WorkerSnapshot{Worker: i, URL: w.ep.String(), Healthy: w.healthy, InFlight: w.inFlight,
			Completed: w.completed, Failed: w.failed, PromptTokens: w.prompt, CachedTokens: w.cached,
			HitRatio: ratioF(float64(w.cached), float64(w.prompt))}
		if l := w.latest; l != nil {
			ws.Usage, ws.HasUsage = l.Usage, l.HasUsage
			ws.Waiting, ws.HasQueue = l.Waiting, l.HasQueue
		}
		s.Workers = append(s.Workers, ws)
	}
	return s
}

// settle takes the workers' last /metrics readings: it reads each worker
// until its counters stop moving (the server updates them asynchronously),
// all workers at once, pausing Config.settleEvery between readings and
// waiting at most Config.settleFor (3 s) in all. A worker out of routing,
// and every worker once ctx has ended (a cancelled run), is read once,
// without waiting. A worker's reading is nil when none succeeded.
func (d *driver) settle(ctx context.Context) {
	// The readings themselves outlive ctx (a cancelled run still reports
	// what the workers counted), within the same bound.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.settleFor)
	defer cancel()
	var wg sync.WaitGroup
	for i, w := range d.workers {
		wg.Go(func() {
			defer func() { d.recovered(recover(), fmt.Sprintf("reading worker %d's /metrics", i), -1) }()
			d.settleWorker(ctx, rctx, w)
		})
	}
	wg.Wait()
}

func (d *driver) settleWorker(ctx, rctx context.Context, w *worker) {
	w.latest, w.settled = nil, false
	var prev *Scrape
	for {
		s, err := d.client.Scrape(rctx, w.ep)
		if err != nil {
			return // keeps the last reading taken here, if any
		}
		w.latest = &s
		if prev != nil && prev.Queried == s.Queried && prev.Hit == s.Hit && float64(w.prompt) <= s.Queried-d.base(w).Queried {
			w.settled = true
			return
		}
		if !w.healthy || ctx.Err() != nil {
			return
		}
		prev = &s
		t := time.NewTimer(d.cfg.settleEvery)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-rctx.Done():
		}
		t.Stop()
		if rctx.Err() != nil {
			return
		}
	}
}

// base is worker w's counters before the run (0 for counters not yet
// exposed).
func (d *driver) base(w *worker) Scrape {
	if w.before != nil && w.before.HasCache {
		return *w.before
	}
	return Scrape{}
}

func (d *driver) result(ctx context.Context) *Result {
	d.settle(ctx)
	r := &Result{
		API: d.cfg.Client.API, Router: d.canon, ModelEvict: d.cfg.ModelEvict,
		TimeScale: d.cfg.TimeScale, Concurrency: d.cfg.Concurrency, Retries: d.cfg.Retries,
		TraceBlockSize: d.plan.TraceBlockSize, ServerBlockSize: d.bs,
		Requests: len(d.records), FailReasons: map[string]int{},
		DroppedPartial: d.plan.DroppedPartial, DroppedTokens: d.plan.DroppedTokens, DistinctBlocks: d.plan.DistinctBlocks,
		Started: d.start.UTC(), DurationS: time.Since(d.start).Seconds(),
		Records: d.records, Plan: d.plan,
	}
	for _, rec := range d.records {
		if rec.Attempts > 0 {
			r.Sent++
		}
		switch rec.Status {
		case Completed:
			r.Completed++
		case Cancelled:
			r.Cancelled++
		case TimedOut:
			r.TimedOut++
			r.FailReasons[reasonKind(rec)]++
		default:
			r.Failed++
			r.FailReasons[reasonKind(rec)]++
		}
	}
	if r.Interrupted = r.Cancelled > 0; r.Interrupted {
		r.InterruptCause = "cancelled"
		if ctx.Err() != nil {
			r.InterruptCause = context.Cause(ctx).Error()
		}
	}
	for i, w := range d.workers {
		r.WorkerURLs = append(r.WorkerURLs, w.ep.String())
		wr := WorkerResult{Worker: i, URL: w.ep.String(), Completed: w.completed, Failed: w.failed,
			PromptTokens: w.prompt, CachedTokens: w.cached, HitRatio: ratioF(float64(w.cached), float64(w.prompt)),
			ModelCachedTokens: w.modelHit, ModelHitRatio: ratioF(float64(w.modelHit), float64(w.prompt)),
			CacheBlocks: w.capacity, Downs: w.downs, Recovered: w.recovered, Healthy: w.healthy}
		if len(w.fail) > 0 {
			wr.Failures = w.fail
		}
		// A counter not yet exposed before the run (the server registers its
		// series on first use) started at 0.
		if w.before != nil && w.latest != nil && w.latest.HasCache {
			b := d.base(w)
			wr.HasMetrics, wr.MetricsSettled = true, w.settled
			wr.MetricsQueried = w.latest.Queried - b.Queried
			wr.MetricsHit = w.latest.Hit - b.Hit
			wr.MetricsHitRatio = ratioF(wr.MetricsHit, wr.MetricsQueried)
		}
		r.Workers = append(r.Workers, wr)
	}
	return r
}

// reasonKind is a failure's reason without per-request detail, for counts.
func reasonKind(rec Record) string {
	if len(rec.Failures) > 0 {
		return rec.Failures[len(rec.Failures)-1]
	}
	return rec.Reason
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func ratioF(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// clusterView is route.Cluster over the live workers: Match from kvscope's
// model of each worker's cache (precise=true routers read it: no KV events
// are consumed), Waiting and Usage from the latest /metrics reading, or,
// without one, the driver's own in-flight count and the model's pinned share.
// Called by the router under d.mu.
type clusterView struct{ d *driver }

func (v clusterView) Match(w int, r *trace.Request) (int, int) {
	h := v.d.workers[w].model.Match(r.Blocks)
	return h, h * v.d.bs
}

func (v clusterView) Waiting(w int) int {
	wk := v.d.workers[w]
	if l := wk.latest; l != nil && l.HasQueue {
		return int(l.Waiting)
	}
	return wk.inFlight
}

func (v clusterView) Usage(w int) float64 {
	wk := v.d.workers[w]
	if l := wk.latest; l != nil && l.HasUsage {
		return l.Usage
	}
	return float64(wk.model.PinnedWeight()) / float64(wk.model.Capacity())
}
