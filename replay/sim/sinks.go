package sim

import "time"

// sinks hand a streamed run's event log, worker samples and router loads
// to StreamOptions' OnEvent, OnSample and OnLoads as they are produced,
// with Simulate's coalescing: a sample (or load row) at the same instant
// as the one before it replaces it, so each is held until a later instant
// comes or the run ends (flush). A cluster without sinks has nil.
type sinks struct {
	onEvent  func(Event)
	onSample func(w int, s *Sample)
	onLoads  func(t time.Duration, loads []float32)
	// pending[w] is worker w's latest sample, not yet handed over (has[w]).
	pending []Sample
	has     []bool
	// loadT and loads are the pending load row (hasLoads).
	loadT    time.Duration
	loads    []float32
	hasLoads bool
}

func newSinks(opt *StreamOptions, workers int) *sinks {
	if opt.OnEvent == nil && opt.OnSample == nil && opt.OnLoads == nil {
		return nil
	}
	return &sinks{onEvent: opt.OnEvent, onSample: opt.OnSample, onLoads: opt.OnLoads,
		pending: make([]Sample, workers), has: make([]bool, workers)}
}

func (k *sinks) wantSamples() bool { return k != nil && k.onSample != nil }
func (k *sinks) wantLoads() bool   { return k != nil && k.onLoads != nil }

func (k *sinks) event(e Event) {
	if k != nil && k.onEvent != nil {
		k.onEvent(e)
	}
}

// sample takes worker w's sample s (copied).
func (k *sinks) sample(w int, s *Sample) {
	if k.has[w] && k.pending[w].T != s.T {
		k.onSample(w, &k.pending[w])
	}
	k.pending[w], k.has[w] = *s, true
}

// loadRow takes the router's loads at t (copied).
func (k *sinks) loadRow(t time.Duration, loads []float64) {
	if k.hasLoads && k.loadT != t {
		k.onLoads(k.loadT, k.loads)
	}
	k.loadT, k.hasLoads = t, true
	k.loads = k.loads[:0]
	for _, l := range loads {
		k.loads = append(k.loads, float32(l))
	}
}

// flush hands over the pending samples (worker order) and load row at the
// end of a run.
func (k *sinks) flush() {
	if k == nil {
		return
	}
	for w := range k.pending {
		if k.has[w] {
			k.onSample(w, &k.pending[w])
			k.has[w] = false
		}
	}
	if k.hasLoads {
		k.onLoads(k.loadT, k.loads)
		k.hasLoads = false
	}
}
