package seq

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/rng"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
)

// Config is one hit-only replay.
type Config struct {
	// Workers is the number of workers (≥ 1).
	Workers int
	// Router needs no timing: round_robin, random or consistent_hash.
	Router param.Spec
	Evict  param.Spec
	Unit   kvcache.Unit
	// Capacity B per worker in Unit.
	Capacity int64
	Seed     uint64
	// Oversize is scenario.OversizeError (default when ""), Fail or Bypass.
	Oversize string
	// VsOpt runs opt and the Belady bound on each worker's sequence.
	VsOpt bool
	// OnRequest, if set, sees every request's outcome in trace order.
	OnRequest func(Outcome)
	// Progress, if set, is called after each worker's replay with the
	// requests replayed so far and the trace's.
	Progress func(done, total int)
}

// Outcome is one request's result.
type Outcome struct {
	Index  int
	Worker int
	// Status is "ok", "failed" or "bypassed".
	Status    string
	HitBlocks int
	HitTokens int
	// Missed is the request's misses in the cache's unit (0 unless ok).
	Missed int64
}

// Failed counts failed requests with reasons.
type Failed struct {
	Count   int            `json:"count"`
	Reasons map[string]int `json:"reasons,omitempty"`
}

func (f *Failed) add(reason string) {
	f.Count++
	if f.Reasons == nil {
		f.Reasons = map[string]int{}
	}
	f.Reasons[reason]++
}

// Stats are the counters of one worker or of the whole run.
type Stats struct {
	Requests  int    `json:"requests"`
	Completed int    `json:"completed"`
	Failed    Failed `json:"failed"`
	Bypassed  int    `json:"bypassed"`
	// TokenHitRatio = Σ hit tokens / Σ input tokens of completed requests
	// (bypassed ones included, with no hits); BlockHitRatio likewise in
	// blocks (input_blocks counts block ids).
	TokenHitRatio float64 `json:"token_hit_ratio"`
	BlockHitRatio float64 `json:"block_hit_ratio"`
	HitBlocks     int64   `json:"hit_blocks"`
	HitTokens     int64   `json:"hit_tokens"`
	InputTokens   int64   `json:"input_tokens"`
	InputBlocks   int64   `json:"input_blocks"`
	// Missed is the cached requests' misses in the cache's unit (the
	// numerator of the ratios).
	Missed  int64 `json:"missed"`
	Evicted int64 `json:"evicted"`
	Phases  int64 `json:"phases"`
	// Ratios is present with VsOpt.
	*Ratios
}

// Worker is one worker's results.
type Worker struct {
	Worker   int   `json:"worker"`
	Capacity int64 `json:"capacity"`
	Stats
}

// Result is a whole hit-only replay.
type Result struct {
	Stats
	// SkippedLines counts lines skipped under --skip-bad (their reasons
	// are in Trace.Skipped), the same field as `kvscope run`'s.
	SkippedLines int `json:"skipped_lines"`
	// Unit is the capacity unit ("tokens" or "blocks").
	Unit     string     `json:"unit"`
	Scenario string     `json:"scenario"`
	Trace    trace.Info `json:"trace"`
	Workers  []Worker   `json:"workers"`
	// IDs is present only when a streamed replay recycled dense block ids
	// (RunStream past its id limit) under a policy that is not IDFree:
	// draws that policies make in id order may then have gone differently
	// than in a whole-trace run.
	IDs *IDRecycling `json:"id_recycling,omitempty"`
	// Recycling is the table's recycling whatever the policy (nil when no
	// id was reused); not part of the result's identity, since under an
	// IDFree policy it changes nothing.
	Recycling *IDRecycling `json:"-"`
	// ElapsedS is the replay's wall time (not part of the result's
	// identity).
	ElapsedS float64 `json:"-"`
}

// OversizeError is returned under oversize=error before any work: it
// names the first oversize request, how many there are and the cache size
// that would hold them all.
type OversizeError = scenario.OversizedError

// Scenario returns the canonical scenario string of cfg (SPEC §1):
// router+evict;cache_*=N;oversize=…;seed=S;workers=N — the keys hit-only
// replay uses, sorted, every default spelled.
func Scenario(cfg Config) (string, error) {
	r, err := route.Resolve(cfg.Router)
	if err != nil {
		return "", err
	}
	if route.NeedsTiming(cfg.Router.Name) {
		return "", fmt.Errorf("router %s needs simulated time: hit-only replay takes %s", cfg.Router.Name, timingFree())
	}
	e, err := evict.Resolve(cfg.Evict)
	if err != nil {
		return "", err
	}
	ov := cfg.Oversize
	if ov == "" {
		ov = scenario.OversizeError
	}
	key := "cache_blocks"
	if cfg.Unit == kvcache.Tokens {
		key = "cache_tokens"
	}
	return fmt.Sprintf("%s+%s;%s=%d;oversize=%s;seed=%d;workers=%d", r, e, key, cfg.Capacity, ov, cfg.Seed, cfg.Workers), nil
}

func timingFree() string {
	var out []string
	for _, n := range route.Names() {
		if !route.NeedsTiming(n) {
			out = append(out, n)
		}
	}
	return fmt.Sprint(out)
}

// prepare checks cfg (defaulting Oversize) and returns its canonical
// scenario and the probe cache that measures footprints (trace block size
// bs).
func prepare(cfg *Config, bs int) (canon string, probe *kvcache.Cache, err error) {
	if cfg.Workers < 1 {
		return "", nil, fmt.Errorf("workers = %d: need at least 1", cfg.Workers)
	}
	if cfg.Capacity < 1 {
		return "", nil, fmt.Errorf("cache capacity %d: need at least 1", cfg.Capacity)
	}
	if cfg.Oversize == "" {
		cfg.Oversize = scenario.OversizeError
	}
	switch cfg.Oversize {
	case scenario.OversizeError, scenario.OversizeFail, scenario.OversizeBypass:
	default:
		return "", nil, fmt.Errorf("oversize %q: want error, fail or bypass", cfg.Oversize)
	}
	canon, err = Scenario(*cfg)
	if err != nil {
		return "", nil, err
	}
	if bs < 1 {
		return "", nil, fmt.Errorf("trace block size %d: need at least 1", bs)
	}
	probe, err = kvcache.New(kvcache.Config{Unit: cfg.Unit, Capacity: cfg.Capacity, BlockSize: bs}, nopPolicy{})
	return canon, probe, err
}

// Run replays tr (hit-only, SPEC §4) under cfg.
func Run(tr *trace.Trace, cfg Config) (*Result, error) {
	start := time.Now()
	bs := tr.Info.BlockSize
	canon, probe, err := prepare(&cfg, bs)
	if err != nil {
		return nil, err
	}
	n := len(tr.Requests)
	// Oversize requests are decided before any work.
	over := make([]bool, n)
	stop := &OversizeError{Capacity: cfg.Capacity, Unit: cfg.Unit.String()}
	for i := range tr.Requests {
		r := &tr.Requests[i]
		if fp := probe.Footprint(r); fp > cfg.Capacity {
			if cfg.Oversize == scenario.OversizeError {
				stop.NoteOversize(r.Source, r.Index, fp)
			}
			over[i] = true
		}
	}
	if stop.Count > 0 {
		return nil, stop
	}
	// Routing needs no cache state: route everything first, so each
	// worker's sequence (opt's future) is known before it is replayed.
	perWorker, err := Assign(tr, cfg, over)
	if err != nil {
		return nil, err
	}
	res := &Result{Scenario: canon, SkippedLines: tr.Info.Skipped.Count, Unit: cfg.Unit.String(), Trace: tr.Info,
		Workers: make([]Worker, cfg.Workers)}
	var outcomes []Outcome
	if cfg.OnRequest != nil {
		outcomes = make([]Outcome, n)
	}
	done := 0
	for w := 0; w < cfg.Workers; w++ {
		ws, err := replayWorker(tr, perWorker[w], over, cfg, w, bs, outcomes)
		if err != nil {
			return nil, fmt.Errorf("worker %d: %w", w, err)
		}
		res.Workers[w] = Worker{Worker: w, Capacity: cfg.Capacity, Stats: ws}
		if cfg.Progress != nil {
			done += len(perWorker[w])
			cfg.Progress(done, n)
		}
	}
	res.Stats = sumStats(res.Workers, cfg.VsOpt, cfg.Unit, cfg.Capacity)
	if cfg.OnRequest != nil {
		for i := range outcomes {
			cfg.OnRequest(outcomes[i])
		}
	}
	res.ElapsedS = time.Since(start).Seconds()
	return res, nil
}

// Assign routes every request of tr in trace order as Run does (cfg's
// router, workers and seed; over[i] marks request i oversize, which the
// router hears as a failure; nil for none) and returns each worker's
// requests, as trace indices in trace order. The router must need no
// timing (Scenario checks it).
func Assign(tr *trace.Trace, cfg Config, over []bool) ([][]int32, error) {
	rt, _, err := route.NewSpec(cfg.Router, route.Env{Workers: cfg.Workers, BlockSize: tr.Info.BlockSize, Rand: rng.Stream(cfg.Seed, rng.Router, 0), Orig: tr.Blocks.OrigFunc()})
	if err != nil {
		return nil, err
	}
	perWorker := make([][]int32, cfg.Workers)
	var now time.Duration
	for i := range tr.Requests {
		r := &tr.Requests[i]
		now = max(now, r.Arrival)
		d := rt.Route(now, r)
		if d.Worker < 0 || d.Worker >= cfg.Workers {
			return nil, fmt.Errorf("router %s chose worker %d of %d", cfg.Router.Name, d.Worker, cfg.Workers)
		}
		if err := rt.Complete(route.Completion{Worker: d.Worker, Req: r, Routed: now, Done: now, Failed: over != nil && over[i]}); err != nil {
			return nil, err
		}
		perWorker[d.Worker] = append(perWorker[d.Worker], int32(i))
	}
	return perWorker, nil
}

func replayWorker(tr *trace.Trace, idx []int32, over []bool, cfg Config, w, bs int, outcomes []Outcome) (Stats, error) {
	var st Stats
	reqs := make([]*trace.Request, 0, len(idx))
	var served []*trace.Request
	for _, i := range idx {
		reqs = append(reqs, &tr.Requests[i])
		if !over[i] {
			served = append(served, &tr.Requests[i])
		}
	}
	var future [][]trace.BlockID
	if info, err := evict.Lookup(cfg.Evict.Name); err == nil && info.Offline {
		future = chains(served)
	}
	c, err := newCache(cfg.Evict, cfg.Unit, cfg.Capacity, bs, evict.WorkerRand(cfg.Seed, w), future, sizeHint(reqs), false)
	if err != nil {
		return st, err
	}
	for j, r := range reqs {
		i := idx[j]
		o, err := serve(c, r, over[i], cfg.Oversize, w, &st)
		if err != nil {
			return st, err
		}
		if outcomes != nil {
			o.Index = int(i)
			outcomes[i] = o
		}
	}
	st.finish(c)
	if cfg.VsOpt {
		r, err := CompareOpt(context.Background(), served, cfg.Unit, cfg.Capacity, bs, st.Missed)
		if err != nil {
			return st, err
		}
		st.Ratios = &r
	}
	return st, nil
}

// serve replays request r on worker w's cache c (over: r is oversize,
// handled by the oversize mode, which is fail or bypass here) and counts it
// in st.
func serve(c *kvcache.Cache, r *trace.Request, over bool, oversize string, w int, st *Stats) (Outcome, error) {
	st.Requests++
	o := Outcome{Index: r.Index, Worker: w, Status: "ok"}
	if over {
		if oversize == scenario.OversizeFail {
			st.Failed.add("oversize: input + output allowance exceeds the cache")
			o.Status = "failed"
		} else {
			st.Bypassed++
			st.Completed++
			st.InputTokens += int64(r.Input)
			st.InputBlocks += int64(len(r.Blocks))
			o.Status = "bypassed"
		}
		return o, nil
	}
	hb, ht, err := c.HitOnly(r)
	if err != nil {
		return o, fmt.Errorf("request %d: %w", r.Index, err)
	}
	st.Completed++
	st.HitBlocks += int64(hb)
	st.HitTokens += int64(ht)
	st.InputTokens += int64(r.Input)
	st.InputBlocks += int64(len(r.Blocks))
	o.HitBlocks, o.HitTokens = hb, ht
	o.Missed = missed(c.Unit(), r, hb, ht)
	st.Missed += o.Missed
	return o, nil
}

// finish takes the cache's own counters once a worker's replay is over.
func (st *Stats) finish(c *kvcache.Cache) {
	st.Evicted = c.Evicted()
	if m, ok := c.Policy().(kvcache.Marker); ok {
		st.Phases = m.Phases()
	}
	st.ratios()
}

func (st *Stats) ratios() {
	st.TokenHitRatio = ratio(st.HitTokens, st.InputTokens)
	st.BlockHitRatio = ratio(st.HitBlocks, st.InputBlocks)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// missed is a served request's misses in the cache's unit: miss blocks, or
// miss tokens (tail tokens included: they always miss).
func missed(u kvcache.Unit, r *trace.Request, hb, ht int) int64 {
	if u == kvcache.Blocks {
		return int64(len(r.Blocks) - hb)
	}
	return int64(r.Input - ht)
}

func chains(reqs []*trace.Request) [][]trace.BlockID {
	out := make([][]trace.BlockID, len(reqs))
	for i, r := range reqs {
		out[i] = r.Blocks
	}
	return out
}

func sizeHint(reqs []*trace.Request) int {
	m := 0
	for _, r := range reqs {
		for _, b := range r.Blocks {
			m = max(m, int(b)+1)
		}
	}
	return m
}

func newCache(sp param.Spec, u kvcache.Unit, capacity int64, bs int, rnd *rand.Rand, future [][]trace.BlockID, hint int, local bool) (*kvcache.Cache, error) {
	env := evict.Env{Unit: u, Capacity: capacity, Future: future, Rand: rnd}
	p, _, err := evict.New(sp, env)
	if err != nil {
		return nil, err
	}
	return kvcache.New(kvcache.Config{Unit: u, Capacity: capacity, BlockSize: bs, SizeHint: hint, LocalSlots: local}, p)
}

func sumStats(ws []Worker, vsOpt bool, u kvcache.Unit, capacity int64) Stats {
	var s Stats
	var rs []Ratios
	for i := range ws {
		w := &ws[i].Stats
		s.Requests += w.Requests
		s.Completed += w.Completed
		s.Bypassed += w.Bypassed
		s.HitBlocks += w.HitBlocks
		s.HitTokens += w.HitTokens
		s.InputTokens += w.InputTokens
		s.InputBlocks += w.InputBlocks
		s.Missed += w.Missed
		s.Evicted += w.Evicted
		s.Phases += w.Phases
		for k, v := range w.Failed.Reasons {
			if s.Failed.Reasons == nil {
				s.Failed.Reasons = map[string]int{}
			}
			s.Failed.Reasons[k] += v
		}
		s.Failed.Count += w.Failed.Count
		if w.Ratios != nil {
			rs = append(rs, *w.Ratios)
		}
	}
	s.ratios()
	if vsOpt {
		r := sumRatios(rs, s.Missed, u, capacity)
		s.Ratios = &r
	}
	return s
}
