package live

import (
	"time"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/live/liverun"
	"github.com/kvscope/kvscope/replay/trace"
)

// The correction of kvscope's model of each worker from its KV-event
// mirror (doc.go, "Correcting the model"). It runs in begin, under d.mu,
// for the worker an attempt goes to, before the model's prediction.

const (
	// recentFor protects a completed request's blocks from removal while
	// the events that stored them may still be on their way (the
	// simulator flushes its batch every second; vLLM each engine step).
	recentFor = 2 * time.Second
	// replayHorizon bounds how far back a restart's replay looks for the
	// requests sent to the restarted server (its restart is told by the
	// new publisher's first message, seconds after its first request).
	replayHorizon = 2 * time.Minute
)

// correction is one worker's bookkeeping of the corrections.
type correction struct {
	// restarts is the mirror's restart count already acted on; since is
	// when the worker's current model was started (run start, a rejoin
	// after refused connections, a restart told by the mirror).
	restarts int
	since    time.Time
	// sent lists the attempts that entered the model since the mirror's
	// latest message (at most the replay horizon), newest last: a
	// restart puts back those sent after it.
	sent []sentAttempt
	// recent and older hold the blocks of requests completed in the last
	// one or two recentFor periods (turned at recentAt).
	recent, older map[trace.BlockID]struct{}
	recentAt      time.Time
	ttl           time.Duration
	// The counts reported (liverun.ModelCorrection).
	removed, lacked, cleared int64
	clears, replayed         int
	unsynced                 int
	states                   []int8 // scratch
}

type sentAttempt struct {
	at time.Time
	a  *attempt
}

// touched marks chain as used by a request that just completed; ttl is
// how long it stays recent (Config.recentFor).
func (c *correction) touched(chain []trace.BlockID, now time.Time, ttl time.Duration) {
	if ttl < 0 {
		return
	}
	c.ttl = ttl
	if c.recent == nil || now.Sub(c.recentAt) >= ttl {
		c.older, c.recent, c.recentAt = c.recent, make(map[trace.BlockID]struct{}, len(c.recent)), now
	}
	for _, b := range chain {
		c.recent[b] = struct{}{}
	}
}

// live names the dense ids the correction holds (driver.sweep): the
// recent and older blocks, and the chains of the attempts a restart may
// put back.
func (c *correction) live(keep func(trace.BlockID)) {
	for b := range c.recent {
		keep(b)
	}
	for b := range c.older {
		keep(b)
	}
	for _, s := range c.sent {
		for _, b := range s.a.pinned {
			keep(b)
		}
	}
}

func (c *correction) isRecent(b trace.BlockID, now time.Time) bool {
	if c.recent == nil || now.Sub(c.recentAt) >= 2*c.ttl {
		return false
	}
	if _, ok := c.recent[b]; ok {
		return true
	}
	if now.Sub(c.recentAt) >= c.ttl {
		return false
	}
	_, ok := c.older[b]
	return ok
}

// correct reconciles worker w's model with its mirror before an attempt
// of chain (the prompt's block digests ds) and returns the mirror's
// prediction (the chain's blocks present, the server's counting rule): a
// restart the mirror saw and the model has not renews the model; then the
// blocks of the chain that the model holds as unpinned leaves, from the
// deepest, are removed while the mirror says the server does not hold
// them.
func (d *driver) correct(w int, chain []trace.BlockID, ds []uint64) (present int) {
	wk := d.workers[w]
	c := &wk.corr
	m := d.kv.Mirrors[w]
	now := time.Now()
	st, present, sync, restarts := m.blockStates(ds, c.states)
	c.states = st
	if restarts != c.restarts {
		c.restarts = restarts
		d.restartModel(w, sync)
	}
	// A later restart puts back only attempts sent after the server's
	// latest message (the old server's last one comes before its
	// restart), and none older than the horizon.
	for len(c.sent) > 0 && (c.sent[0].at.Before(sync.lastMsg) || now.Sub(c.sent[0].at) > replayHorizon) {
		c.sent[0] = sentAttempt{}
		c.sent = c.sent[1:]
	}
	if !sync.synced || len(st) != len(chain) || m.BlockSize() != d.bs {
		c.unsynced++
		return present
	}
	model := wk.model
	h := model.Match(chain)
	for k := h - 1; k >= 0; k-- {
		b := chain[k]
		if st[k] != blockAbsent || !model.IsEvictable(b) || c.isRecent(b, now) {
			break
		}
		model.Forget(chain[k : k+1])
		c.removed++
		h = k
	}
	for k := h; k < len(chain); k++ {
		if st[k] == blockPresent {
			c.lacked++
		}
	}
	return present
}

// restartModel renews worker w's model after a restart its mirror told,
// unless the model was already started afresh since the old server's last
// message (a rejoin after refused connections: the same restart). The new
// model replays the attempts sent since the restart that did not fail:
// the restarted server holds their blocks, and the mirror tells of a
// restart only at the new server's first message, after them. Those still
// in flight move to the new model, pinned, and end there.
func (d *driver) restartModel(w int, sync syncState) {
	wk := d.workers[w]
	c := &wk.corr
	if c.since.After(sync.oldLast) {
		return
	}
	fresh, err := d.newModel(w)
	if err != nil {
		return // the policy was built at the start: not reached
	}
	c.clears++
	c.cleared += int64(wk.model.Len())
	wk.model, c.since = fresh, time.Now()
	for _, s := range c.sent {
		if s.at.Before(sync.restartAt) || s.a.failed {
			continue
		}
		h, fits := insertChain(fresh, s.a.pinned)
		if !fits {
			continue
		}
		c.replayed++
		if !s.a.ended {
			_ = s.a.model.Unpin(s.a.pinned)
			s.a.model, s.a.newFrom = fresh, h
			continue
		}
		fresh.Access(s.a.pinned, kvcache.Complete)
		_ = fresh.Unpin(s.a.pinned)
	}
}

// insertChain puts chain in model c as a sent request: its hit prefix
// pinned, room made for the rest (the server checks that the request fits
// beside the blocks held by running requests before it evicts anything,
// and rejects it otherwise: no eviction for a request that cannot fit),
// which is committed pinned. It returns the hit and whether the request
// fit (then the whole chain is pinned; otherwise nothing is).
func insertChain(c *kvcache.Cache, chain []trace.BlockID) (h int, fits bool) {
	h = c.Match(chain)
	if err := c.Pin(chain[:h]); err != nil {
		return h, false
	}
	miss := int64(len(chain) - h)
	fits = miss <= c.Capacity()-c.PinnedWeight()-c.Reserved()
	var short int64
	var err error
	if fits {
		short, err = c.MakeRoom(miss)
	}
	if !fits || err != nil || short != 0 || c.Reserve(miss) != nil {
		_ = c.Unpin(chain[:h])
		return h, false
	}
	parent := kvcache.NoBlock
	if h > 0 {
		parent = chain[h-1]
	}
	for k := h; k < len(chain); k++ {
		if _, err := c.Commit(parent, chain[k], 1); err != nil {
			return h, false
		}
		parent = chain[k]
	}
	return h, true
}

// result is the worker's corrections for its MirrorResult.
func (c *correction) result() liverun.ModelCorrection {
	return liverun.ModelCorrection{RemovedBlocks: c.removed, LackedBlocks: c.lacked,
		Clears: c.clears, ClearedBlocks: c.cleared, Replayed: c.replayed, Unsynced: c.unsynced}
}
