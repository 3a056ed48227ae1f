package live

import (
	"fmt"
	"strings"
	"time"
)

// markDown takes worker w out of routing, keeping why (the failed
// attempt's error, shown when no worker is left), and probes it until it
// answers (under d.mu).
func (d *driver) markDown(w int, kind Kind, why string) {
	ctx := d.bg
	wk := d.workers[w]
	wk.downWhy = why
	if !wk.healthy {
		return
	}
	wk.healthy, wk.halfOpen, wk.downKind = false, false, kind
	wk.notBefore = time.Now().Add(d.coolDown(wk))
	wk.opens++
	wk.consec = 0
	wk.downs++
	if wk.probing {
		return
	}
	wk.probing = true
	d.probes.Go(func() {
		defer func() { d.recovered(recover(), fmt.Sprintf("probing worker %d", w), -1) }()
		t := time.NewTicker(d.cfg.ProbeInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				d.mu.Lock()
				wk.probing = false
				d.mu.Unlock()
				return
			case <-t.C:
			}
			d.mu.Lock()
			wait := time.Now().Before(wk.notBefore)
			d.mu.Unlock()
			if wait || d.client.Probe(ctx, wk.ep) != nil {
				continue
			}
			d.rejoin(w)
			return
		}
	})
}

// rejoin puts worker w back into routing after a successful probe.
func (d *driver) rejoin(w int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	wk := d.workers[w]
	wk.healthy, wk.probing, wk.halfOpen = true, false, true
	wk.recovered++
	// A worker that went away (refused or dropped connections) most likely
	// restarted with an empty cache: start its model afresh (requests
	// still holding the old model release their pins there). One that
	// answered 5xx or stalled kept its process, and its cache.
	if wk.downKind == KindRefused || wk.downKind == KindConnect {
		if m, err := d.newModel(w); err == nil {
			wk.model, wk.corr.since = m, time.Now()
		}
	}
}

// noHealthyWorker is the error of an attempt with every worker out of
// routing: each worker's URL and the error that took it out, so the cause
// (a refused port, an unknown CA, http spoken to https) is on the first
// line rather than behind "no healthy worker" (under d.mu).
func (d *driver) noHealthyWorker() *AttemptError {
	var b strings.Builder
	b.WriteString("no healthy worker")
	for i, w := range d.workers {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		why := w.downWhy
		if why == "" {
			why = "out of routing"
		}
		fmt.Fprintf(&b, "%sworker %d (%s) down after %s", sep, i, w.ep, why)
	}
	return &AttemptError{Kind: KindConnect, Msg: b.String()}
}
