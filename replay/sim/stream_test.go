package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
)

// streamOf opens an embedded sample as a stream (original ids kept, as the
// command opens traces).
func streamOf(t testing.TB, name string) *trace.Stream {
	t.Helper()
	data, err := samples.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := trace.OpenReader("sample:"+name, bytes.NewReader(data), trace.ReadOptions{KeepIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// streamed runs sc from a stream of the sample and returns the run with
// the records it retired, in order.
func streamed(t *testing.T, name, s string, limit int) (*Run, []Record) {
	t.Helper()
	return streamedWith(t, name, s, StreamOptions{IDLimit: limit})
}

// streamedWith is streamed with more options (OnRecord is its own).
func streamedWith(t *testing.T, name, s string, opt StreamOptions) (*Run, []Record) {
	t.Helper()
	var recs []Record
	prev := int32(-1)
	opt.OnRecord = func(rec *Record, r *trace.Request) {
		if rec.Index != prev+1 || r.Index != int(rec.Index) {
			t.Fatalf("record %d (request %d) retired after %d", rec.Index, r.Index, prev)
		}
		prev = rec.Index
		recs = append(recs, *rec)
	}
	run, err := SimulateStream(context.Background(), streamOf(t, name), mustScenario(t, s), opt)
	if err != nil {
		t.Fatal(err)
	}
	return run, recs
}

// sameRun requires a streamed run (and its retired records) to equal a
// whole-trace run: every record, the final counters, the bounds of time.
func sameRun(t *testing.T, want, got *Run, recs []Record) {
	t.Helper()
	if got.Requests != len(want.Records) || len(recs) != len(want.Records) {
		t.Fatalf("%d requests read, %d retired, want %d", got.Requests, len(recs), len(want.Records))
	}
	for i := range recs {
		if !reflect.DeepEqual(recs[i], want.Records[i]) {
			t.Fatalf("request %d: streamed %+v, whole %+v", i, recs[i], want.Records[i])
		}
	}
	for w := range want.Samples {
		ws := want.Samples[w]
		gs := got.Samples[w]
		if len(ws) == 0 {
			if len(gs) != 0 {
				t.Fatalf("worker %d: streamed has a sample, whole none", w)
			}
			continue
		}
		a, b := ws[len(ws)-1], gs[0]
		if a.T != b.T || a.HitTokens != b.HitTokens || a.InputTokens != b.InputTokens || a.HitBlocks != b.HitBlocks ||
			a.Blocks != b.Blocks || a.Evicted != b.Evicted || a.Phases != b.Phases || a.Completed != b.Completed || a.Busy != b.Busy {
			t.Fatalf("worker %d: streamed last sample %+v, whole %+v", w, b, a)
		}
	}
	if got.Start != want.Start || got.End != want.End || got.Preemptions != want.Preemptions || got.Scenario != want.Scenario {
		t.Fatalf("streamed %s [%v, %v] %d preemptions, whole %s [%v, %v] %d", got.Scenario, got.Start, got.End, got.Preemptions,
			want.Scenario, want.Start, want.End, want.Preemptions)
	}
	if !reflect.DeepEqual(got.Trace, want.Trace) {
		t.Fatalf("trace info %+v, want %+v", got.Trace, want.Trace)
	}
}

// TestStreamMatchesWhole runs every router under several policies and the
// three latency models from a stream and from the loaded trace: the same
// records, counters and times. With policies blind to ids a tiny id limit
// (recycling all the time) changes nothing either.
func TestStreamMatchesWhole(t *testing.T) {
	tr := loadSample(t, 0)
	type tc struct{ s, name string }
	var cases []tc
	for _, r := range route.Names() {
		for _, p := range []string{"lru", "rlt", "s3fifo"} {
			cases = append(cases, tc{fmt.Sprintf("%s+%s;workers=4;cache_blocks=300;oversize=fail", r, p), samples.Mooncake})
		}
	}
	cases = append(cases,
		tc{"cache_aware+lru;workers=3;cache_tokens=40000;oversize=bypass;rate=3", samples.Mooncake},
		tc{"round_robin+sieve;workers=2;cache_blocks=250;time_scale=0.02", samples.Mooncake},
		tc{"least_load+fifo;workers=4;profile=h100-sxm-llama-3.1-8b;latency=engine", samples.Mooncake},
		tc{"cache_aware+lru;workers=2;profile=h100-sxm-llama-3.1-8b;latency=vllm:block_size=512", samples.Mooncake},
	)
	for _, c := range cases {
		t.Run(c.s, func(t *testing.T) {
			sc := mustScenario(t, c.s)
			want, err := Simulate(context.Background(), tr, sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, recs := streamed(t, c.name, c.s, -1)
			sameRun(t, want, got, recs)
			if got.IDs != nil {
				t.Fatalf("an exact table reported recycling: %+v", got.IDs)
			}
			info, _ := evict.Lookup(sc.Evict.Name)
			if !info.IDFree || sc.Router.Name == "consistent_hash" {
				return
			}
			got, recs = streamed(t, c.name, c.s, 64)
			sameRun(t, want, got, recs)
		})
	}
}

// TestStreamRefusesLikeWhole: refusals Simulate makes before its run (an
// arrival past MaxTime under time_scale or rate, oversize=error, the
// linear model's horizon) come from a stream with the same message, which
// names facts of the whole trace (its last arrival, its length, every
// oversize request).
func TestStreamRefusesLikeWhole(t *testing.T) {
	tr := loadSample(t, 0)
	for _, s := range []string{
		"round_robin+lru;workers=2;cache_blocks=300;latency=linear:miss_ms=1e6",
		"round_robin+lru;workers=2;cache_blocks=300;time_scale=1e9",
		"round_robin+lru;workers=2;cache_blocks=300;rate=1e-9",
		"round_robin+lru;workers=2;cache_blocks=200",
	} {
		t.Run(s, func(t *testing.T) {
			sc := mustScenario(t, s)
			_, want := Simulate(context.Background(), tr, sc, Options{})
			if want == nil {
				t.Fatal("the whole trace's run was not refused")
			}
			_, got := SimulateStream(context.Background(), streamOf(t, samples.Mooncake), sc, StreamOptions{})
			if got == nil || got.Error() != want.Error() {
				t.Fatalf("streamed: %v\nwhole:    %v", got, want)
			}
		})
	}
}

// TestStreamRefusesAtFirstRequest: a run whose first request already
// passes the horizon is refused with Simulate's message, not reported as
// a run in which no request ended.
func TestStreamRefusesAtFirstRequest(t *testing.T) {
	const data = `{"format":"kvscope-trace","version":1,"block_size":4}
{"arrival_s":0,"input":2147483647,"output":1}
`
	sc := mustScenario(t, "round_robin+lru;cache_blocks=100;oversize=bypass;latency=linear:miss_ms=1e6")
	tr, err := trace.LoadBytes("big.jsonl", []byte(data), trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, want := Simulate(context.Background(), tr, sc, Options{})
	s, err := trace.OpenReader("big.jsonl", strings.NewReader(data), trace.ReadOptions{KeepIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, got := SimulateStream(context.Background(), s, sc, StreamOptions{})
	if want == nil || got == nil || got.Error() != want.Error() {
		t.Fatalf("streamed: %v\nwhole:    %v", got, want)
	}
}

// TestStreamDebugRouterHolds: under KVSCOPE_DEBUG=panic_at=N the router is
// wrapped (panicRouter); the wrapper must still name the router's block
// ids to the table's sweeps, or a streamed run that recycles ids routes
// by a history whose ids name other blocks. With N past the trace the run
// equals the whole-trace run.
func TestStreamDebugRouterHolds(t *testing.T) {
	tr := loadSample(t, 0)
	t.Setenv(DebugEnv, "panic_at=1000000")
	for _, s := range []string{
		"cache_aware+lru;workers=4;cache_blocks=300;oversize=fail",
		"lbgr+lru;workers=4;cache_blocks=300;oversize=fail",
	} {
		t.Run(s, func(t *testing.T) {
			want, err := Simulate(context.Background(), tr, mustScenario(t, s), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, recs := streamed(t, samples.Mooncake, s, 64)
			sameRun(t, want, got, recs)
		})
	}
}

// TestStreamReadingErrorWins: a run that stops with an error before the
// stream reaches a bad record (here an engine iteration past MaxTime at
// the first request) still reports the bad record, as a whole-trace run
// does: its trace fails to load before any simulation.
func TestStreamReadingErrorWins(t *testing.T) {
	const data = `{"format":"kvscope-trace","version":1,"block_size":4}
{"arrival_s":0,"input":8,"output":2}
{"arrival_s":1,"input":8,"output":2}
{"arrival_s":2,"input":"x","output":2}
`
	_, want := trace.LoadBytes("bad.jsonl", []byte(data), trace.ReadOptions{})
	if want == nil {
		t.Fatal("the trace loads")
	}
	s, err := trace.OpenReader("bad.jsonl", strings.NewReader(data), trace.ReadOptions{KeepIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := mustScenario(t, "round_robin+lru;cache_blocks=10;latency=engine;profile=h200-llama-3.1-8b-hf")
	_, got := SimulateStream(context.Background(), s, sc, StreamOptions{iterModel: hugeModel{MaxTime + 1}})
	var ie *InputError
	if !errors.As(got, &ie) || got.Error() != want.Error() {
		t.Fatalf("streamed: %v\nloading:  %v", got, want)
	}
}

// TestStreamRefusalReadsInBoundedIDs: a refused streamed run reads the
// rest of its stream for Simulate's message; the block table is swept as
// it fills meanwhile, so its dense ids follow what the run holds (two
// caches of 300 blocks, the requests read) instead of the trace's unique
// blocks.
func TestStreamRefusalReadsInBoundedIDs(t *testing.T) {
	tr := loadSample(t, 0)
	const limit = 256
	s := streamOf(t, samples.Mooncake)
	sc := mustScenario(t, "round_robin+lru;workers=2;cache_blocks=300;time_scale=1e9")
	if _, err := SimulateStream(context.Background(), s, sc, StreamOptions{IDLimit: limit}); err == nil {
		t.Fatal("not refused")
	}
	if n := s.Table().Len(); n > tr.Blocks.Len()/8 {
		t.Fatalf("%d dense ids after the refusal (limit %d, %d blocks in the trace)", n, limit, tr.Blocks.Len())
	}
}

// TestWindowLetsEndedChainsGo: a request that ends behind an older one
// still in flight lets its chain go at once (the sweeps' live set no
// longer names its ids), and retiring hands OnRecord each request, in
// trace order, with a chain of its length whose ids are 0.
func TestWindowLetsEndedChainsGo(t *testing.T) {
	var w window
	reqs := []*trace.Request{
		{Index: 0, Blocks: []trace.BlockID{1, 2, 3}},
		{Index: 1, Blocks: []trace.BlockID{1, 4}},
		{Index: 2, Blocks: []trace.BlockID{5, 6, 7, 8}},
	}
	for _, r := range reqs {
		w.add(r, newRecord(int32(r.Index), 0))
	}
	live := func() []trace.BlockID {
		var ids []trace.BlockID
		w.live(func(b trace.BlockID) { ids = append(ids, b) })
		return ids
	}
	var retired []string
	retire := func(rec *Record, r *trace.Request) {
		retired = append(retired, fmt.Sprintf("%d:%v", rec.Index, r.Blocks))
	}
	w.end(1, retire)
	if got := live(); !slices.Equal(got, []trace.BlockID{1, 2, 3, 5, 6, 7, 8}) || len(retired) != 0 || reqs[1].Blocks != nil {
		t.Fatalf("after request 1 ended behind 0: live %v, retired %v, its chain %v", got, retired, reqs[1].Blocks)
	}
	w.end(0, retire)
	if got := live(); !slices.Equal(got, []trace.BlockID{5, 6, 7, 8}) || !slices.Equal(retired, []string{"0:[0 0 0]", "1:[0 0]"}) {
		t.Fatalf("after request 0 ended: live %v, retired %v", got, retired)
	}
	w.end(2, retire)
	if len(live()) != 0 || retired[2] != "2:[0 0 0 0]" || w.n != 0 {
		t.Fatalf("after request 2 ended: live %v, retired %v, %d held", live(), retired, w.n)
	}
}

// TestStreamParkedMatchesWhole: a streamed run that parks every queued
// request (its chain rebuilt from the block table when its worker takes
// it) equals the whole-trace run, with an exact table and, under a policy
// blind to ids, with one that recycles ids all the time. The scenarios
// fall far behind their arrivals, so nearly every request is parked.
func TestStreamParkedMatchesWhole(t *testing.T) {
	tr := loadSample(t, 0)
	for _, s := range []string{
		"cache_aware+lru;workers=2;cache_blocks=300;time_scale=0.02",
		"lbgr+lru;workers=3;cache_blocks=300;time_scale=0.02;oversize=fail",
		"round_robin+s3fifo;workers=2;cache_tokens=40000;oversize=bypass;rate=50",
		"least_load+fifo;workers=2;profile=h100-sxm-llama-3.1-8b;latency=engine;time_scale=0.01",
	} {
		t.Run(s, func(t *testing.T) {
			want, err := Simulate(context.Background(), tr, mustScenario(t, s), Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, limit := range []int{-1, 64} {
				var parked int
				got, recs := streamedWith(t, samples.Mooncake, s, StreamOptions{IDLimit: limit, parkBehind: -1, parked: &parked})
				sameRun(t, want, got, recs)
				if parked < len(tr.Requests)/2 {
					t.Fatalf("limit %d: %d of %d requests parked: the test no longer covers parking", limit, parked, len(tr.Requests))
				}
			}
		})
	}
}
