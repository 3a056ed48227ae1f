package sim

import (
	"cmp"
	"slices"
	"time"

	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
)

// Status is how a request ended.
type Status uint8

const (
	// Completed requests were served; Bypassed ones too, uncached.
	Completed Status = iota
	Bypassed
	// Failed requests were not served; Record.Fail says why.
	Failed
)

func (s Status) String() string {
	switch s {
	case Completed:
		return "completed"
	case Bypassed:
		return "bypassed"
	default:
		return "failed"
	}
}

// Record is one request's story in a run.
type Record struct {
	// Index is the request's index in the trace.
	Index int32
	// Worker is where it was routed; -1 when it failed before routing.
	Worker int16
	Status Status
	// Arrival is when it reached the router (after time_scale, rate or
	// closed-session re-timing); Start when its prefill started (the cache
	// lookup); FirstToken when its prefill finished; Done its last token.
	Arrival, Start, FirstToken, Done time.Duration
	// Hits at prefill start, from the worker's true cache.
	HitBlocks, HitTokens int32
	// Why is the router's decision record; its scores are in
	// Run.Scores[Index*Workers : (Index+1)*Workers].
	Why route.Why
	// Fail is the failure reason of a Failed request.
	Fail string
}

// TTFT is arrival → first token.
func (r *Record) TTFT() time.Duration { return r.FirstToken - r.Arrival }

// E2E is arrival → last token.
func (r *Record) E2E() time.Duration { return r.Done - r.Arrival }

// Queueing is arrival → prefill start.
func (r *Record) Queueing() time.Duration { return r.Start - r.Arrival }

// Sample is one worker's state right after an event that changed it. Cache
// figures are in the cache's unit.
type Sample struct {
	T time.Duration
	// Pinned counts blocks pinned by running requests plus reserved room
	// (output allowance, tail tokens, blocks being computed); Marked and
	// Unmarked split the unpinned cached blocks by rlt's marks (all
	// unmarked for other policies).
	Pinned, Marked, Unmarked int64
	Queue, Running           int32
	// Cumulative counters since the start of the run.
	HitTokens, InputTokens int64
	HitBlocks, Blocks      int64
	Evicted                int64
	Phases                 int32
	Completed              int32
	// Busy is the service time given so far (the load P_i).
	Busy time.Duration
}

// EventKind names an entry of the event log.
type EventKind uint8

const (
	LogArrival EventKind = iota
	LogRouted
	LogStart
	LogFirstToken
	LogComplete
	LogFail
	// LogPreempt: the vllm model preempted a running request (it will
	// recompute).
	LogPreempt
)

func (k EventKind) String() string {
	return [...]string{"arrival", "routed", "prefill start", "first token", "complete", "fail", "preempt"}[k]
}

// Event is one entry of the compact event log, in time order.
type Event struct {
	T      time.Duration
	Req    int32
	Worker int16
	Kind   EventKind
}

// Run is a scenario replayed in time: what analysis and the explorer read.
type Run struct {
	// Scenario is the canonical scenario string.
	Scenario string
	Trace    trace.Info
	Workers  int
	// Capacity is each worker's B in Unit.
	Capacity int64
	Unit     string
	// Records has one entry per request of the trace, in trace order.
	Records []Record
	// Scores holds each routed request's per-worker router scores,
	// Workers entries per request (zeros for requests never routed); nil
	// unless Options.RequestDetail.
	Scores []float32
	// Matches holds, per request, every worker's true cached prefix (in
	// blocks) at the request's arrival, Workers entries per request: what
	// a precise router would have seen. The worker's own match at prefill
	// start is Record.HitBlocks; the difference is queueing's effect. Nil
	// unless Options.RequestDetail.
	Matches []int32
	// Events is the compact event log, in time order.
	Events []Event
	// Samples[w] is worker w's state series, in time order.
	Samples [][]Sample
	// LoadT and Loads are the router's own per-worker load (LoadUnit),
	// sampled at every routing decision and completion: Loads holds
	// Workers values per entry of LoadT.
	LoadT    []time.Duration
	Loads    []float32
	LoadUnit string
	// Start and End bound the run: first arrival, last completion.
	Start, End time.Duration
	// Preemptions counts the vllm model's preemptions (0 for the others).
	Preemptions int64
	// Requests is the number of requests of a streamed run
	// (SimulateStream), which keeps no Records; 0 otherwise.
	Requests int
	// IDs says that a streamed run recycled block ids under a policy that
	// draws among blocks by id (rlt, random_leaf): its choices may differ
	// from a whole-trace run's. Nil otherwise.
	IDs *seq.IDRecycling
}

// Sequences returns each worker's sequence for SPEC §5's competitive
// ratios: the trace indices of the requests it completed (bypassed and
// failed ones are not cached and are left out), in prefill-start order,
// ties broken by trace index. The ratios themselves are analysis's step
// (analysis.Ratios), run after the simulation and cancellable; the
// simulator only records what it needs.
func (r *Run) Sequences() [][]int32 {
	out := make([][]int32, r.Workers)
	for i := range r.Records {
		rec := &r.Records[i]
		if rec.Status == Completed && rec.Worker >= 0 {
			out[rec.Worker] = append(out[rec.Worker], rec.Index)
		}
	}
	for _, s := range out {
		slices.SortFunc(s, func(a, b int32) int {
			return cmp.Or(cmp.Compare(r.Records[a].Start, r.Records[b].Start), cmp.Compare(a, b))
		})
	}
	return out
}

// RequestScores returns the router scores recorded for request i; nil
// for a run without Options.RequestDetail.
func (r *Run) RequestScores(i int) []float32 {
	if r.Scores == nil {
		return nil
	}
	return r.Scores[i*r.Workers : (i+1)*r.Workers]
}

// RequestMatches returns every worker's cached prefix (blocks) at request
// i's arrival; nil for a run without Options.RequestDetail.
func (r *Run) RequestMatches(i int) []int32 {
	if r.Matches == nil {
		return nil
	}
	return r.Matches[i*r.Workers : (i+1)*r.Workers]
}

// State is the cluster at one instant.
type State struct {
	T       time.Duration
	Workers []Sample
	// RouterLoads is the router's own per-worker load at T.
	RouterLoads []float32
}

// StateAt returns every worker's state at time t (the latest sample at or
// before t; the zero state before a worker's first sample). It costs
// O(workers · log samples) and allocates the returned slices only.
func (r *Run) StateAt(t time.Duration) State {
	st := State{T: t, Workers: make([]Sample, r.Workers)}
	for w, ss := range r.Samples {
		i, found := slices.BinarySearchFunc(ss, t, func(s Sample, t time.Duration) int {
			switch {
			case s.T < t:
				return -1
			case s.T > t:
				return 1
			}
			return 0
		})
		// Move past every sample at exactly t: the state after them.
		if found {
			for i < len(ss) && ss[i].T == t {
				i++
			}
		}
		if i > 0 {
			st.Workers[w] = ss[i-1]
		}
		st.Workers[w].T = t
	}
	if n := len(r.LoadT); n > 0 {
		i, found := slices.BinarySearch(r.LoadT, t)
		if found {
			for i < n && r.LoadT[i] == t {
				i++
			}
		}
		st.RouterLoads = make([]float32, r.Workers)
		if i > 0 {
			copy(st.RouterLoads, r.Loads[(i-1)*r.Workers:i*r.Workers])
		}
	}
	return st
}

// EventIndex returns the index of the first event at or after t.
func (r *Run) EventIndex(t time.Duration) int {
	i, _ := slices.BinarySearchFunc(r.Events, t, func(e Event, t time.Duration) int {
		switch {
		case e.T < t:
			return -1
		case e.T > t:
			return 1
		}
		return 0
	})
	return i
}
