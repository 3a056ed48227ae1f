package sim

import "time"

// Linear model (SPEC §8): one request at a time per worker, FCFS. Prefill
// starts when the worker is free and ends after Linear.Prefill; then the
// request's blocks become matchable, rlt marks them and lru touches them;
// completion follows after Linear.Decode.

// linearStart starts the next waiting request on an idle worker.
func (c *cluster) linearStart(w *worker, t time.Duration) {
	for !w.busy && w.queueLen() > 0 {
		x := w.popWaiting()
		c.cur = x
		rn := c.admit(w, x, t)
		if rn == nil {
			// With one request at a time every other block is unpinned,
			// so a request that passed the oversize check always fits.
			if c.err == nil {
				c.failRequest(w, x, t, "does not fit in an empty cache")
			}
			continue
		}
		w.run = append(w.run[:0], rn)
		w.busy = true
		c.logEvent(t, LogStart, x, w.id)
		d := c.cfg.linear.Prefill(rn.hitTok, rn.req.Input)
		if rn.bypass {
			d = c.cfg.linear.Prefill(0, rn.req.Input)
		}
		end, ok := c.at(t, d, w.id, x, "the prefill")
		if !ok {
			return
		}
		w.sample.Busy += d
		c.sched.push(event{t: end, kind: evPrefillEnd, worker: int32(w.id), req: x})
		c.snap(w, t)
	}
}

func (c *cluster) linearPrefillEnd(w *worker, t time.Duration) {
	rn := w.run[0]
	rn.pos = rn.req.Input
	c.commitUpTo(w, rn)
	c.prefillDone(w, rn, t)
	d := c.cfg.linear.Decode(rn.req.Output)
	end, ok := c.at(t, d, w.id, int32(rn.req.Index), "the decode")
	if !ok {
		return
	}
	w.sample.Busy += d
	c.sched.push(event{t: end, kind: evComplete, worker: int32(w.id), req: int32(rn.req.Index)})
	c.snap(w, t)
}

func (c *cluster) linearComplete(w *worker, t time.Duration) {
	rn := w.run[0]
	w.run = w.run[:0]
	w.busy = false
	c.complete(w, rn, t)
	c.linearStart(w, t)
	c.snap(w, t)
}
