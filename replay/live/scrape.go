package live

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// scrapeLoop reads every healthy worker's /metrics each ScrapeInterval
// until ctx ends (Waiting and Usage for the routers, snapshots).
func (d *driver) scrapeLoop(ctx context.Context) {
	every(ctx, d.cfg.ScrapeInterval, func() {
		for _, w := range d.workers {
			d.mu.Lock()
			ok := w.healthy
			d.mu.Unlock()
			if !ok {
				continue
			}
			if s, err := d.client.Scrape(ctx, w.ep); err == nil {
				d.mu.Lock()
				w.latest = &s
				w.ctr.observe(&s)
				d.mu.Unlock()
			}
		}
	})
}

// every calls fn each interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// settle takes the workers' last /metrics readings: it reads each worker
// until its counters stop moving (the server updates them asynchronously),
// all workers at once, pausing Config.settleEvery between readings and
// waiting at most Config.settleFor (3 s) in all. A worker out of routing,
// and every worker once ctx has ended (a cancelled run), is read once,
// without waiting. A worker's reading is nil when none succeeded.
func (d *driver) settle(ctx context.Context) {
	// The readings themselves outlive ctx (a cancelled run still reports
	// what the workers counted), within the same bound.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.settleFor)
	defer cancel()
	var wg sync.WaitGroup
	for i, w := range d.workers {
		wg.Go(func() {
			defer func() { d.recovered(recover(), fmt.Sprintf("reading worker %d's /metrics", i), -1) }()
			d.settleWorker(ctx, rctx, w)
		})
	}
	wg.Wait()
}

func (d *driver) settleWorker(ctx, rctx context.Context, w *worker) {
	w.latest, w.settled = nil, false
	var prev *Scrape
	for {
		s, err := d.client.Scrape(rctx, w.ep)
		if err != nil {
			return // keeps the last reading taken here, if any
		}
		w.latest = &s
		w.ctr.observe(&s)
		if prev != nil && prev.Queried == s.Queried && prev.Hit == s.Hit && float64(w.prompt) <= w.ctr.queried {
			w.settled = true
			return
		}
		if !w.healthy || ctx.Err() != nil {
			return
		}
		prev = &s
		t := time.NewTimer(d.cfg.settleEvery)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-rctx.Done():
		}
		t.Stop()
		if rctx.Err() != nil {
			return
		}
	}
}
