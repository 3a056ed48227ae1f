package live

// counters is one worker's prefix-cache counters (queried and hit tokens)
// followed over the run, their increase computed as Prometheus's
// increase() computes it: between two readings a counter that went down, or
// a process whose start time changed (process_start_time_seconds), was
// reset (the server restarted), and the new reading counts from 0. So a
// restart mid-run neither subtracts the counters' old values nor turns a
// ratio negative. As with Prometheus, what the server counted between the
// last reading before a restart and the restart itself is lost from these
// figures: every reading taken (the scrapes every ScrapeInterval and the
// settling ones) narrows that gap.
type counters struct {
	// last is the latest reading with the counters; nil before the first
	// (the run's baseline).
	last *Scrape
	// queried and hit are the increase since the baseline; resets counts
	// the resets seen.
	queried, hit float64
	resets       int
}

// start sets the baseline: the reading before the run, or zero counters
// when the server had not exposed them yet (vLLM and llm-d-inference-sim
// register a series on first use).
func (k *counters) start(before *Scrape) {
	base := Scrape{}
	if before != nil && before.HasCache {
		base = *before
	}
	k.last = &base
}

// observe adds a reading. Readings without the counters change nothing.
func (k *counters) observe(s *Scrape) {
	if k.last == nil || !s.HasCache {
		return
	}
	p := k.last
	restarted := s.StartTime > 0 && p.StartTime > 0 && s.StartTime != p.StartTime
	if restarted || s.Queried < p.Queried || s.Hit < p.Hit {
		k.resets++
		k.queried += s.Queried
		k.hit += s.Hit
	} else {
		k.queried += s.Queried - p.Queried
		k.hit += s.Hit - p.Hit
	}
	k.last = s
}
