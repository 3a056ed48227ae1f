package seq

import (
	"fmt"
	"io"
	"time"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/rng"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
)

// IDFloor is the smallest id limit RunStream gives the block table: every
// shared trace has fewer unique blocks (the largest streamed one, Azure
// conv, has 1,406,937; kv-cache-tester, 3.45 M, is held whole by its reader
// and never recycles), so their streamed replays never recycle and equal
// Run's. It sits 64 Ki below 3·2¹⁹ so the table's arrays, sized for the
// limit plus one request's new blocks, take 3·2¹⁹ slots (the caches number
// their blocks themselves and do not follow the limit).
const IDFloor = 3<<19 - 1<<16

// IDFreeBudget sets the id limit of a streamed replay under a policy whose
// choices never depend on block ids (evict.Info.IDFree): the ids that
// 32 bytes per id per worker and 12 in the table would hold, about 500,000
// for 8 workers. That was the caches' per-id arrays before they numbered
// their blocks themselves; now only the table follows the limit, and the
// floor stays because no other measured better beyond the noise.
// Recycling cannot change such a policy's results, but it is not free
// either way: an id forgotten and met again is interned again (on the
// Mooncake trace repeated 20 times, one worker, a floor of 65,536 ids cost
// 0.61 s of CPU against 0.37 s without recycling), and a larger table is
// slower to reach (each repetition with ids of its own, 8 workers: 0.75 s
// at 262,144 ids, 0.78–0.80 s at this floor, 0.94 s at 1.5 M, 1.0 s at
// 6 M; 0.78–0.81 s at 65,536).
const IDFreeBudget = 128 << 20

// idFreeFloor is IDFreeBudget's ids for that many workers, at least 65,536.
func idFreeFloor(workers int) int64 {
	return max(1<<16, IDFreeBudget/(32*int64(workers)+12))
}

// IDLimit is RunStream's default id limit: a floor (IDFloor, or
// IDFreeBudget's ids when idFree), or eight times the blocks all workers'
// caches can hold when that is more, so a sweep frees at least seven
// eighths of what it scans.
func IDLimit(workers int, capacity int64, unit kvcache.Unit, blockSize int, idFree bool) int {
	blocks := capacity
	if unit == kvcache.Tokens {
		blocks = (capacity + int64(blockSize) - 1) / int64(blockSize)
	}
	floor := int64(IDFloor)
	if idFree {
		floor = idFreeFloor(workers)
	}
	return int(max(floor, min(8*int64(workers)*blocks, 1<<30)))
}

// IDRecycling says that a streamed replay recycled dense block ids.
type IDRecycling struct {
	// Limit is the table's id limit at the end; Sweeps how often it was
	// swept; Recycled how many dense ids were handed out again.
	Limit    int    `json:"limit"`
	Sweeps   int    `json:"sweeps"`
	Recycled int64  `json:"recycled"`
	Note     string `json:"note"`
}

// String is the text reports' line: the note and the table's counts.
func (r *IDRecycling) String() string {
	return fmt.Sprintf("%s (%d sweeps, %d ids recycled)", r.Note, r.Sweeps, r.Recycled)
}

// RecycledNote is IDRecycling's note (also the text report's line).
const RecycledNote = "block ids were recycled to bound memory: policies that draw among blocks by id (rlt, random_leaf) may choose differently than in a whole-trace replay (--id-limit -1 keeps every id)"

// InputError is a trace reading error met by RunStream (a bad record, a
// truncated file): the reader's own message, which a caller shows as it
// would a loading error.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// CanStream reports whether RunStream can replay under cfg: not with VsOpt
// (opt and the Belady bound need each worker's whole sequence) nor with an
// offline policy (opt needs the future).
func CanStream(cfg Config) bool {
	if cfg.VsOpt {
		return false
	}
	info, err := evict.Lookup(cfg.Evict.Name)
	return err == nil && !info.Offline
}

// RunStream is Run reading s one request at a time: each request is routed
// and served at once by its worker's cache, so nothing is held per request
// and memory follows the caches, not the trace. Per-worker order and
// random streams are Run's, so results equal Run's on the same trace as
// long as no block id is recycled.
//
// limit bounds the block table (trace.Table.SetLimit): 0 takes IDLimit,
// a negative limit keeps the table exact (memory then grows with the
// trace's unique blocks, as Run's does). A stream that holds its requests
// (Stream.Holds: --sort, kv-cache-tester input) is never limited. When the
// table is full, between two requests, it is swept keeping every worker's
// live blocks (kvcache.Cache.Live: present blocks and what the policy
// retains, s3fifo's ghost ids); past that point Result.IDs says so.
//
// Differences from Run: cfg.OnRequest sees each outcome as it is served
// (still in trace order); cfg.Progress is not called (the caller can
// count the bytes read); a reading error comes back as an *InputError
// after the requests before it were served. Oversize requests under
// oversize=error stop the serving at the first one; the rest of the trace
// is read to count them, so the error is Run's.
func RunStream(s *trace.Stream, cfg Config, limit int) (*Result, error) {
	start := time.Now()
	if !CanStream(cfg) {
		return nil, fmt.Errorf("a streamed replay takes no --vs-opt and no offline policy (%s): use Run", cfg.Evict.Name)
	}
	bs := s.Info().BlockSize
	canon, probe, err := prepare(&cfg, bs)
	if err != nil {
		return nil, err
	}
	tb := s.Table()
	pinfo, err := evict.Lookup(cfg.Evict.Name)
	if err != nil {
		return nil, err
	}
	idFree := pinfo.IDFree
	def := IDLimit(cfg.Workers, cfg.Capacity, cfg.Unit, bs, idFree)
	if limit == 0 {
		limit = def
	}
	hint := 0
	if limit > 0 && !s.Holds() {
		tb.SetLimit(limit)
		// Ids stay below the limit plus one request's new blocks (and
		// below a raised limit, for which the arrays grow on demand);
		// caches with local slots (every policy that streams today) cap
		// the hint at their capacity. Arrays indexed by trace id would
		// be sized up front for no more than the default
		// limit: a larger one given by hand (--id-limit) may be far past
		// what the trace needs, and a reservation for 2^40 ids is a fatal
		// out-of-memory, not an error.
		hint = min(limit, def) + 1<<16
	}
	caches := make([]*kvcache.Cache, cfg.Workers)
	for w := range caches {
		if caches[w], err = newCache(cfg.Evict, cfg.Unit, cfg.Capacity, bs, evict.WorkerRand(cfg.Seed, w), nil, hint, pinfo.LocalSlots()); err != nil {
			return nil, err
		}
	}
	rt, _, err := route.NewSpec(cfg.Router, route.Env{Workers: cfg.Workers, BlockSize: bs, Rand: rng.Stream(cfg.Seed, rng.Router, 0), Orig: tb.OrigFunc()})
	if err != nil {
		return nil, err
	}
	stats := make([]Stats, cfg.Workers)
	stop := &OversizeError{Capacity: cfg.Capacity, Unit: cfg.Unit.String()}
	live := func(keep func(trace.BlockID)) {
		for _, c := range caches {
			c.Live(keep)
		}
	}
	var (
		r   trace.Request
		now time.Duration
	)
	for {
		if err := s.NextInto(&r); err == io.EOF {
			break
		} else if err != nil {
			return nil, &InputError{err}
		}
		fp := probe.Footprint(&r)
		over := fp > cfg.Capacity
		if over && cfg.Oversize == scenario.OversizeError {
			stop.NoteOversize(r.Source, r.Index, fp)
		}
		if stop.Count == 0 {
			now = max(now, r.Arrival)
			d := rt.Route(now, &r)
			if d.Worker < 0 || d.Worker >= cfg.Workers {
				return nil, fmt.Errorf("router %s chose worker %d of %d", cfg.Router.Name, d.Worker, cfg.Workers)
			}
			if err := rt.Complete(route.Completion{Worker: d.Worker, Req: &r, Routed: now, Done: now, Failed: over}); err != nil {
				return nil, err
			}
			o, err := serve(caches[d.Worker], &r, over, cfg.Oversize, d.Worker, &stats[d.Worker])
			if err != nil {
				return nil, fmt.Errorf("worker %d: %w", d.Worker, err)
			}
			if cfg.OnRequest != nil {
				cfg.OnRequest(o)
			}
		}
		if tb.Full() {
			tb.Sweep(live)
		}
	}
	if stop.Count > 0 {
		return nil, stop
	}
	info := s.Info()
	res := &Result{Scenario: canon, SkippedLines: info.Skipped.Count, Unit: cfg.Unit.String(), Trace: info,
		Workers: make([]Worker, cfg.Workers)}
	for w, c := range caches {
		stats[w].finish(c)
		res.Workers[w] = Worker{Worker: w, Capacity: cfg.Capacity, Stats: stats[w]}
	}
	res.Stats = sumStats(res.Workers, false, cfg.Unit, cfg.Capacity)
	if tb.Recycled() > 0 {
		res.Recycling = &IDRecycling{Limit: tb.Limit(), Sweeps: tb.Sweeps(), Recycled: tb.Recycled(), Note: RecycledNote}
		if !idFree {
			res.IDs = res.Recycling
		}
	}
	res.ElapsedS = time.Since(start).Seconds()
	return res, nil
}
