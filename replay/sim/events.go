package sim

import (
	"container/heap"
	"time"
)

// eventKind orders events that share a time. At one instant the simulator
// first finishes work (iteration or prefill ends, completions), then lets
// routers observe, then admits arrivals: a request arriving exactly when
// another completes sees the freed worker, and a router's scrape at t sees
// state after everything that ended at t.
type eventKind uint8

const (
	evIterEnd    eventKind = iota // engine: a worker's iteration ends
	evPrefillEnd                  // linear: prefill done (first token)
	evComplete                    // linear: last token
	evObserve                     // router scrape instant
	evArrival                     // a request arrives at the router
	evEnqueue                     // vllm: a request reaches the engine's waiting queue
)

type event struct {
	t      time.Duration
	kind   eventKind
	seq    uint64 // insertion order: the last tie-break, for determinism
	worker int32
	req    int32
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	a, b := &q[i], &q[j]
	if a.t != b.t {
		return a.t < b.t
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// scheduler is a deterministic event queue.
type scheduler struct {
	q   eventQueue
	seq uint64
}

func (s *scheduler) push(e event) {
	e.seq = s.seq
	s.seq++
	heap.Push(&s.q, e)
}

func (s *scheduler) pop() (event, bool) {
	if len(s.q) == 0 {
		return event{}, false
	}
	return heap.Pop(&s.q).(event), true
}
