package live

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// bodyTransport answers every request with status 200 and a fixed body,
// without a network: the fuzzers feed it a worker's stream or metrics page.
type bodyTransport struct{ body []byte }

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Request: r,
		Body: io.NopCloser(bytes.NewReader(b.body))}, nil
}

func fuzzClient(api API, body []byte) (*Client, Endpoint) {
	u, _ := url.Parse("http://127.0.0.1:1")
	w := Endpoint{URL: u}
	c := NewClient(ClientConfig{API: api, Model: "m"}, []Endpoint{w})
	c.http.Transport = bodyTransport{body}
	return c, w
}

// FuzzStream: whatever a worker streams, Send returns either a response
// with non-negative counts and at most as many cached tokens as prompt
// tokens, or an *AttemptError; nothing panics.
func FuzzStream(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":1,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\ndata: [DONE]\n\n"), false)
	f.Add([]byte("data: {\"text\":\"ab\",\"meta_info\":{\"prompt_tokens\":8,\"completion_tokens\":2,\"cached_tokens\":8}}\n\ndata: [DONE]\n\n"), true)
	f.Add([]byte("data: {\"error\":{\"message\":\"overloaded\",\"code\":503}}\n\n"), false)
	f.Add([]byte("data: {\"choices\":[{\"text\":\"a\"}]}\n\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, sglang bool) {
		api := OpenAI
		if sglang {
			api = SGLang
		}
		c, w := fuzzClient(api, body)
		resp, err := c.Send(context.Background(), w, []uint32{1, 2, 3}, 4)
		if err != nil {
			var ae *AttemptError
			if !errors.As(err, &ae) {
				t.Fatalf("error %T %v is not an *AttemptError", err, err)
			}
			return
		}
		if resp.PromptTokens < 0 || resp.OutputTokens < 0 || resp.CachedTokens < 0 {
			t.Fatalf("negative counts accepted: %+v", resp)
		}
		if resp.CachedKnown && resp.CachedTokens > resp.PromptTokens {
			t.Fatalf("more cached than prompt tokens accepted: %+v", resp)
		}
		if resp.TTFT < 0 || resp.E2E < resp.TTFT {
			t.Fatalf("times %v / %v", resp.TTFT, resp.E2E)
		}
	})
}

// FuzzMetrics: whatever a worker's /metrics says, ParseMetrics returns an
// error or a Scrape whose figures are finite and non-negative, with usage
// in [0, 1]; nothing panics. (Hits above queries are not refused: the two
// counters are separate series, and a server may update them apart.)
func FuzzMetrics(f *testing.F) {
	f.Add("# TYPE vllm:prefix_cache_queries_total counter\nvllm:prefix_cache_queries_total{model_name=\"m\"} 128\n" +
		"# TYPE vllm:prefix_cache_hits_total counter\nvllm:prefix_cache_hits_total{model_name=\"m\"} 64\n" +
		"vllm:kv_cache_usage_perc{model_name=\"m\"} 0.25\nvllm:num_requests_waiting 0\nvllm:num_requests_running 2\n" +
		"vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"1000\"} 1\n")
	f.Add("sglang:prompt_tokens_total 10\nsglang:cached_tokens_total 3\nsglang:token_usage 0.5\nsglang:num_queue_reqs 1\n")
	f.Add("vllm:kv_cache_usage_perc NaN\nvllm:num_requests_waiting -1\n")
	f.Fuzz(func(t *testing.T, page string) {
		s, err := ParseMetrics(strings.NewReader(page))
		if err != nil {
			return
		}
		for name, v := range map[string]float64{"queried": s.Queried, "hit": s.Hit, "usage": s.Usage, "waiting": s.Waiting, "running": s.Running} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("%s = %v accepted from:\n%s", name, v, page)
			}
		}
		if s.Usage > 1 {
			t.Fatalf("usage %v accepted", s.Usage)
		}
		if s.CacheBlocks < 0 || s.BlockSize < 0 {
			t.Fatalf("cache blocks %d, block size %d accepted", s.CacheBlocks, s.BlockSize)
		}
	})
}
