package sim

import (
	"fmt"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// vreq is one request inside a vLLM engine (vllm/v1/request.py Request).
type vreq struct {
	x int32
	r *trace.Request
	// blocks are the pool blocks holding its tokens, in order; nCached of
	// them are registered in the prefix cache.
	blocks  []int32
	nCached int
	// hashes caches the chained hash of each block position.
	hashes []uint64
	// computed is num_computed_tokens; generated the output tokens
	// sampled so far; sched the tokens scheduled in the current step.
	computed, generated, sched int
	deadline                   time.Duration
	admitted                   bool
}

// numTokens is the prompt plus the outputs sampled so far.
func (q *vreq) numTokens() int { return q.r.Input + q.generated }

// outputs is the request's max_tokens (at least one: vLLM samples one
// token after any prefill).
func (q *vreq) outputs() int { return max(q.r.Output, 1) }

// vstate is one worker's vLLM engine.
type vstate struct {
	pool    *vpool
	waiting []*vreq // FCFS deque, head at waiting[wh]
	wh      int
	running []*vreq
	// nextScan is when waiting requests are next all checked for their
	// deadline (the head is checked every step).
	nextScan time.Duration
	hits     []int32
	// pending holds requests between arrival and the waiting queue
	// (frontend_ms).
	pending map[int32]*vreq
}

func (vl *vstate) queueLen() int { return len(vl.waiting) - vl.wh }

func (vl *vstate) pushFront(q *vreq) {
	if vl.wh > 0 {
		vl.wh--
		vl.waiting[vl.wh] = q
		return
	}
	vl.waiting = append([]*vreq{q}, vl.waiting...)
}

func (vl *vstate) popFront() *vreq {
	q := vl.waiting[vl.wh]
	vl.waiting[vl.wh] = nil
	vl.wh++
	if vl.wh > 1024 && vl.wh*2 > len(vl.waiting) {
		vl.waiting = append(vl.waiting[:0], vl.waiting[vl.wh:]...)
		vl.wh = 0
	}
	return q
}

// blockKey is the content key of block position j of request x: the
// trace's block id for a full prompt block, else a key of the request's
// own (tail and output tokens, which no other request shares).
func blockKey(r *trace.Request, x int32, j, bs int) uint64 {
	if j < len(r.Blocks) && r.BlockTokens(j, bs) == bs {
		return uint64(r.Blocks[j]) + 1
	}
	return 1<<63 | uint64(uint32(x))<<24 | uint64(j)&(1<<24-1)
}

func (c *cluster) vhash(q *vreq, j int) uint64 {
	bs := c.tr.Info.BlockSize
	for len(q.hashes) <= j {
		k := len(q.hashes)
		var parent uint64
		if k > 0 {
			parent = q.hashes[k-1]
		}
		q.hashes = append(q.hashes, chainHash(parent, blockKey(q.r, q.x, k, bs)))
	}
	return q.hashes[j]
}

// vllmPromptMatch is the number of r's full prompt blocks cached in pool
// (what a router's lookup sees at arrival).
func vllmPromptMatch(pool *vpool, r *trace.Request, bs int) int {
	var h uint64
	for j := range r.Blocks {
		if r.BlockTokens(j, bs) != bs {
			return j
		}
		h = chainHash(h, uint64(r.Blocks[j])+1)
		if _, ok := pool.byHash[h]; !ok {
			return j
		}
	}
	return len(r.Blocks)
}

// vllmArrive queues request x on worker w (Scheduler.add_request).
func (c *cluster) vllmArrive(w *worker, x int32, t time.Duration) {
	q := &vreq{x: x, r: c.req(x), deadline: -1}
	if v := c.cfg.vllm; v.TimeoutS > 0 {
		q.deadline = t + secondsToDuration(v.TimeoutS)
	}
	if fe := c.cfg.vllm.FrontendMs; fe > 0 {
		w.vl.pending[x] = q
		if end, ok := c.at(t, ms(fe), w.id, x, "the front end's hand-off"); ok {
			c.sched.push(event{t: end, kind: evEnqueue, worker: int32(w.id), req: x})
		}
		return
	}
	c.vllmEnqueue(w, q, t)
}

// vllmEnqueue puts q in the engine's waiting queue.
func (c *cluster) vllmEnqueue(w *worker, q *vreq, t time.Duration) {
	w.vl.waiting = append(w.vl.waiting, q)
	c.vllmStep(w, t)
}

// vllmStep schedules and starts one engine step on an idle worker
// (Scheduler.schedule; see vllm.go for what it follows).
func (c *cluster) vllmStep(w *worker, t time.Duration) {
	if w.busy {
		return
	}
	vl, v := w.vl, &c.cfg.vllm
	c.vllmExpire(w, t)
	bs := c.tr.Info.BlockSize
	budget := v.MaxBatchedTokens
	preempted := false
	for i := 0; i < len(vl.running) && budget > 0; {
		q := vl.running[i]
		n := min(q.numTokens()-q.computed, budget)
		if v.MaxModelLen > 0 {
			n = min(n, v.MaxModelLen-1-q.computed)
		}
		if n <= 0 {
			i++
			continue
		}
		ok := false
		for {
			if c.vllmAlloc(w, q, n) {
				ok = true
				break
			}
			victim := vl.running[len(vl.running)-1]
			vl.running = vl.running[:len(vl.running)-1]
			c.vllmPreempt(w, victim, t)
			preempted = true
			if victim == q {
				break
			}
		}
		if !ok {
			break
		}
		q.sched = n
		budget -= n
		i++
	}
	for !preempted && budget > 0 && len(vl.running) < v.MaxSeqs && vl.queueLen() > 0 {
		q := vl.waiting[vl.wh]
		c.cur = q.x
		hit := 0
		if v.PrefixCaching {
			hit = c.vllmMatch(w, q)
		}
		n := min(q.numTokens()-hit*bs, budget)
		if !c.vllmAdmit(w, q, hit, n) {
			if len(vl.running) == 0 {
				// Nothing runs, so nothing will free a block (prepare
				// fails requests larger than the pool: unreachable).
				vl.popFront()
				c.failRequest(w, q.x, t, "does not fit in an empty KV pool")
				continue
			}
			break
		}
		vl.popFront()
		vl.running = append(vl.running, q)
		q.computed = hit * bs
		q.sched = n
		budget -= n
		if !q.admitted {
			q.admitted = true
			rec := c.rec(q.x)
			rec.Start = t
			rec.HitBlocks, rec.HitTokens = int32(hit), int32(hit*bs)
			s := &w.sample
			s.HitBlocks += int64(hit)
			s.Blocks += int64(len(q.r.Blocks))
			s.HitTokens += int64(hit * bs)
			s.InputTokens += int64(q.r.Input)
			c.logEvent(t, LogStart, q.x, w.id)
		}
	}
	c.chunks = c.chunks[:0]
	c.decodes = c.decodes[:0]
	for _, q := range vl.running {
		switch {
		case q.sched == 0:
		case q.generated > 0 && q.sched == 1 && q.computed == q.numTokens()-1:
			c.decodes = append(c.decodes, q.computed)
		default:
			c.chunks = append(c.chunks, Chunk{New: q.sched, Cached: q.computed})
		}
	}
	c.startIteration(w, t, v.Model)
}

// vllmMatch is q's prefix hit in blocks (KVCacheManager.get_computed_blocks:
// at most num_tokens−1 tokens), leaving the blocks in vl.hits.
func (c *cluster) vllmMatch(w *worker, q *vreq) int {
	vl := w.vl
	vl.hits = vl.hits[:0]
	limit := (q.numTokens() - 1) / c.tr.Info.BlockSize
	for j := 0; j < limit; j++ {
		b, ok := vl.pool.byHash[c.vhash(q, j)]
		if !ok {
			break
		}
		vl.hits = append(vl.hits, b)
	}
	return len(vl.hits)
}

// vllmAdmit allocates a waiting request's slots for its first n tokens
// past hit cached blocks (KVCacheManager.allocate_slots with
// new_computed_blocks): it fails, changing nothing, when the new blocks
// plus the hit blocks sitting in the free queue exceed the free blocks.
func (c *cluster) vllmAdmit(w *worker, q *vreq, hit, n int) bool {
	pool := w.vl.pool
	bs := c.tr.Info.BlockSize
	need := ceilDiv(hit*bs+n, bs) - hit
	evictable := 0
	for _, b := range w.vl.hits[:hit] {
		if pool.ref[b] == 0 {
			evictable++
		}
	}
	if need+evictable > pool.free {
		return false
	}
	q.blocks = q.blocks[:0]
	for _, b := range w.vl.hits[:hit] {
		pool.touch(b)
		q.blocks = append(q.blocks, b)
	}
	q.nCached = hit
	q.computed = hit * bs
	return c.vllmAlloc(w, q, n)
}

// vllmAlloc gives q the blocks to hold its computed tokens plus n more and
// caches its full blocks (allocate_slots, cache_blocks); false when the
// pool lacks free blocks.
func (c *cluster) vllmAlloc(w *worker, q *vreq, n int) bool {
	pool := w.vl.pool
	bs := c.tr.Info.BlockSize
	need := ceilDiv(q.computed+n, bs) - len(q.blocks)
	if need > pool.free {
		return false
	}
	for range need {
		q.blocks = append(q.blocks, pool.take())
	}
	if c.cfg.vllm.PrefixCaching {
		full := min(q.computed+n, q.numTokens()) / bs
		for ; q.nCached < full; q.nCached++ {
			pool.cache(q.blocks[q.nCached], c.vhash(q, q.nCached))
		}
	}
	return true
}

// vllmPreempt frees a running request's blocks and puts it back at the
// head of the waiting queue to recompute (Scheduler._preempt_request).
func (c *cluster) vllmPreempt(w *worker, q *vreq, t time.Duration) {
	w.vl.pool.release(q.blocks)
	q.blocks = q.blocks[:0]
	q.nCached = 0
	q.computed = 0
	q.sched = 0
	w.vl.pushFront(q)
	c.run.Preemptions++
	c.logEvent(t, LogPreempt, q.x, w.id)
}

// vllmIterEnd applies a finished step: computed tokens, sampled tokens,
// first tokens and completions (Scheduler.update_from_output); then the
// next step.
func (c *cluster) vllmIterEnd(w *worker, t time.Duration) {
	w.busy = false
	vl := w.vl
	keep := vl.running[:0]
	for _, q := range vl.running {
		c.cur = q.x
		if q.sched > 0 {
			q.computed += q.sched
			q.sched = 0
			if q.computed >= q.numTokens() {
				q.generated++
				rec := c.rec(q.x)
				if rec.FirstToken == unset {
					rec.FirstToken = t
					c.logEvent(t, LogFirstToken, q.x, w.id)
				}
				if q.generated >= q.outputs() {
					vl.pool.release(q.blocks)
					q.blocks = nil
					rec.Done = t
					c.logEvent(t, LogComplete, q.x, w.id)
					w.sample.Completed++
					c.finish(rec, q.r, w.id, t, false)
					continue
				}
			}
		}
		keep = append(keep, q)
	}
	for i := len(keep); i < len(vl.running); i++ {
		vl.running[i] = nil
	}
	vl.running = keep
	c.vllmStep(w, t)
}

// vllmExpire aborts requests past their deadline (a client that gave up:
// vLLM's abort_requests frees their blocks).
func (c *cluster) vllmExpire(w *worker, t time.Duration) {
	if c.cfg.vllm.TimeoutS <= 0 {
		return
	}
	vl := w.vl
	expired := func(q *vreq) bool { return q.deadline >= 0 && q.deadline <= t }
	keep := vl.running[:0]
	for _, q := range vl.running {
		if expired(q) {
			vl.pool.release(q.blocks)
			q.blocks = nil
			c.vllmTimeout(w, q, t)
			continue
		}
		keep = append(keep, q)
	}
	for i := len(keep); i < len(vl.running); i++ {
		vl.running[i] = nil
	}
	vl.running = keep
	for vl.queueLen() > 0 && expired(vl.waiting[vl.wh]) {
		c.vllmTimeout(w, vl.popFront(), t)
	}
	if t < vl.nextScan {
		return
	}
	vl.nextScan = t + time.Second
	rest := vl.waiting[vl.wh:]
	kept := rest[:0]
	for _, q := range rest {
		if expired(q) {
			c.vllmTimeout(w, q, t)
			continue
		}
		kept = append(kept, q)
	}
	for i := len(kept); i < len(rest); i++ {
		rest[i] = nil
	}
	vl.waiting = vl.waiting[:vl.wh+len(kept)]
}

func (c *cluster) vllmTimeout(w *worker, q *vreq, t time.Duration) {
	c.cur = q.x
	c.failRequest(w, q.x, t, fmt.Sprintf("timeout: not finished %s after its arrival (timeout_s)", secondsToDuration(c.cfg.vllm.TimeoutS)))
}

// vllmSnap appends worker w's state to its series: Pinned counts blocks
// held by requests, Unmarked the free blocks still cached.
func (c *cluster) vllmSnap(w *worker, t time.Duration) {
	vl := w.vl
	s := &w.sample
	s.T = t
	if !c.series {
		c.lastSample(w)
		if c.sinks.wantSamples() {
			full := *s
			vllmFill(vl, &full)
			c.sinks.sample(w.id, &full)
		}
		return
	}
	vllmFill(vl, s)
	ss := &c.run.Samples[w.id]
	if n := len(*ss); n > 0 && (*ss)[n-1].T == t {
		(*ss)[n-1] = *s
		return
	}
	*ss = append(*ss, *s)
}

// vllmFill completes s with the vllm worker's state now.
func vllmFill(vl *vstate, s *Sample) {
	s.Queue = int32(vl.queueLen())
	s.Running = int32(len(vl.running))
	s.Pinned = int64(len(vl.pool.ref) - vl.pool.free)
	s.Marked, s.Unmarked = 0, int64(vl.pool.cachedFree)
	s.Evicted = vl.pool.evicted
}

// vllmVerdict fails, before the run, a request vLLM would reject or could
// never hold: prompt plus max_tokens past max_model_len, or more blocks
// than the pool.
func (c *cluster) vllmVerdict(r *trace.Request, rec *Record) {
	v := &c.cfg.vllm
	bs := c.tr.Info.BlockSize
	total := r.Input + max(r.Output, 1)
	switch {
	case v.MaxModelLen > 0 && total > v.MaxModelLen:
		rec.Status = Failed
		rec.Fail = fmt.Sprintf("prompt %d plus max_tokens %d exceed max_model_len %d", r.Input, r.Output, v.MaxModelLen)
	case ceilDiv(total, bs) > v.Blocks:
		rec.Status = Failed
		rec.Fail = fmt.Sprintf("needs %d KV blocks, the pool holds %d", ceilDiv(total, bs), v.Blocks)
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
