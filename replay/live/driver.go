package live

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// ctr follows the prefix-cache counters over the run (every reading);
	// forgotten counts the blocks the model dropped after failed attempts.
	ctr       counters
	forgotten int64
	// mirrorHit sums the KV-event mirror's predictions over completed
	// requests.
	mirrorHit int64
	// corr is the correction of the model from the KV-event mirror
	// (correct.go).
	corr correction
	// downWhy is the error that last took the worker out of routing.
	downWhy string
	// The circuit breaker (breaker.go).
	breaker
	fail map[string]int
}

// liveReq is one request the driver has reached, from its read to its
// end: the plan of its prompt, its request in the model (its own
// allocation: routers with routing-history trees keep the pointer, and
// with it only that), its record.
type liveReq struct {
	pr  liverun.PlannedRequest
	mr  *trace.Request
	rec Record
}

type driver struct {
	cfg     Config
	plan    *Plan
	client  *Client
	start   time.Time
	mu      sync.Mutex
	router  route.Router
	holder  route.Holder // the router's block ids, for sweep; nil: it holds none
	canon   string
	last    time.Duration
	workers []*worker
	rank    []int // begin's scratch: the router's order of preference
	limit   *limiter
	// durationHit is set when Config.Duration stopped the sending.
	durationHit bool
	records     []Record
	done        int
	sent        int
	// completed and failedN count finished requests by outcome (failed
	// and timed out together), for snapshots.
	completed, failedN int
	bs                 int
	// kv is the KV-event subscription (nil: none); kvWalk is set when
	// its mirrors can walk the prompts (token ids sent, not words: the
	// server's tokenizer makes the tokens of a word prompt); matchIdx,
	// matchTok and matchDig cache the prompt Match walks and its block
	// digests (under mu).
	kv     *KVEvents
	kvWalk bool
	// correcting is set when the model is corrected from the mirrors
	// (kvWalk, unless Config.NoModelCorrection).
	correcting bool
	kvLate     []int // workers whose publisher had not connected at the start
	matchIdx   int
	matchTok   []uint32
	matchDig   []uint64
	newPol     func(w int) (kvcache.Policy, error)
	// bg ends with the run (probes, scrapes); probes counts probe loops.
	bg     context.Context
	probes sync.WaitGroup
	// stopRun ends the run's context when a goroutine panics; panicked
	// keeps the first panic, as the run's error.
	stopRun   context.CancelCauseFunc
	panicOnce sync.Once
	panicked  *PanicError

	// The source and the requests reached (dispatch, finish), by
	// position in the run: records (above) has one per request reached,
	// a zero Record until it finishes; reqs holds those not yet finished
	// (both under mu); kept, every one reached when Config.KeepPlan is set.
	src  Source
	reqs map[int]*liveReq
	kept []*liveReq
	// notSent counts the requests never reached (Result.NotSent) and
	// lastArrival is the last arrival read (trace time), both under mu;
	// readErr is a read error of the source that stopped the run.
	notSent     int
	lastArrival time.Duration
	readErr     error
}

// Source yields a trace's requests in arrival order (a *trace.Stream is
// one): Info gives the block size before the first request; NextInto
// fills r (reusing its slices' arrays) and returns io.EOF after the last.
type Source interface {
	Info() trace.Info
	NextInto(r *trace.Request) error
}

// Run replays reqs (requests of tr, in arrival order) against cfg.Workers,
// as RunStream does with a source over reqs; the Result keeps the plan of
// every request reached (Config.KeepPlan).
func Run(ctx context.Context, tr *trace.Trace, reqs []trace.Request, cfg Config) (*Result, error) {
	cfg.KeepPlan = true
	cfg.Expect = Expect{Requests: len(reqs)}
	if n := len(reqs); n > 0 {
		cfg.Expect.LastArrival = reqs[n-1].Arrival
	}
	return RunStream(ctx, &sliceSource{info: tr.Info, reqs: reqs}, cfg)
}

// sliceSource is a Source over loaded requests.
type sliceSource struct {
	info trace.Info
	reqs []trace.Request
}

func (s *sliceSource) Info() trace.Info { return s.info }

func (s *sliceSource) NextInto(r *trace.Request) error {
	if len(s.reqs) == 0 {
		return io.EOF
	}
	*r = s.reqs[0]
	s.reqs = s.reqs[1:]
	return nil
}

// Limit is src cut after n requests (n ≤ 0: all of them).
func Limit(src Source, n int) Source {
	if n <= 0 {
		return src
	}
	return &limitSource{Source: src, left: n}
}

type limitSource struct {
	Source
	left int
}

func (l *limitSource) NextInto(r *trace.Request) error {
	if l.left <= 0 {
		return io.EOF
	}
	l.left--
	return l.Source.NextInto(r)
}

// RunStream replays the requests of src against cfg.Workers, reading each
// when the previous one has been sent: the driver holds the requests in
// flight and the one waiting for its turn, not the trace (and, with
// Config.KeepPlan, the plan of every request reached). Failures of
// requests and workers are in the Result. It returns an error with no
// Result when the run cannot start (bad router, no cache size, ctx
// already done), when src fails to read (a trace that changed after a
// first pass checked it) or when something panicked (a *PanicError naming
// the scenario and the request); and both the Result of what was done and
// an error wrapping ctx.Err() when ctx ended before every request did
// (Result.Interrupted, the unfinished requests Cancelled).
func RunStream(ctx context.Context, src Source, cfg Config) (res *Result, err error) {
	cfg.defaults()
	if len(cfg.Workers) == 0 {
		return nil, errors.New("live: no workers")
	}
	d := &driver{cfg: cfg, src: src, reqs: map[int]*liveReq{}, client: NewClient(cfg.Client, cfg.Workers)}
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
			w.ctr.start(&s)
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
		d.bs = defaultsOf(cfg.Client.API).blockSize
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
			if cfg.Client.API == SGLang {
				why = "no sglang:max_total_num_tokens in /metrics"
			}
			if scrapeErr[i] != nil {
				why = "/metrics: " + scrapeErr[i].Error()
			}
			return nil, fmt.Errorf("live: worker %d (%s): cache size unknown (%s): give it in server blocks (kvscope live --cache-blocks, kvscope open --live-cache-blocks)", i, w.ep, why)
		}
	}
	plan, err := liverun.NewStreamPlan(src.Info(), d.bs)
	if err != nil {
		return nil, err
	}
	d.plan = plan
	sp, err := param.Parse(cfg.ModelEvict)
	if err != nil {
		return nil, fmt.Errorf("live: model eviction: %w", err)
	}
	d.newPol = func(w int) (kvcache.Policy, error) {
		p, _, err := evict.New(sp, evict.Env{Unit: kvcache.Blocks, Capacity: d.workers[w].capacity, Rand: evict.WorkerRand(cfg.Seed, w)})
		return p, err
	}
	for i, w := range d.workers {
		if w.model, err = d.newModel(i); err != nil {
			return nil, fmt.Errorf("live: model eviction: %w", err)
		}
	}
	d.router, d.canon, err = route.New(cfg.Router, route.Env{
		Workers: len(cfg.Workers), BlockSize: d.bs, // Blocks: unknown until sent; the trees grow

		Rand: rng.Stream(cfg.Seed, rng.Router, 0), Cluster: clusterView{d}, Orig: plan.Model.Blocks.OrigFunc(),
		// lbgr:preset=paper's a_c/a_m: the real workers' costs are unknown,
		// so the linear model's defaults (SPEC §8).
		CachedMs: 0, MissMs: 0.15,
	})
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	if recycleIDs(cfg, d.router) {
		plan.Model.Blocks.SetLimit(d.idLimit())
		d.holder, _ = d.router.(route.Holder)
	}
	if cfg.wrapRouter != nil {
		d.router = cfg.wrapRouter(d.router)
	}
	d.limit = newLimiter(cfg.Concurrency, cfg.Adaptive)
	d.matchIdx = -1
	switch {
	case cfg.KVMirror != nil:
		d.kv = cfg.KVMirror
	case len(cfg.KVEvents) > 0:
		if d.kv, err = OpenKVEvents(ctx, cfg.KVEvents); err != nil {
			return nil, err
		}
		defer d.kv.Close()
	}
	if d.kv != nil {
		if n := len(d.kv.Mirrors); n != len(cfg.Workers) {
			return nil, fmt.Errorf("live: %d KV event endpoints for %d workers: give one per worker, in worker order", n, len(cfg.Workers))
		}
		d.kvWalk = !cfg.Client.Words
		d.kvLate = d.kv.WaitConnected(ctx, cfg.KVConnectWait)
		d.correcting = d.kvWalk && !cfg.NoModelCorrection
		for i, w := range d.workers {
			// Removed blocks are remembered for a cache's worth of
			// removals at most (mirror.go): memory in step with the cache.
			d.kv.Mirrors[i].setRetain(int(min(w.capacity, 1<<16)))
			// Restarts before the run are the mirror's, not the model's.
			_, w.corr.restarts = d.kv.Mirrors[i].syncNow()
			w.corr.since = time.Now()
		}
	}
	return d.run(ctx)
}

func (d *driver) newModel(w int) (*kvcache.Cache, error) {
	p, err := d.newPol(w)
	if err != nil {
		return nil, err
	}
	// No size hint: the model's blocks are interned as requests are sent,
	// and its arrays grow with them rather than with the trace.
	return kvcache.New(kvcache.Config{Unit: kvcache.Blocks, Capacity: d.workers[w].capacity, BlockSize: d.bs}, p)
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
	if d.cfg.heldHook != nil {
		d.mu.Lock()
		d.cfg.heldHook(len(d.reqs))
		d.mu.Unlock()
	}
	stopBG()
	bgWG.Wait()
	d.probes.Wait()
	if d.panicked != nil {
		return nil, d.panicked
	}
	if d.readErr != nil {
		return nil, fmt.Errorf("live: reading the trace: %w", d.readErr)
	}
	res := d.result(ctx)
	if d.panicked != nil { // in settle
		return nil, d.panicked
	}
	if res.Interrupted && ctx.Err() != nil {
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
	// send ends with ctx or when the run's Duration is up: the waits for
	// an arrival or a free slot stop then, the requests in flight do not.
	send := ctx
	if d.cfg.Duration > 0 {
		var cancel context.CancelFunc
		send, cancel = context.WithDeadline(ctx, d.start.Add(d.cfg.Duration))
		defer cancel()
	}
	var r trace.Request // NextInto's scratch, reused
	for k := 0; ; k++ {
		if err := d.src.NextInto(&r); err != nil {
			if err != io.EOF {
				d.readErr = err
			}
			return
		}
		cur = r.Index
		d.mu.Lock()
		d.lastArrival = r.Arrival
		if d.cfg.heldHook != nil {
			d.cfg.heldHook(len(d.reqs))
		}
		d.mu.Unlock()
		at := time.Duration(float64(r.Arrival) * d.cfg.TimeScale)
		if send.Err() == nil {
			if wait := time.Until(d.start.Add(at)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-send.Done():
				case <-t.C:
				}
				t.Stop()
			}
		}
		if send.Err() == nil {
			_ = d.limit.acquire(send)
		}
		if send.Err() != nil {
			// Request k and every one after it are never reached:
			// counted, not held.
			if ctx.Err() == nil {
				d.durationHit = true
			}
			d.skipRest(k)
			return
		}
		q := &liveReq{mr: &trace.Request{}, rec: Record{Index: r.Index, Worker: -1, Routed: -1, ArrivalMs: ms(at)}}
		pr, mr, err := d.plan.Add(&r, k)
		d.mu.Lock()
		d.records = append(d.records, Record{})
		d.reqs[k] = q
		if d.cfg.KeepPlan {
			d.kept = append(d.kept, q)
		}
		if err == nil {
			q.pr, *q.mr = pr, mr
			q.rec.SentTokens = pr.Len
			d.sweep()
			err = d.plan.ChainOf(&q.pr, q.mr) // in request order, under d.mu: the router reads the table
		}
		if err == nil {
			d.sent++
		}
		d.mu.Unlock()
		if err != nil { // never sent: counted failed, with the reason
			d.limit.release(time.Now(), false, time.Now())
			d.finish(ctx, k, Failed, err.Error())
			continue
		}
		wg.Go(func() {
			defer func() { d.recovered(recover(), "serving", q.rec.Index) }()
			d.serve(ctx, k)
		})
	}
}

// skipRest counts request k (read, never sent) and the rest of the source
// as not sent: from Config.Expect when known, else by reading them.
func (d *driver) skipRest(k int) {
	n := d.cfg.Expect.Requests - k
	if d.cfg.Expect.Requests <= 0 {
		n = 1
		var r trace.Request
		for {
			err := d.src.NextInto(&r)
			if err == io.EOF {
				break
			}
			if err != nil {
				d.readErr = err
				break
			}
			n++
		}
	}
	d.mu.Lock()
	d.notSent = max(1, n)
	d.mu.Unlock()
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
