package measured

import (
	"cmp"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Stat is one of inference-perf's summaries of a list of values
// (reportgen's summarize): mean, min, max and percentiles. Times are in
// seconds, lengths in tokens.
type Stat struct {
	Mean, Min, Max float64
	// Percentiles are sorted by Q (0 < Q < 100): "median" is 50, "p99.9"
	// is 99.9. inference-perf computes them with numpy's default (linear
	// interpolation between order statistics), not kvscope's nearest rank.
	Percentiles []Quantile
}

// Quantile is one percentile: Q in percent, V the value.
type Quantile struct{ Q, V float64 }

// Percentile returns the q-th percentile if the file gave it.
func (s *Stat) Percentile(q float64) (float64, bool) {
	if s == nil {
		return 0, false
	}
	i, ok := slices.BinarySearchFunc(s.Percentiles, q, func(p Quantile, q float64) int { return cmp.Compare(p.Q, q) })
	if !ok {
		return 0, false
	}
	return s.Percentiles[i].V, true
}

// Lifecycle is one inference-perf request lifecycle report: the summary of
// a whole run (summary_lifecycle_metrics.json) or of one load stage
// (stage_N_lifecycle_metrics.json). A nil *Stat is a list that was empty
// (the file's null).
type Lifecycle struct {
	File string
	// Stage is the stage number, -1 for the summary of the run.
	Stage int

	// Requests is load_summary.count: every request of the stage or run
	// (Successes + Failures).
	Requests int64
	// ScheduleDelay is how late each request was sent after its
	// scheduled time (seconds).
	ScheduleDelay *Stat
	// Stage reports only: the requested rate, the achieved rate (requests
	// over the send duration) and the send duration (first to last send,
	// seconds). HasRate is false in a run summary.
	HasRate       bool
	RequestedRate float64
	AchievedRate  float64
	SendDuration  float64

	Successes int64
	Failures  int64

	// Successful requests (seconds). TTFT, TPOT and ITL cover only
	// requests with more than one streamed token time; NTPOT is request
	// latency over output tokens (0 for none).
	RequestLatency *Stat
	TTFT           *Stat // time_to_first_token: first token − send
	TPOT           *Stat // time_per_output_token: (last − first token) / (tokens − 1)
	NTPOT          *Stat // normalized_time_per_output_token
	ITL            *Stat // inter_token_latency: every gap between streamed tokens
	// Throughput of successful requests over the report's span (first
	// send to last end), per second.
	InputTokensPerS, OutputTokensPerS, TotalTokensPerS, RequestsPerS float64
	// PromptLen and OutputLen are the lengths inference-perf counted with
	// its tokenizer (prompt_len, or prompt_tokens in later versions).
	PromptLen, OutputLen *Stat
	// PromptTokensCached is the server-reported cached prompt tokens of
	// the successes (later versions only; HasCached false otherwise).
	HasCached          bool
	PromptTokensCached float64

	// Failed requests: latency (seconds) and prompt length.
	FailedLatency   *Stat
	FailedPromptLen *Stat
}

// LoadLifecycle reads one lifecycle report; stage is its stage number
// (-1 for a run summary).
func LoadLifecycle(path string, stage int) (*Lifecycle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseLifecycle(path, data, stage)
}

// ParseLifecycle parses a lifecycle report. Known fields are type-checked,
// unknown ones ignored (inference-perf adds report fields over time), and
// the request counts must add up: load_summary.count = successes.count +
// failures.count.
func ParseLifecycle(file string, data []byte, stage int) (*Lifecycle, error) {
	d, err := parseJSON(file, data)
	if err != nil {
		return nil, err
	}
	root := at{d: d, n: d.root}
	if err := root.object(); err != nil {
		return nil, err
	}
	l := &Lifecycle{File: file, Stage: stage}
	load, succ, fail := root.get("load_summary"), root.get("successes"), root.get("failures")
	for _, s := range []at{load, succ, fail} {
		if err := s.object(); err != nil {
			return nil, err
		}
	}
	if l.Requests, err = load.get("count").count(); err != nil {
		return nil, err
	}
	if l.ScheduleDelay, err = stat(load.get("schedule_delay")); err != nil {
		return nil, err
	}
	if rate := load.get("requested_rate"); !rate.null() {
		l.HasRate = true
		for _, f := range []struct {
			key string
			dst *float64
		}{{"requested_rate", &l.RequestedRate}, {"achieved_rate", &l.AchievedRate}, {"send_duration", &l.SendDuration}} {
			if *f.dst, err = load.get(f.key).number(); err != nil {
				return nil, err
			}
		}
	}
	if l.Successes, err = succ.get("count").count(); err != nil {
		return nil, err
	}
	if l.Failures, err = fail.get("count").count(); err != nil {
		return nil, err
	}
	if l.Successes+l.Failures != l.Requests {
		return nil, load.get("count").errorf("%d requests, but %d successes + %d failures = %d",
			l.Requests, l.Successes, l.Failures, l.Successes+l.Failures)
	}
	lat := succ.get("latency")
	if !lat.null() {
		if err := lat.object(); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		v   at
		dst **Stat
	}{
		{lat.get("request_latency"), &l.RequestLatency},
		{lat.get("time_to_first_token"), &l.TTFT},
		{lat.get("time_per_output_token"), &l.TPOT},
		{lat.get("normalized_time_per_output_token"), &l.NTPOT},
		{lat.get("inter_token_latency"), &l.ITL},
		{succ.get("output_len"), &l.OutputLen},
		{fail.get("request_latency"), &l.FailedLatency},
	} {
		if *f.dst, err = stat(f.v); err != nil {
			return nil, err
		}
	}
	if l.PromptLen, l.HasCached, l.PromptTokensCached, err = promptLen(succ); err != nil {
		return nil, err
	}
	if l.FailedPromptLen, _, _, err = promptLen(fail); err != nil {
		return nil, err
	}
	if tp := succ.get("throughput"); !tp.null() {
		if err := tp.object(); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			key string
			dst *float64
		}{{"input_tokens_per_sec", &l.InputTokensPerS}, {"output_tokens_per_sec", &l.OutputTokensPerS},
			{"total_tokens_per_sec", &l.TotalTokensPerS}, {"requests_per_sec", &l.RequestsPerS}} {
			if *f.dst, _, err = tp.get(f.key).optNumber(); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// promptLen reads prompt_len (early versions) or prompt_tokens (later,
// with the server-reported cached tokens); both are not expected together.
func promptLen(sec at) (*Stat, bool, float64, error) {
	if pl := sec.get("prompt_len"); !pl.absent() {
		s, err := stat(pl)
		return s, false, 0, err
	}
	pt := sec.get("prompt_tokens")
	if pt.null() {
		return nil, false, 0, nil
	}
	if err := pt.object(); err != nil {
		return nil, false, 0, err
	}
	var s *Stat
	if !pt.get("mean").absent() {
		var err error
		if s, err = stat(pt); err != nil {
			return nil, false, 0, err
		}
	}
	cached, ok, err := pt.get("cached").optNumber()
	return s, ok, cached, err
}

// stat reads a summarize() block; null (an empty list) is nil. mean, min
// and max are required; the percentiles are the keys "median" and "pQ".
func stat(a at) (*Stat, error) {
	if a.null() {
		return nil, nil
	}
	if err := a.object(); err != nil {
		return nil, err
	}
	s := &Stat{}
	var err error
	for _, f := range []struct {
		key string
		dst *float64
	}{{"mean", &s.Mean}, {"min", &s.Min}, {"max", &s.Max}} {
		if *f.dst, err = a.get(f.key).number(); err != nil {
			return nil, err
		}
	}
	for key := range a.n.obj {
		q, ok := percentileKey(key)
		if !ok {
			continue
		}
		v, err := a.get(key).number()
		if err != nil {
			return nil, err
		}
		s.Percentiles = append(s.Percentiles, Quantile{q, v})
	}
	slices.SortFunc(s.Percentiles, func(x, y Quantile) int { return cmp.Compare(x.Q, y.Q) })
	return s, nil
}

// percentileKey reads "median" (50) and "pQ" with 0 < Q < 100.
func percentileKey(key string) (float64, bool) {
	if key == "median" {
		return 50, true
	}
	rest, ok := strings.CutPrefix(key, "p")
	if !ok {
		return 0, false
	}
	q, err := strconv.ParseFloat(rest, 64)
	if err != nil || !(q > 0 && q < 100) {
		return 0, false
	}
	return q, true
}
