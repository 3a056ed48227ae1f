package live

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kvscope/kvscope/replay/live/liverun"
)

// Secret holds an API key. It never prints: String, GoString, Format and
// MarshalJSON all give "[redacted]", so a key cannot reach a log, an error
// or a report by accident.
type Secret struct{ v string }

// NewSecret wraps a key (surrounding whitespace and a trailing newline, as
// key files have, are trimmed).
func NewSecret(v string) Secret { return Secret{strings.TrimSpace(v)} }

func (s Secret) String() string               { return redacted(s.v) }
func (s Secret) GoString() string             { return redacted(s.v) }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted(s.v)) }

// Check reports a key that cannot travel in an Authorization header: one
// with a line break, a space or another control character inside (a key
// file of two lines, say). The message never shows the key.
func (s Secret) Check() error {
	if n := strings.Count(s.v, "\n") + 1; n > 1 {
		return fmt.Errorf("the key has %d lines; an API key is one line", n)
	}
	for i, r := range s.v {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("the key has a space or control character at byte %d; an API key is one word", i+1)
		}
	}
	return nil
}

// Empty reports whether no key is set.
func (s Secret) Empty() bool { return s.v == "" }

// scrub removes the key from a message (an echoing server could put it in an
// error body).
func (s Secret) scrub(msg string) string {
	if s.v == "" {
		return msg
	}
	return strings.ReplaceAll(msg, s.v, "[redacted]")
}

func redacted(v string) string {
	if v == "" {
		return ""
	}
	return "[redacted]"
}

// Endpoint is one attached worker.
type Endpoint struct {
	// URL is the worker's base URL (scheme http or https, host, optional
	// path prefix), without credentials.
	URL *url.URL
}

// ParseEndpoint checks a worker URL: http or https, a host, no user
// information (credentials in a URL would end up in logs; use an API key
// from the environment or a file), no query or fragment.
func ParseEndpoint(raw string) (Endpoint, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Endpoint{}, fmt.Errorf("worker URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return Endpoint{}, fmt.Errorf("worker URL %q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return Endpoint{}, fmt.Errorf("worker URL %q: no host", u.Redacted())
	case u.User != nil:
		return Endpoint{}, fmt.Errorf("worker URL %q: credentials in URLs are refused; pass the key with --api-key-env or --api-key-file", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return Endpoint{}, fmt.Errorf("worker URL %q: no query or fragment allowed", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return Endpoint{URL: u}, nil
}

func (e Endpoint) String() string { return e.URL.String() }

func (e Endpoint) join(path string) string {
	u := *e.URL
	u.Path += path
	return u.String()
}

// ClientConfig sets up the HTTP side of a live run.
type ClientConfig struct {
	API API
	// Model is the model name sent with OpenAI requests.
	Model string
	// Words sends prompts as words (see Words) instead of token ids, for
	// servers that count words (OpenAI API only).
	Words bool
	// Key is sent as "Authorization: Bearer" to the configured workers
	// only, never elsewhere (redirects to other hosts are refused).
	Key Secret
	// TLS configures https workers (RootCAs for a private CA); nil uses
	// the system roots.
	TLS *tls.Config
	// FirstTokenTimeout bounds send → first streamed token, StallTimeout
	// the gap between two streamed chunks, Timeout the whole request.
	FirstTokenTimeout, StallTimeout, Timeout time.Duration
}

// Client sends requests to attached workers and scrapes their metrics.
type Client struct {
	cfg   ClientConfig
	hosts map[string]bool
	http  *http.Client
}

// NewClient builds a client for the given workers: one HTTP client whose
// redirects may only stay on the worker's own host (scheme, host and port
// unchanged), so the key, sent per request, never travels elsewhere.
func NewClient(cfg ClientConfig, workers []Endpoint) *Client {
	c := &Client{cfg: cfg, hosts: map[string]bool{}}
	for _, w := range workers {
		c.hosts[w.URL.Scheme+"://"+w.URL.Host] = true
	}
	tr := &http.Transport{
		Proxy:                 nil, // never route worker traffic through an environment proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:       cfg.TLS,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0, // the first-token timer covers it
	}
	c.http = &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		if from := via[0].URL; req.URL.Scheme != from.Scheme || req.URL.Host != from.Host {
			return fmt.Errorf("redirect from %s to another host (%s://%s) refused", from.Host, req.URL.Scheme, req.URL.Host)
		}
		return nil
	}}
	return c
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Kind classifies a failed attempt.
type Kind string

const (
	KindRefused  Kind = "connection refused"
	KindConnect  Kind = "connection error"
	KindStatus5  Kind = "server error (5xx)"
	KindStatus4  Kind = "client error (4xx)"
	KindBusy     Kind = "busy (429)"
	KindTimeout  Kind = "timed out"
	KindStall    Kind = "stalled"
	KindCut      Kind = "stream cut"
	KindRejected Kind = "rejected in stream"
	KindProtocol Kind = "bad response"
	KindRedirect Kind = "redirect refused"
	// KindCancelled: the run was cancelled (its context ended) while the
	// attempt was in flight; the attempt says nothing about the worker.
	KindCancelled Kind = "cancelled"
)

// AttemptError is why one attempt failed.
type AttemptError struct {
	Kind   Kind
	Status int
	Msg    string
	// RetryAfter is the server's Retry-After (a 429 or 503), 0 when none:
	// the driver waits at least this long before the retry.
	RetryAfter time.Duration
}

// maxRetryAfter bounds a server's Retry-After: a longer one (or a date far
// ahead) is capped rather than stalling the run.
const maxRetryAfter = time.Minute

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3: delay-seconds or
// an HTTP date), 0 when absent or unreadable, capped at maxRetryAfter.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

func (e *AttemptError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: HTTP %d: %s", e.Kind, e.Status, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Msg)
}

// Retryable reports whether another attempt may succeed.
func (e *AttemptError) Retryable() bool {
	switch e.Kind {
	case KindStatus4, KindProtocol, KindRedirect, KindCancelled:
		return false
	}
	return true
}

// Unhealthy reports whether the failure says the worker is down (it then
// leaves routing until a probe succeeds).
func (e *AttemptError) Unhealthy() bool {
	switch e.Kind {
	case KindRefused, KindConnect, KindTimeout, KindStall, KindCut:
		return true
	}
	return false
}

// Response is one served request as the client saw it.
type Response struct {
	// TTFT is send → first streamed token; E2E send → end of stream.
	TTFT, E2E time.Duration
	// PromptTokens and CachedTokens are the server's figures (usage, or
	// sglang's meta_info); CachedKnown is false when the server sent none.
	PromptTokens, CachedTokens int
	CachedKnown                bool
	OutputTokens               int
}

// Send serves one prompt on worker w, streaming, and measures it.
func (c *Client) Send(ctx context.Context, w Endpoint, tokens []uint32, maxTokens int) (Response, error) {
	var body any
	var path string
	switch c.cfg.API {
	case SGLang:
		path = "/generate"
		body = map[string]any{
			"input_ids": tokens,
			"sampling_params": map[string]any{
				"max_new_tokens": maxTokens, "temperature": 0, "ignore_eos": true,
			},
			"stream": true,
		}
	default:
		path = "/v1/completions"
		var prompt any = tokens
		if c.cfg.Words {
			prompt = liverun.Words(tokens)
		}
		body = map[string]any{
			"model": c.cfg.Model, "prompt": prompt, "max_tokens": maxTokens,
			"temperature": 0, "ignore_eos": true, "stream": true,
			"stream_options": map[string]any{"include_usage": true},
		}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Response{}, &AttemptError{Kind: KindProtocol, Msg: err.Error()}
	}
	parent := ctx
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.join(path), bytes.NewReader(data))
	if err != nil {
		return Response{}, &AttemptError{Kind: KindProtocol, Msg: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	c.authorize(req)

	// One watchdog: first token, then the gap between chunks. Without a
	// first-token timeout it waits as long as the request may (Timeout, or
	// the caller's context).
	stallErr := errors.New("watchdog")
	first := c.cfg.FirstTokenTimeout
	if first <= 0 {
		first = 365 * 24 * time.Hour
	}
	watch := time.AfterFunc(first, func() { cancel(stallErr) })
	defer watch.Stop()

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, c.classify(parent, ctx, stallErr, false, false, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		k := KindStatus4
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			k = KindBusy
		case resp.StatusCode >= 500:
			k = KindStatus5
		}
		return Response{}, &AttemptError{Kind: k, Status: resp.StatusCode, Msg: c.cfg.Key.scrub(oneLine(string(msg))),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	var out Response
	sawToken, done := false, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	chunks := 0
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("data:")) {
			continue
		}
		payload := bytes.TrimSpace(line[5:])
		if bytes.Equal(payload, []byte("[DONE]")) {
			done = true
			break
		}
		chunks++
		tok, err := c.parseChunk(payload, &out)
		if err != nil {
			return Response{}, err
		}
		if tok && !sawToken {
			sawToken = true
			out.TTFT = time.Since(start)
		}
		// Until the first token the first-token deadline stands: a chunk
		// without one (an empty delta, a usage-only or role chunk) arrives
		// during prefill and must not shorten it to the stall timeout.
		// From the first token on, every chunk restarts the stall timeout.
		if sawToken {
			if c.cfg.StallTimeout > 0 {
				watch.Reset(c.cfg.StallTimeout)
			} else {
				watch.Stop()
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Response{}, c.classify(parent, ctx, stallErr, true, sawToken, fmt.Errorf("after %d chunks: %w", chunks, err))
	}
	if !done {
		if cause := context.Cause(ctx); cause != nil {
			return Response{}, c.classify(parent, ctx, stallErr, true, sawToken, cause)
		}
		return Response{}, &AttemptError{Kind: KindCut, Msg: fmt.Sprintf("stream ended after %d chunks without [DONE]", chunks)}
	}
	out.E2E = time.Since(start)
	if !sawToken {
		out.TTFT = out.E2E
	}
	return out, nil
}

// authorize adds the key to a request for a configured worker only.
func (c *Client) authorize(req *http.Request) {
	if c.cfg.Key.Empty() || !c.hosts[req.URL.Scheme+"://"+req.URL.Host] {
		return
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Key.v)
}

// classify turns a transport error into an AttemptError. parent is the
// caller's context (its end cancels the run: KindCancelled), ctx the
// attempt's (whole-request timeout, watchdog); sawToken tells the two
// watchdog deadlines apart.
func (c *Client) classify(parent, ctx context.Context, stallErr error, streaming, sawToken bool, err error) *AttemptError {
	msg := c.cfg.Key.scrub(err.Error())
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, stallErr):
		if sawToken {
			return &AttemptError{Kind: KindStall, Msg: "no chunk within the stall timeout"}
		}
		return &AttemptError{Kind: KindStall, Msg: "no first token within the first-token timeout"}
	case parent.Err() != nil:
		return &AttemptError{Kind: KindCancelled, Msg: "run cancelled in flight (" + context.Cause(parent).Error() + ")"}
	case errors.Is(cause, context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return &AttemptError{Kind: KindTimeout, Msg: "request timeout"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &AttemptError{Kind: KindRefused, Msg: msg}
	case strings.Contains(msg, "redirect") && strings.Contains(msg, "refused"):
		return &AttemptError{Kind: KindRedirect, Msg: msg}
	case streaming:
		return &AttemptError{Kind: KindCut, Msg: msg}
	}
	return &AttemptError{Kind: KindConnect, Msg: msg}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// chunk is the union of the streamed shapes read here.
type chunk struct {
	// OpenAI completions.
	Choices []struct {
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens *int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
	// sglang /generate.
	Text     *string `json:"text"`
	MetaInfo *struct {
		PromptTokens     int  `json:"prompt_tokens"`
		CompletionTokens int  `json:"completion_tokens"`
		CachedTokens     *int `json:"cached_tokens"`
	} `json:"meta_info"`
	// Either, on failure inside the stream.
	Error *struct {
		Message string          `json:"message"`
		Code    json.RawMessage `json:"code"`
	} `json:"error"`
}

// parseChunk reads one SSE payload into out and reports whether it carried
// an output token.
func (c *Client) parseChunk(p []byte, out *Response) (bool, error) {
	var ch chunk
	if err := json.Unmarshal(p, &ch); err != nil {
		return false, &AttemptError{Kind: KindProtocol, Msg: "chunk is not JSON: " + oneLine(string(p[:min(len(p), 120)]))}
	}
	if ch.Error != nil {
		return false, &AttemptError{Kind: KindRejected, Msg: c.cfg.Key.scrub(oneLine(ch.Error.Message))}
	}
	tok := false
	for _, x := range ch.Choices {
		if x.Text != "" {
			tok = true
		}
	}
	if u := ch.Usage; u != nil {
		out.PromptTokens, out.OutputTokens = u.PromptTokens, u.CompletionTokens
		if d := u.PromptTokensDetails; d != nil && d.CachedTokens != nil {
			out.CachedTokens, out.CachedKnown = *d.CachedTokens, true
		}
	}
	if m := ch.MetaInfo; m != nil {
		// sglang streams cumulative text and meta_info with every chunk.
		if ch.Text != nil && *ch.Text != "" || m.CompletionTokens > 0 {
			tok = true
		}
		out.PromptTokens, out.OutputTokens = m.PromptTokens, m.CompletionTokens
		if m.CachedTokens != nil {
			out.CachedTokens, out.CachedKnown = *m.CachedTokens, true
		}
	}
	return tok, nil
}

// Probe asks a worker whether it is up (GET /health, any 2xx).
func (c *Client) Probe(ctx context.Context, w Endpoint) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.join("/health"), nil)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return errors.New(c.cfg.Key.scrub(err.Error()))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("health: HTTP %d", resp.StatusCode)
	}
	return nil
}
