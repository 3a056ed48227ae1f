package live

import "time"

// breaker is a worker's circuit breaker, passive health as production
// routers keep it (Envoy's outlier detection, llm-d's and Dynamo's worker
// health): consecutive failed attempts open it (the worker leaves
// routing); it is probed with GET /health after a cool-down that doubles
// with each reopening (ProbeInterval, 2×, … up to 32×); when the probe
// answers the worker comes back half-open: one request at a time, the
// first success closes the breaker, a failure opens it again at once.
// A refused connection opens it at once, as before, and so does a stall,
// timeout or cut stream when the worker then fails a health probe.
type breaker struct {
	// consec counts consecutive failed attempts; opens the openings since
	// the last success (the cool-down's exponent).
	consec, opens int
	halfOpen      bool
	// notBefore is the end of the cool-down: no probe before it.
	notBefore time.Time
	// downKind is the kind of the failure that opened it.
	downKind Kind
}

// breakerKinds are the failures that count towards opening: the worker
// did not serve. A 429 asks the client to slow down (its Retry-After is
// honoured instead), a capacity rejection or a 4xx is about the request.
func breakerKind(k Kind) bool {
	switch k {
	case KindStatus5, KindStall, KindTimeout, KindCut, KindConnect, KindRefused:
		return true
	}
	return false
}

// succeeded closes the breaker.
func (w *worker) succeeded() {
	w.consec, w.opens, w.halfOpen = 0, 0, false
}

// failedAttempt counts a failure of kind k and reports whether it opens the
// breaker: threshold consecutive ones, or any during a half-open trial.
func (w *worker) failedAttempt(k Kind, threshold int) bool {
	if !breakerKind(k) {
		return false
	}
	w.consec++
	return w.halfOpen || w.consec >= threshold
}

// usable reports whether worker x may take an attempt now: in routing,
// and, half-open, with no trial in flight (under d.mu).
func (d *driver) usable(x int) bool {
	w := d.workers[x]
	return w.healthy && !(w.halfOpen && w.inFlight > 0)
}

// unusable says why begin passed over the router's choice x (under d.mu).
func (d *driver) unusable(x int, failed []bool) string {
	w := d.workers[x]
	switch {
	case !w.healthy:
		return "out of routing (" + string(w.downKind) + ")"
	case w.halfOpen && w.inFlight > 0:
		return "half-open with a trial in flight"
	case failed != nil && failed[x]:
		return "already failed this request"
	}
	return "passed over"
}

// coolDown is the wait before the breaker's next probe: ProbeInterval
// doubled per opening since the last success, at most 32×.
func (d *driver) coolDown(w *worker) time.Duration {
	return d.cfg.ProbeInterval << min(w.opens, 5)
}

// another reports whether some worker in routing has not failed the
// request yet.
func (d *driver) another(failed []bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for x, w := range d.workers {
		if w.healthy && (failed == nil || !failed[x]) {
			return true
		}
	}
	return false
}
