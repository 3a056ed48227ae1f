package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one reading of a worker's Prometheus /metrics. A field is NaN-free:
// Has says which were present.
type Scrape struct {
	At time.Time `json:"-"`
	// Queried and Hit are the prefix-cache token counters: vLLM's
	// vllm:prefix_cache_queries / vllm:prefix_cache_hits, sglang's
	// sglang:prompt_tokens_total / sglang:cached_tokens_total. Summed over
	// label sets (one per model name).
	Queried, Hit float64
	HasCache     bool
	// Usage is the KV cache usage in [0, 1] (vllm:kv_cache_usage_perc,
	// sglang:token_usage); Waiting and Running the request queues
	// (vllm:num_requests_waiting / running, sglang:num_queue_reqs /
	// num_running_reqs).
	Usage, Waiting, Running float64
	HasUsage, HasQueue      bool
	// CacheBlocks and BlockSize come from vLLM's vllm:cache_config_info
	// labels num_gpu_blocks and block_size, or sglang's gauges
	// sglang:max_total_num_tokens (the KV pool's size in tokens) and
	// sglang:page_size (tokens per page, 1 when absent): pool over page
	// size (sglang/srt/metrics/collector.py); 0 when neither is present.
	CacheBlocks, BlockSize int
	// StartTime is process_start_time_seconds (the Prometheus client's
	// standard process metric; 0 when absent): a change means the server
	// restarted and its counters were reset.
	StartTime float64
}

// metric names, each tried with and without the _total suffix.
var (
	namesQueried = []string{"vllm:prefix_cache_queries", "sglang:prompt_tokens_total"}
	namesHit     = []string{"vllm:prefix_cache_hits", "sglang:cached_tokens_total"}
	namesUsage   = []string{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage"}
	namesWaiting = []string{"vllm:num_requests_waiting", "sglang:num_queue_reqs"}
	namesRunning = []string{"vllm:num_requests_running", "sglang:num_running_reqs"}
)

// ParseMetrics reads the Prometheus text exposition format with
// prometheus/common's expfmt. A value read that is NaN, infinite or
// negative, or a KV cache usage above 1, is an error naming the metric.
func ParseMetrics(r io.Reader) (Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Scrape{}, fmt.Errorf("metrics: %w", err)
	}
	s := Scrape{At: time.Now()}
	var okQ, okH, okW, okR bool
	for _, g := range []struct {
		dst   *float64
		ok    *bool
		names []string
	}{
		{&s.Queried, &okQ, namesQueried}, {&s.Hit, &okH, namesHit}, {&s.Usage, &s.HasUsage, namesUsage},
		{&s.Waiting, &okW, namesWaiting}, {&s.Running, &okR, namesRunning},
	} {
		if *g.dst, *g.ok, err = sumOf(fams, g.names); err != nil {
			return Scrape{}, err
		}
	}
	s.HasCache = okQ && okH
	if s.StartTime, _, err = sumOf(fams, []string{"process_start_time_seconds"}); err != nil {
		return Scrape{}, err
	}
	s.HasQueue = okW || okR
	if s.Usage > 1 {
		return Scrape{}, fmt.Errorf("metrics: KV cache usage %v: want a fraction from 0 to 1", s.Usage)
	}
	if f := family(fams, "vllm:cache_config_info"); f != nil {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				v, err := strconv.Atoi(l.GetValue())
				if err != nil {
					continue
				}
				if v < 0 {
					return Scrape{}, fmt.Errorf("metrics: vllm:cache_config_info label %s=%d: want a non-negative count", l.GetName(), v)
				}
				switch l.GetName() {
				case "num_gpu_blocks":
					s.CacheBlocks = v
				case "block_size":
					s.BlockSize = v
				}
			}
		}
	}
	if s.CacheBlocks == 0 {
		// The largest series: with one series per rank (tp_rank labels)
		// each reports the same pool.
		tokens, okT, err := maxOf(fams, []string{"sglang:max_total_num_tokens"})
		if err != nil {
			return Scrape{}, err
		}
		page, okP, err := maxOf(fams, []string{"sglang:page_size"})
		if err != nil {
			return Scrape{}, err
		}
		if !okP || page < 1 {
			page = 1
		}
		if okT && tokens >= page {
			s.CacheBlocks, s.BlockSize = int(tokens/page), int(page)
		}
	}
	return s, nil
}

// family finds a family by name, with or without "_total".
func family(fams map[string]*dto.MetricFamily, name string) *dto.MetricFamily {
	base := strings.TrimSuffix(name, "_total")
	for _, n := range []string{base, base + "_total"} {
		if f, ok := fams[n]; ok {
			return f
		}
	}
	return nil
}

// sumOf returns the sum over every series of the first family found. A
// value that is not a finite, non-negative number is an error naming the
// metric: every figure read here is a count, a queue length or a fraction.
func sumOf(fams map[string]*dto.MetricFamily, names []string) (float64, bool, error) {
	vs, name, ok, err := seriesOf(fams, names)
	if !ok || err != nil {
		return 0, ok, err
	}
	var sum float64
	for _, v := range vs {
		sum += v
	}
	if math.IsInf(sum, 0) {
		return 0, false, fmt.Errorf("metrics: %s: the series sum overflows", name)
	}
	return sum, true, nil
}

// maxOf is the largest series of the first family found (a size every
// rank of one server reports alike), checked as sumOf checks.
func maxOf(fams map[string]*dto.MetricFamily, names []string) (float64, bool, error) {
	vs, _, ok, err := seriesOf(fams, names)
	if !ok || err != nil {
		return 0, ok, err
	}
	var m float64
	for _, v := range vs {
		m = max(m, v)
	}
	return m, true, nil
}

// seriesOf returns the values of every series of the first family found
// and its name; a value that is not a finite, non-negative number is an
// error naming the metric.
func seriesOf(fams map[string]*dto.MetricFamily, names []string) ([]float64, string, bool, error) {
	for _, n := range names {
		f := family(fams, n)
		if f == nil {
			continue
		}
		var vs []float64
		for _, m := range f.GetMetric() {
			var v float64
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			default:
				continue
			}
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return nil, "", false, fmt.Errorf("metrics: %s: value %v: want a finite, non-negative number", f.GetName(), v)
			}
			vs = append(vs, v)
		}
		return vs, f.GetName(), true, nil
	}
	return nil, "", false, nil
}

// Scrape reads worker w's /metrics.
func (c *Client) Scrape(ctx context.Context, w Endpoint) (Scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.join("/metrics"), nil)
	if err != nil {
		return Scrape{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return Scrape{}, errors.New(c.cfg.Key.scrub(err.Error()))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Scrape{}, fmt.Errorf("metrics: HTTP %d", resp.StatusCode)
	}
	return ParseMetrics(io.LimitReader(resp.Body, 32<<20))
}
