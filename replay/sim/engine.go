package sim

import (
	"fmt"
	"time"

	"github.com/kvscope/kvscope/replay/param"
)

var engineParamDocs = map[string]string{
	"max_batched_tokens": "token budget of one iteration (decodes take one each)",
	"max_running":        "most requests running at once",
}

// readEngine is the engine model's registry reader.
func readEngine(a *param.Args, cfg *config) error {
	mbt := a.Int("max_batched_tokens", 8192, 1, 1<<24)
	mr := a.Int("max_running", 256, 1, 1<<20)
	if mr > mbt {
		// Every running decode takes one token of the budget.
		return fmt.Errorf("latency engine: max_running %d exceeds max_batched_tokens %d", mr, mbt)
	}
	cfg.isEngine = true
	cfg.engine = Engine{MaxBatchedTokens: mbt, MaxRunning: mr}
	return nil
}

// Engine model (SPEC §8, vLLM V1 style continuous batching). Each iteration
// has a budget of MaxBatchedTokens tokens and at most MaxRunning requests:
// running decodes (one token each) first, then running partial prefills,
// then waiting requests in strict FCFS order; a waiting request is admitted
// when its missing input plus output allowance fits after evicting unpinned
// blocks, and the head of the queue blocks those behind it; no preemption.
// The iteration that finishes a prefill emits the first output token, so a
// request needs O−1 decode iterations after it.
//
// This project's choices: a request whose whole input is cached still
// computes one token (engines recompute the last prompt token to get its
// logits); its hit stays the full match. Blocks become matchable at the end
// of the iteration whose chunk covers them.

// engineStep starts an iteration on an idle worker if it has work.
func (c *cluster) engineStep(w *worker, t time.Duration) {
	if w.busy {
		return
	}
	eng := &c.cfg.engine
	budget := eng.MaxBatchedTokens
	c.chunks = c.chunks[:0]
	c.decodes = c.decodes[:0]
	for _, rn := range w.run {
		rn.chunk = 0
		if rn.rec.FirstToken != unset {
			c.decodes = append(c.decodes, rn.req.Input+rn.generated)
			budget--
		}
	}
	for _, rn := range w.run {
		if budget <= 0 {
			break
		}
		if rn.rec.FirstToken == unset {
			rn.chunk = min(c.remaining(rn), budget)
			budget -= rn.chunk
			c.chunks = append(c.chunks, Chunk{New: rn.chunk, Cached: rn.pos})
		}
	}
	for budget > 0 && len(w.run) < eng.MaxRunning && w.queueLen() > 0 {
		x := w.waiting[w.head]
		c.cur = x
		rn := c.admit(w, x, t)
		if rn == nil {
			if c.err != nil {
				return
			}
			if len(w.run) == 0 {
				// Nothing runs, so nothing will ever free room: fail the
				// head rather than deadlock (oversize checks make this
				// unreachable for requests within capacity).
				w.popWaiting()
				c.failRequest(w, x, t, "does not fit in an empty cache")
				continue
			}
			break // head-of-line blocking
		}
		w.popWaiting()
		c.logEvent(t, LogStart, x, w.id)
		w.run = append(w.run, rn)
		rn.chunk = min(c.remaining(rn), budget)
		budget -= rn.chunk
		c.chunks = append(c.chunks, Chunk{New: rn.chunk, Cached: rn.pos})
	}
	c.startIteration(w, t, eng.Model)
}

// startIteration starts the iteration of c.chunks and c.decodes on w at t
// (timed by m), or records w idle when there is nothing to compute.
func (c *cluster) startIteration(w *worker, t time.Duration, m IterationModel) {
	if len(c.chunks) == 0 && len(c.decodes) == 0 {
		c.snap(w, t)
		return
	}
	d := m.Iteration(c.chunks, c.decodes)
	if d == 0 {
		d = 1 // time must advance
	}
	end, ok := c.at(t, d, w.id, -1, "an iteration")
	if !ok {
		return
	}
	w.busy = true
	w.iterStart = t
	w.sample.Busy += d
	c.sched.push(event{t: end, kind: evIterEnd, worker: int32(w.id), req: -1})
	c.snap(w, t)
}

// remaining is the number of prefill tokens rn still has to compute (at
// least one for a fully cached input).
func (c *cluster) remaining(rn *running) int {
	n := rn.req.Input - rn.pos
	if n < 1 && rn.rec.FirstToken == unset {
		n = 1
	}
	return n
}

// engineIterEnd applies the finished iteration: chunks computed, first
// tokens, decode tokens, completions; then starts the next iteration.
func (c *cluster) engineIterEnd(w *worker, t time.Duration) {
	w.busy = false
	keep := w.run[:0]
	for _, rn := range w.run {
		c.cur = int32(rn.req.Index)
		done := false
		if rn.rec.FirstToken == unset {
			if rn.chunk > 0 {
				rn.pos = min(rn.pos+rn.chunk, rn.req.Input)
				c.commitUpTo(w, rn)
				if rn.pos >= rn.req.Input {
					c.prefillDone(w, rn, t)
					rn.generated = min(1, rn.req.Output)
					done = rn.generated >= rn.req.Output
				}
			}
		} else {
			rn.generated++
			done = rn.generated >= rn.req.Output
		}
		if done {
			c.complete(w, rn, t)
			continue
		}
		keep = append(keep, rn)
	}
	for i := len(keep); i < len(w.run); i++ {
		w.run[i] = nil
	}
	w.run = keep
	c.engineStep(w, t)
}
