package route

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// loadMooncake reads the full Mooncake conversation trace from
// ../shared/traces when present, else the embedded 2,000-request slice.
func loadMooncake(tb testing.TB) ([]*trace.Request, int) {
	tb.Helper()
	data, err := os.ReadFile("../../../shared/traces/mooncake/conversation_trace.jsonl")
	if err != nil {
		if data, err = samples.ReadFile(samples.Mooncake); err != nil {
			tb.Fatal(err)
		}
	}
	tab := trace.NewTable(false)
	var out []*trace.Request
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var rec struct {
			Timestamp float64  `json:"timestamp"`
			Input     int      `json:"input_length"`
			Output    int      `json:"output_length"`
			HashIDs   []uint64 `json:"hash_ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			tb.Fatal(err)
		}
		r := &trace.Request{Index: len(out), Arrival: time.Duration(rec.Timestamp * float64(time.Millisecond)), Input: rec.Input, Output: rec.Output}
		if r.Blocks, err = tab.Intern(nil, rec.HashIDs); err != nil {
			tb.Fatal(err)
		}
		if n := len(r.Blocks); n > 0 {
			r.LastBlockTokens = min(512, rec.Input-(n-1)*512)
		}
		out = append(out, r)
	}
	return out, tab.Len()
}

// stubCluster answers instantly (the benchmark measures the router), with
// queues that rotate from scrape to scrape so that llmd spreads its load.
type stubCluster struct{ calls *int }

func (stubCluster) Match(int, *trace.Request) (int, int) { return 0, 0 }
func (c stubCluster) Waiting(w int) int {
	if c.calls == nil {
		return w & 3
	}
	*c.calls++
	return (w + *c.calls/8) & 7
}
func (stubCluster) Usage(w int) float64 { return float64(w&3) / 4 }

// event is an arrival (done false) or a completion of request i; the
// schedule does not depend on decisions (completion = arrival + 0.15 ms per
// input token), so it is built once, outside the timed loop.
type event struct {
	at   time.Duration
	i    int32
	done bool
}

func schedule(reqs []*trace.Request) []event {
	evs := make([]event, 0, 2*len(reqs))
	for i, r := range reqs {
		evs = append(evs, event{r.Arrival, int32(i), false},
			event{r.Arrival + time.Duration(float64(r.Input)*0.15*float64(time.Millisecond)), int32(i), true})
	}
	// Stable: at equal times arrivals (earlier in the slice) keep their order.
	slices.SortStableFunc(evs, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	return evs
}

// runSchedule runs r through the schedule evs, scraping at its instants before
// each event; *k is the position in evs (the next pending event). It
// returns the number of requests routed and leaves their workers in
// worker.
func runSchedule(b *testing.B, r Router, evs []event, reqs []*trace.Request, worker []int, k *int) int {
	n := 0
	for *k = 0; *k < len(evs); *k++ {
		e := evs[*k]
		for at, ok := r.NextObserve(); ok && at <= e.at; at, ok = r.NextObserve() {
			r.Observe(at)
		}
		rq := reqs[e.i]
		if e.done {
			if err := r.Complete(Completion{Worker: worker[e.i], Req: rq, Routed: rq.Arrival, Done: e.at, E2E: e.at - rq.Arrival}); err != nil {
				b.Fatal(err)
			}
			continue
		}
		worker[e.i] = r.Route(e.at, rq).Worker
		n++
	}
	return n
}

// BenchmarkRoute routes the Mooncake conversation trace (the full 12,031
// requests from ../shared/traces when present, else the embedded 2,000)
// over 8 workers in arrival order, each request completing 0.15 ms per input
// token after its arrival, and reports routed requests per second
// (completions, scrapes and the router's construction included).
func BenchmarkRoute(b *testing.B) {
	reqs, nblocks := loadMooncake(b)
	evs := schedule(reqs)
	worker := make([]int, len(reqs))
	for _, spec := range []string{"round_robin", "random", "consistent_hash", "least_load", "p2c",
		"cache_aware", "cache_aware:preset=sglang-0.4.6", "cache_aware:max_tree_size=1000000,eviction_interval_s=10", "dynamo", "dynamo:precise=false", "lbgr", "lbgr:preset=paper", "llmd"} {
		b.Run(spec, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				r, _, err := New(spec, Env{Workers: 8, BlockSize: 512, Blocks: nblocks, Rand: rng(1), CachedMs: 0, MissMs: 0.15, Cluster: stubCluster{new(int)}})
				if err != nil {
					b.Fatal(err)
				}
				n += runSchedule(b, r, evs, reqs, worker, new(int))
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/req")
		})
	}
}

// eventStub is stubCluster with the schedule's next event
// (ClusterEvents), as replay/sim provides it.
type eventStub struct {
	stubCluster
	evs  []event
	next *int
}

func (c eventStub) NextEvent() (time.Duration, bool) {
	if *c.next >= len(c.evs) {
		return 0, false
	}
	return c.evs[*c.next].at, true
}

// BenchmarkRouteSparse is BenchmarkRoute with the arrivals a million times
// further apart (SPEC §1's time_scale=1e6: gaps of minutes to days), for
// the routers with per-instant behaviour: lbgr's decay every 20 ms and
// llmd's scrape every 50 ms (llmd skips idle instants through
// ClusterEvents). A gap must cost O(1), not O(gap / instant).
func BenchmarkRouteSparse(b *testing.B) {
	reqs, nblocks := loadMooncake(b)
	sparse := make([]*trace.Request, len(reqs))
	for i, r := range reqs {
		c := *r
		c.Arrival *= 1_000_000
		sparse[i] = &c
	}
	evs := schedule(sparse)
	worker := make([]int, len(sparse))
	for _, spec := range []string{"lbgr", "lbgr:preset=paper", "llmd", "cache_aware"} {
		b.Run(spec, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				var k int
				cl := eventStub{stubCluster{new(int)}, evs, &k}
				r, _, err := New(spec, Env{Workers: 8, BlockSize: 512, Blocks: nblocks, Rand: rng(1), MissMs: 0.15, Cluster: cl})
				if err != nil {
					b.Fatal(err)
				}
				n += runSchedule(b, r, evs, sparse, worker, &k)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/req")
		})
	}
}

// multiturnReqs builds n requests shaped like `kvscope gen multiturn`'s:
// conversations of 2, 4, 6 or 8 turns, each turn the whole history plus
// user new blocks of 16 tokens (the last one partial), live conversations
// taking turns round robin, one arrival per millisecond.
func multiturnReqs(n, live, user int) ([]*trace.Request, int) {
	type conv struct {
		chain []trace.BlockID
		left  int
	}
	convs := make([]conv, live)
	var next trace.BlockID
	started := 0
	reqs := make([]*trace.Request, n)
	for i := range reqs {
		c := &convs[i%live]
		if c.left == 0 {
			*c = conv{left: 2 + 2*(started%4)}
			started++
		}
		for range user {
			c.chain = append(c.chain, next)
			next++
		}
		c.left--
		blocks := c.chain[:len(c.chain):len(c.chain)]
		reqs[i] = &trace.Request{Index: i, Arrival: time.Duration(i) * time.Millisecond, Blocks: blocks, LastBlockTokens: 9, Input: (len(blocks)-1)*16 + 9, Output: 4}
		c.chain[len(c.chain)-1] = next // the partial block becomes a full one next turn
		next++
	}
	return reqs, int(next)
}

// BenchmarkHistoryTrim routes synthetic multiturn streams into 8
// routing-history trees (a conversation sticks to one worker, every request
// is matched against all trees first), trimmed every simulated second (1,000
// arrivals) to 2^18 tokens each, with the recency trim and with the
// rebuild-from-log trim it replaced (logHistory, the reference in
// history_ref_test.go). The first 20,000 requests (the trees fill up and
// trims begin after about 14,500) are untimed; ns/req is over the next
// 40,000 or 200,000, in steady state, and should not grow with their number.
func BenchmarkHistoryTrim(b *testing.B) {
	const warm = 20_000
	for _, n := range []int{40_000, 200_000} {
		reqs, nblocks := multiturnReqs(warm+n, 256, 8)
		env := Env{Workers: 8, BlockSize: 16, Blocks: nblocks}
		tok, blk := make([]float64, 8), make([]int, 8)
		for _, impl := range []string{"recency", "log"} {
			b.Run(impl+"/"+strconv.Itoa(n), func(b *testing.B) {
				var trimmed int64
				for b.Loop() {
					b.StopTimer()
					var h *history
					insert, advance := func(int, *trace.Request) {}, func(time.Duration) {}
					if impl == "recency" {
						h = newHistory(env, 1<<18, time.Second)
						insert, advance = h.insert, h.advance
					} else {
						l := newLogHistory(env, 1<<18, time.Second)
						h, insert, advance = l.h, l.insert, l.advance
					}
					for i, r := range reqs {
						if i == warm {
							b.StartTimer()
							trimmed = 0
							for _, t := range h.trimmed {
								trimmed -= t
							}
						}
						advance(r.Arrival)
						h.match(r, tok, blk)
						insert(i%256%8, r)
					}
					for _, t := range h.trimmed {
						trimmed += t
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/req")
				b.ReportMetric(float64(trimmed)/float64(n), "trimmed-tokens/req")
			})
		}
	}
}
