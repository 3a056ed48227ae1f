package sim

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
)

// closedSeeds are native traces at the edges: think times and arrivals at
// and past the readers' bound, chains whose think times add past MaxTime,
// parent loops, duplicate and self parents, huge lengths.
var closedSeeds = []string{
	// The reproducer: refused by the reader (think_s too large).
	`{"arrival_s":0,"input":8,"output":1,"blocks":[1,2],"session":0,"id":0}
{"arrival_s":1,"input":12,"output":1,"blocks":[1,2,3],"session":0,"id":1,"parent":0,"think_s":1e300,"turn":2}
{"arrival_s":2,"input":8,"output":1,"blocks":[5,6],"session":1,"id":2}`,
	// Think times at the bound: five of them pass MaxTime.
	`{"arrival_s":0,"input":8,"output":1,"blocks":[1,2],"id":0}
{"arrival_s":0,"input":8,"output":1,"id":1,"parent":0,"think_s":1e9}
{"arrival_s":0,"input":8,"output":1,"id":2,"parent":1,"think_s":1e9}
{"arrival_s":0,"input":8,"output":1,"id":3,"parent":2,"think_s":1e9}
{"arrival_s":0,"input":8,"output":1,"id":4,"parent":3,"think_s":1e9}
{"arrival_s":0,"input":8,"output":1,"id":5,"parent":4,"think_s":1e9}`,
	// Three of them fit.
	`{"arrival_s":1000000000,"input":8,"output":1,"blocks":[1,2],"id":0}
{"arrival_s":1000000000,"input":8,"output":3,"blocks":[1,2,3],"id":1,"parent":0,"think_s":1e9}
{"arrival_s":1000000000,"input":8,"output":1,"id":2,"parent":1,"think_s":0.000000001}`,
	// A loop of parents, a self parent, a parent that comes later, a
	// duplicate id.
	`{"arrival_s":0,"input":8,"output":1,"id":0}
{"arrival_s":1,"input":8,"output":1,"id":1,"parent":2,"think_s":1}
{"arrival_s":2,"input":8,"output":1,"id":2,"parent":1,"think_s":1}`,
	`{"arrival_s":0,"input":8,"output":1,"blocks":[1,2],"id":7,"parent":7,"think_s":3}
{"arrival_s":0.5,"input":4,"output":2,"blocks":[1],"id":3,"parent":9,"think_s":0.25}
{"arrival_s":1,"input":8,"output":0,"blocks":[1,2],"id":9,"think_s":0.5}
{"arrival_s":1,"input":8,"output":1,"blocks":[4],"last_block_tokens":3,"id":9,"parent":3}`,
	// Huge lengths: oversize unless bypassed; service times past MaxTime
	// with a slow linear model.
	`{"arrival_s":0,"input":2147483647,"output":2147483647,"blocks":[1],"id":0}
{"arrival_s":0,"input":2147483647,"output":1,"id":1,"parent":0,"think_s":1e9}`,
	`{"arrival_s":0.000000001,"input":0,"output":0,"id":0}
{"arrival_s":0.000000001,"input":0,"output":5,"id":1,"parent":0}
{"arrival_s":999999999.999999999,"input":3,"output":1,"blocks":[8],"last_block_tokens":3,"id":2}`,
}

// FuzzSimulateClosed feeds native traces through what `kvscope run` does
// (read with the trace readers' checks, resolve the scenario, simulate)
// for every router with session_timing=closed. A trace or scenario may be
// refused with an error naming the cause; a crash, a recovered panic
// (InternalError), any other error (a broken invariant the simulator
// reports), or a run that loses a request or lets time go backwards fails.
//
// Per exec work stays small: at most 32 requests, 4 workers, the engine
// model only on a few thousand tokens. Every router runs on every input,
// however long its simulated horizon: lbgr's decay costs O(1) per gap and
// llmd skips idle scrape instants (replay/route), so a trace spanning years
// of simulated time is as cheap as one spanning seconds.
func FuzzSimulateClosed(f *testing.F) {
	for i, s := range closedSeeds {
		data := []byte(`{"format":"kvscope-trace","version":1,"block_size":4}` + "\n" + s + "\n")
		f.Add(data, uint8(i), uint16(100), uint8(i*7))
	}
	routers := route.Names()
	scales := []float64{1, 1e-3, 1e6, 1e9}
	rates := []float64{0, 0, 1e-9, 50}
	// Binary seeds: built into native text by nativeFrom.
	f.Add([]byte{0, 0, 2, 1, 0xff, 2, 1, 8, 8, 3, 0, 2, 1, 8, 8, 3, 1, 2}, uint8(1), uint16(6), uint8(0))
	f.Add([]byte{0, 0, 7, 6, 0xff, 0, 0, 8, 7, 6, 0, 0, 0, 8, 7, 6, 0, 0, 0, 9, 1, 1, 0, 1}, uint8(2), uint16(3), uint8(2))
	f.Add([]byte{3, 5, 4, 2, 0xff, 4, 0, 7, 5, 4, 9, 4, 6, 10, 2, 2, 1, 5}, uint8(3), uint16(40), uint8(0x45))
	f.Fuzz(func(t *testing.T, data []byte, workers uint8, cache uint16, mode uint8) {
		if len(data) > 8<<10 {
			return
		}
		if len(data) > 0 && data[0] != '{' {
			data = nativeFrom(data)
		}
		tr, err := trace.LoadBytes("fuzz.jsonl", data, trace.ReadOptions{})
		if err != nil || len(tr.Requests) > 32 {
			return // the readers refuse it with a located error (their own fuzz targets check that)
		}
		var tokens int64
		for i := range tr.Requests {
			tokens += int64(tr.Requests[i].Input) + int64(tr.Requests[i].Output)
		}
		for _, name := range routers {
			sc := scenario.Default(param.Spec{Name: name}, param.Spec{Name: "lru"})
			sc.SessionTiming = "closed"
			sc.Workers = 1 + int(workers%4)
			sc.Capacity, sc.Unit = 1+int(cache%1024), scenario.Blocks
			sc.Oversize = []string{scenario.OversizeError, scenario.OversizeFail, scenario.OversizeBypass}[mode%3]
			sc.TimeScale = scales[(mode/3)%4]
			sc.Rate = rates[(mode/12)%4]
			sc.KeepOutputs = mode&0x40 != 0
			if mode&0x80 != 0 && tokens <= 4096 {
				sc.Latency = param.Spec{Name: "engine"}
				sc.Profile = "h200-llama-3.1-8b-hf"
			}
			if _, err := Resolve(sc); err != nil {
				t.Fatalf("%s: scenario does not resolve: %v", name, err)
			}
			run, err := Simulate(context.Background(), tr, sc, Options{})
			if err != nil {
				var ie *InternalError
				if errors.As(err, &ie) {
					t.Fatalf("%s: %v\n%s", sc.String(), err, ie.Stack)
				}
				if !refusal(err) {
					t.Fatalf("%s: %v", sc.String(), err)
				}
				continue
			}
			checkRun(t, tr, run)
			checkClosed(t, tr, run)
		}
	})
}

// Edge values for nativeFrom: times in seconds (the last two past the
// readers' bound) and token counts.
var (
	fuzzTimes  = []string{"0", "0.000000001", "0.001", "0.15", "1", "60", "3600", "1e6", "5e8", "1e9", "1000000000.5", "1e300"}
	fuzzTokens = []int64{0, 1, 3, 4, 5, 64, 1000, 100000, 1 << 20, 1<<31 - 1}
)

// nativeFrom builds a native trace from bytes, six per request: arrival
// gap, think time, input, output, parent and session/blocks, each picking
// from the edge values above. Requests of one session share a prefix of
// block ids; parents may point back, forward (a loop), at the request
// itself or at nothing. Times past the readers' bound are written as they
// are, for the reader to refuse.
func nativeFrom(b []byte) []byte {
	var out strings.Builder
	out.WriteString(`{"format":"kvscope-trace","version":1,"block_size":4}` + "\n")
	arrival := 0.0
	for i := 0; i+6 <= len(b) && i/6 < 32; i += 6 {
		x := i / 6
		gap := fuzzTimes[int(b[i])%len(fuzzTimes)]
		var g float64
		fmt.Sscan(gap, &g)
		arrival += g
		in := fuzzTokens[int(b[i+2])%len(fuzzTokens)]
		outTok := fuzzTokens[int(b[i+3])%len(fuzzTokens)]
		session := int(b[i+5] % 4)
		nb := min(int64(b[i+5]/4%6), in/4)
		fmt.Fprintf(&out, `{"arrival_s":%s,"input":%d,"output":%d,"blocks":[`, strconv.FormatFloat(arrival, 'g', -1, 64), in, outTok)
		for j := range nb {
			if j > 0 {
				out.WriteByte(',')
			}
			fmt.Fprintf(&out, "%d", session*16+int(j)+1)
		}
		fmt.Fprintf(&out, `],"session":%d,"id":%d`, session, x)
		switch p := b[i+4]; {
		case p == 0xff:
		case p < 0x80:
			fmt.Fprintf(&out, `,"parent":%d`, max(x-1-int(p%4), 0))
		default:
			fmt.Fprintf(&out, `,"parent":%d`, x+int(p%3)) // itself or later
		}
		fmt.Fprintf(&out, `,"think_s":%s}`+"\n", fuzzTimes[int(b[i+1])%len(fuzzTimes)])
	}
	return []byte(out.String())
}

// refusal reports whether err is one of the simulator's up-front refusals
// of its input (everything else a run returns is a bug).
func refusal(err error) bool {
	msg := err.Error()
	for _, s := range []string{"more than the cache's", "past the simulator's limit", "loops back on itself"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// checkClosed checks, beyond checkRun's invariants, that every time is
// within MaxTime and that each closed turn arrives exactly think_s after
// its parent ended.
func checkClosed(t *testing.T, tr *trace.Trace, run *Run) {
	t.Helper()
	if run.End < 0 || run.End > MaxTime {
		t.Fatalf("run ends at %v", run.End)
	}
	byID := map[int64]int{}
	for i := range tr.Requests {
		byID[tr.Requests[i].ID] = i
	}
	for i := range run.Records {
		r := &run.Records[i]
		if r.Arrival < 0 || r.Arrival > run.End || (r.Status != Failed && r.Done > run.End) {
			t.Fatalf("request %d: arrival %v done %v, run end %v", i, r.Arrival, r.Done, run.End)
		}
		q := &tr.Requests[i]
		if q.Parent == trace.NoParent {
			continue
		}
		if p, ok := byID[q.Parent]; ok && p != i && run.Records[p].Status != Failed {
			if want := run.Records[p].Done + secondsToDuration(q.ThinkS); r.Arrival != want {
				t.Fatalf("request %d arrives at %v, want its parent %d's end %v + think %v", i, r.Arrival, p, run.Records[p].Done, q.ThinkS)
			}
		}
	}
}
