package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// running is the simulator's state of one admitted request.
type running struct {
	req *trace.Request
	rec *Record
	// hit blocks and tokens at admission; pos is the input position
	// computed so far (hit tokens + computed new tokens); committed counts
	// chain blocks pinned (matched or computed).
	hit, hitTok, pos, committed int
	// allow is the reserved output allowance plus tail tokens; miss the
	// reserved weight of blocks still to compute.
	allow, miss int64
	generated   int
	bypass      bool
	// chunk is the prefill tokens scheduled in the current iteration
	// (engine model).
	chunk int
}

// worker is one modeled replica.
type worker struct {
	id    int
	cache *kvcache.Cache
	// waiting is the FCFS queue of request indices (head at waiting[head]).
	waiting []int32
	head    int
	// run holds admitted requests in admission order.
	run  []*running
	busy bool // an iteration or a linear request is in progress
	// iterStart is when the current engine iteration began.
	iterStart time.Duration
	sample    Sample // running cumulative state, appended on change
	// seen and visit dedup blocks when walking pinned paths (split).
	seen  []uint32
	visit uint32
	// vl is the worker's vLLM engine (latency=vllm); nil otherwise.
	vl *vstate
}

func (w *worker) queueLen() int { return len(w.waiting) - w.head }

// parkBehind is how many requests of a worker's queue a streamed run
// keeps whole: a request queued behind them is parked (window.park) until
// the worker takes it. The head stays whole, so a cluster that keeps up
// parks nothing.
const parkBehind = 64

func (w *worker) popWaiting() int32 {
	i := w.waiting[w.head]
	w.head++
	if w.head > 1024 && w.head*2 > len(w.waiting) {
		w.waiting = append(w.waiting[:0], w.waiting[w.head:]...)
		w.head = 0
	}
	return i
}

// cluster is one simulation in progress.
type cluster struct {
	ctx     context.Context
	tr      *trace.Trace
	cfg     *config
	router  route.Router
	workers []*worker
	sched   scheduler
	run     *Run
	loadBuf []float64
	// arrival cursor for requests released by the trace's own clock.
	next     int
	arrivals []time.Duration
	// children[i] lists requests released when request i ends
	// (session_timing=closed).
	children map[int32][]int32
	// childByID maps a request ID to its first child (keep_outputs).
	childByID map[int64]int32
	// nextFresh is the next dense id for kept outputs no request names.
	nextFresh trace.BlockID
	// dependent[i] marks requests released by their parent, not the clock;
	// parentOf[i] is that parent's index (-1 for none).
	dependent []bool
	parentOf  []int32
	// cur is the request being handled (-1: none) and now the time of the
	// event being handled: named if a panic escapes the simulation.
	cur      int32
	now      time.Duration
	done     int
	progress func(done, total int)
	// prefill chunk and decode context buffers for the engine model.
	chunks  []Chunk
	decodes []int
	err     error

	// probe is a cache that answers footprint questions (worker 0's).
	probe *kvcache.Cache
	// series: the run keeps its event log, per-worker series and router
	// loads; a streamed run keeps only each worker's latest sample.
	series bool
	// A streamed run (src non-nil) reads its requests as the clock
	// reaches them and holds them in win until retired to onRecord;
	// checks are prepare's refusals, request by request.
	src      *source
	win      window
	onRecord func(*Record, *trace.Request)
	onRead   func(*Record, *trace.Request)
	// parkBehind is how much of a worker's queue stays whole (the
	// constant, or a test's); parked, if set, counts the parked.
	parkBehind int
	parked     *int
	// onDetail (StreamOptions.OnDetail) hears each routed request's
	// scores and matches, computed into dScores and dMatches.
	onDetail func(x int, scores []float32, matches []int32)
	dScores  []float32
	dMatches []int32
	checks   *streamChecks
	// sinks take a streamed run's events, samples and loads (nil: none).
	sinks *sinks
}

// req is request x (a trace index) of the run.
func (c *cluster) req(x int32) *trace.Request {
	if c.src != nil {
		return c.win.req(x)
	}
	return &c.tr.Requests[x]
}

// rec is request x's record.
func (c *cluster) rec(x int32) *Record {
	if c.src != nil {
		return c.win.rec(x)
	}
	return &c.run.Records[x]
}

// total is the number of requests of the run: for a streamed run, those
// read so far.
func (c *cluster) total() int {
	if c.src != nil {
		return c.src.read
	}
	return len(c.tr.Requests)
}

// Cluster view for precise routers and llmd.
type clusterView struct{ c *cluster }

func (v clusterView) Match(w int, r *trace.Request) (int, int) {
	if vl := v.c.workers[w].vl; vl != nil {
		h := vllmPromptMatch(vl.pool, r, v.c.tr.Info.BlockSize)
		return h, hitTokens(r, h, v.c.tr.Info.BlockSize)
	}
	cache := v.c.workers[w].cache
	h := cache.Match(r.Blocks)
	return h, hitTokens(r, h, v.c.tr.Info.BlockSize)
}
func (v clusterView) Waiting(w int) int {
	if vl := v.c.workers[w].vl; vl != nil {
		return vl.queueLen()
	}
	return v.c.workers[w].queueLen()
}

// NextEvent is the time of the earliest pending event (route.ClusterEvents):
// state changes only at events, so llmd skips the scrape instants before it.
func (v clusterView) NextEvent() (time.Duration, bool) {
	if len(v.c.sched.q) == 0 {
		return 0, false
	}
	return v.c.sched.q[0].t, true
}

func (v clusterView) Usage(w int) float64 {
	if vl := v.c.workers[w].vl; vl != nil {
		return float64(len(vl.pool.ref)-vl.pool.free) / float64(len(vl.pool.ref))
	}
	c := v.c.workers[w].cache
	return float64(c.PinnedWeight()+c.Reserved()) / float64(c.Capacity())
}

// hitTokens is the token count of the first h blocks of r's chain.
func hitTokens(r *trace.Request, h, bs int) int {
	if h == len(r.Blocks) {
		return r.ChainTokens(bs)
	}
	return h * bs
}

func (c *cluster) logEvent(t time.Duration, kind EventKind, req int32, w int) {
	if !c.series {
		c.sinks.event(Event{T: t, Req: req, Worker: int16(w), Kind: kind})
		return
	}
	c.run.Events = append(c.run.Events, Event{T: t, Req: req, Worker: int16(w), Kind: kind})
}

// snap appends worker w's current state to its series.
func (c *cluster) snap(w *worker, t time.Duration) {
	if w.vl != nil {
		c.vllmSnap(w, t)
		return
	}
	s := &w.sample
	s.T = t
	if !c.series {
		c.lastSample(w)
		if c.sinks.wantSamples() {
			full := *s
			c.fillSample(w, &full)
			c.sinks.sample(w.id, &full)
		}
		return
	}
	c.fillSample(w, s)
	ss := &c.run.Samples[w.id]
	if n := len(*ss); n > 0 && (*ss)[n-1].T == t {
		(*ss)[n-1] = *s // same instant: keep the state after it
		return
	}
	*ss = append(*ss, *s)
}

// fillSample completes s, worker w's running sample, with its state now:
// queue, running, the capacity split, evictions and phases.
func (c *cluster) fillSample(w *worker, s *Sample) {
	s.Queue = int32(w.queueLen())
	s.Running = int32(len(w.run))
	pinned, marked, unmarked := c.split(w)
	s.Pinned, s.Marked, s.Unmarked = pinned, marked, unmarked
	s.Evicted = w.cache.Evicted()
	s.Phases = int32(phases(w.cache))
}

// sampleLoads records the router's own per-worker load at t.
func (c *cluster) sampleLoads(t time.Duration) {
	if !c.series {
		if c.sinks.wantLoads() {
			c.loadBuf = c.router.Loads(t, c.loadBuf[:0])
			c.sinks.loadRow(t, c.loadBuf)
		}
		return
	}
	c.loadBuf = c.router.Loads(t, c.loadBuf[:0])
	n := len(c.run.LoadT)
	if n > 0 && c.run.LoadT[n-1] == t {
		c.run.Loads = c.run.Loads[:(n-1)*c.run.Workers]
		c.run.LoadT = c.run.LoadT[:n-1]
	}
	c.run.LoadT = append(c.run.LoadT, t)
	for _, l := range c.loadBuf {
		c.run.Loads = append(c.run.Loads, float32(l))
	}
}

// admit tries to start request x's prefill on worker w at time t: the cache
// lookup, pinning of the matched path, and one eviction episode for the
// missing input, output allowance and tail tokens. It returns nil when the
// request does not fit now (engine: it waits at the head of the queue).
func (c *cluster) admit(w *worker, x int32, t time.Duration) *running {
	if c.src != nil {
		c.win.unpark(x, c.tr.Blocks)
	}
	r := c.req(x)
	rec := c.rec(x)
	bs := c.tr.Info.BlockSize
	cache := w.cache
	rn := &running{req: r, rec: rec}
	if rec.Status == Bypassed {
		// Served uncached: no hits, but its input counts in the hit
		// ratios' denominators like any completed request's.
		rn.bypass = true
		rec.Start = t
		w.sample.Blocks += int64(len(r.Blocks))
		w.sample.InputTokens += int64(r.Input)
		return rn
	}
	h := cache.Match(r.Blocks)
	var miss int64
	if cache.Unit() == kvcache.Blocks {
		miss = int64(len(r.Blocks) - h)
	} else {
		miss = int64(r.ChainTokens(bs) - hitTokens(r, h, bs))
	}
	allow := cache.Allowance(r.TailTokens(bs)) + cache.Allowance(r.Output)
	need := miss + allow
	// Everything unpinned is evictable (a pinned block's ancestors are
	// pinned), so this is the exact feasibility test, made before any
	// eviction so that a request that must wait evicts nothing.
	var matchedUnpinned int64
	for _, b := range r.Blocks[:h] {
		if b = cache.ID(b); cache.Pins(b) == 0 {
			matchedUnpinned += cache.BlockWeight(b)
		}
	}
	if need > cache.Free()+cache.Cached()-cache.PinnedWeight()-matchedUnpinned {
		return nil
	}
	if err := cache.Pin(r.Blocks[:h]); err != nil {
		c.fail(err)
		return nil
	}
	if h > 0 {
		cache.Access(r.Blocks[:h], kvcache.PrefillStart)
	}
	short, err := cache.MakeRoom(need)
	if err == nil && short > 0 {
		err = fmt.Errorf("request %d: %d short after evicting every unpinned leaf", r.Index, short)
	}
	if err == nil {
		err = cache.Reserve(need)
	}
	if err != nil {
		c.fail(fmt.Errorf("worker %d: %w", w.id, err))
		return nil
	}
	rn.hit, rn.hitTok = h, hitTokens(r, h, bs)
	rn.pos, rn.committed = rn.hitTok, h
	rn.allow, rn.miss = allow, miss
	rec.Start = t
	rec.HitBlocks, rec.HitTokens = int32(h), int32(rn.hitTok)
	s := &w.sample
	s.HitBlocks += int64(h)
	s.Blocks += int64(len(r.Blocks))
	s.HitTokens += int64(rn.hitTok)
	s.InputTokens += int64(r.Input)
	return rn
}

// commitUpTo commits the chain blocks fully covered by input position pos.
func (c *cluster) commitUpTo(w *worker, rn *running) {
	if rn.bypass {
		return
	}
	r := rn.req
	bs := c.tr.Info.BlockSize
	cache := w.cache
	for rn.committed < len(r.Blocks) {
		i := rn.committed
		end := (i + 1) * bs
		if i == len(r.Blocks)-1 {
			end = r.ChainTokens(bs)
		}
		if rn.pos < end {
			return
		}
		parent := kvcache.NoBlock
		if i > 0 {
			parent = r.Blocks[i-1]
		}
		wt := cache.ReqWeight(r, i)
		if _, err := cache.Commit(parent, r.Blocks[i], wt); err != nil {
			c.fail(fmt.Errorf("worker %d: request %d: %w", w.id, r.Index, err))
			return
		}
		rn.miss -= wt
		rn.committed++
	}
}

// prefillDone marks the end of rn's prefill at t: its blocks are matchable,
// rlt marks them and lru touches them.
func (c *cluster) prefillDone(w *worker, rn *running, t time.Duration) {
	rn.rec.FirstToken = t
	c.logEvent(t, LogFirstToken, int32(rn.req.Index), w.id)
	if !rn.bypass && len(rn.req.Blocks) > 0 {
		w.cache.Access(rn.req.Blocks, kvcache.PrefillEnd)
	}
}

// complete ends rn at t: unpin, release the allowance, tell the router.
func (c *cluster) complete(w *worker, rn *running, t time.Duration) {
	r := rn.req
	if !rn.bypass {
		path := r.Blocks[:rn.committed]
		if c.cfg.sc.KeepOutputs {
			path = c.keepOutputs(w, rn)
		}
		if len(path) > 0 {
			w.cache.Access(path, kvcache.Complete)
		}
		if err := w.cache.Unpin(path); err != nil {
			c.fail(err)
		}
		if err := w.cache.Release(rn.allow + rn.miss); err != nil {
			c.fail(err)
		}
	}
	rn.rec.Done = t
	c.logEvent(t, LogComplete, int32(r.Index), w.id)
	w.sample.Completed++
	c.finish(rn.rec, r, w.id, t, false)
}

// finish tells the router a routed request ended and releases dependants.
func (c *cluster) finish(rec *Record, r *trace.Request, w int, t time.Duration, failed bool) {
	if w >= 0 {
		if err := c.router.Complete(route.Completion{
			Worker: w, Req: r, Routed: rec.Arrival, Done: t, E2E: t - rec.Arrival, Failed: failed,
		}); err != nil {
			c.fail(err)
		}
		c.sampleLoads(t)
	}
	c.done++
	if c.progress != nil && c.done%1024 == 0 {
		c.progress(c.done, len(c.tr.Requests)) // 0 for a streamed run
	}
	for _, ch := range c.children[rec.Index] {
		// checkHorizon bounds every release, so at cannot fail here.
		if at, ok := c.at(t, secondsToDuration(c.tr.Requests[ch].ThinkS), -1, ch, "the think time before it"); ok {
			c.release(ch, at)
		}
	}
	if t > c.run.End {
		c.run.End = t
	}
	if c.src != nil {
		c.win.end(rec.Index, c.onRecord)
	}
}

// lastSample keeps worker w's cumulative counters as its only sample (a
// run without series): what the metrics read of the last sample. Queue,
// running and the pinned/marked split are not computed.
func (c *cluster) lastSample(w *worker) {
	s := &w.sample
	if w.vl != nil {
		s.Evicted = w.vl.pool.evicted
	} else {
		s.Evicted = w.cache.Evicted()
		s.Phases = int32(phases(w.cache))
	}
	ss := &c.run.Samples[w.id]
	*ss = append((*ss)[:0], *s)
}

// release schedules request x's arrival at t (a closed session's next turn).
func (c *cluster) release(x int32, t time.Duration) {
	c.sched.push(event{t: t, kind: evArrival, req: x, worker: -1})
}

func (c *cluster) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}
