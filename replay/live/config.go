package live

import (
	"time"

	"github.com/kvscope/kvscope/replay/route"
)

// Config is everything that decides a live run besides the trace.
type Config struct {
	Workers []Endpoint
	Client  ClientConfig
	// Router is a route spec ("cache_aware", "llmd:precise=true", …).
	Router string
	// Seed feeds the router's stream (random, p2c, dynamo with a
	// temperature, llmd's exact score ties).
	Seed uint64
	// TimeScale multiplies the trace's arrival times (1 = as recorded;
	// 0.1 = ten times faster).
	TimeScale float64
	// Concurrency caps the requests in flight (≥ 1); arrivals beyond it wait
	// in the driver, FIFO.
	Concurrency int
	// Adaptive lowers the cap below Concurrency as servers push back
	// (AIMD: halved on a 429 or a stall, raised by one after as many
	// successes as the cap), which keeps an overloaded fleet out of a
	// stall-and-retry storm.
	Adaptive bool
	// Duration stops sending after this long (0: no limit); requests in
	// flight finish, those not sent end Cancelled ("not sent").
	Duration time.Duration
	// Retries is how many more attempts a request gets after a retryable
	// failure; Backoff the wait before the first retry (doubling, at most
	// 16×).
	Retries int
	Backoff time.Duration
	// BreakerFailures is how many consecutive failed attempts (5xx,
	// stalls, timeouts, cut streams, connection errors) open a worker's
	// circuit breaker (default 3).
	BreakerFailures int
	// ProbeInterval is how often an unhealthy worker is probed (GET
	// /health); ScrapeInterval how often /metrics is read during the run
	// (queue lengths and usage for llmd, snapshots).
	ProbeInterval, ScrapeInterval time.Duration
	// CacheBlocks is each worker's cache size in server blocks; 0 reads
	// vLLM's vllm:cache_config_info from /metrics.
	CacheBlocks int
	// ServerBlockSize is the workers' tokens per block; 0 reads it from
	// /metrics, else 16 for the OpenAI API and 1 (sglang's token pool)
	// for sglang.
	ServerBlockSize int
	// ModelEvict is the eviction policy of kvscope's model of each worker's
	// cache (default server_lru for OpenAI workers, lru for sglang).
	ModelEvict string
	// KVEvents, one per worker in worker order, subscribes to the workers'
	// KV cache events (kvevents.go) and keeps a mirror of each worker's
	// cache: records get its prediction, precise routers read it.
	// KVMirror is an already open subscription to use instead (the
	// caller closes it).
	KVEvents []KVEndpoint
	KVMirror *KVEvents
	// NoModelCorrection keeps kvscope's model of each worker uncorrected
	// by the mirrors (doc.go, "Correcting the model"): for comparisons.
	NoModelCorrection bool
	// KVConnectWait bounds the wait, before the first request, for every
	// worker's publisher to connect (default 3 s: llm-d-inference-sim
	// redials every second); the run starts anyway after it, and the
	// result says which were late.
	KVConnectWait time.Duration
	// KeepPlan keeps every request the run reached in the Result's Plan
	// (Requests and Model.Requests), which Result.SentWorkload needs (a
	// comparison simulation, the explorer's export): memory then grows
	// with the requests sent. Without it a streamed run (RunStream) holds
	// only the requests in flight. Run (a loaded trace) always keeps them.
	KeepPlan bool
	// Expect is what a first pass over a streamed trace counted
	// (RunStream): the requests to replay and the last one's arrival
	// (trace time), for progress and its ETA, and so that the requests a
	// run stopped early never reached are counted without reading the
	// rest. Zero: unknown (progress counts the requests read so far, and
	// the rest of the trace is read, counted and dropped when the run
	// stops early).
	Expect Expect
	// Updates, if set, receives a Record per finished request (sent
	// blocking: the consumer must keep up) and a Snapshot every
	// SnapshotEvery (dropped when the channel is full). The driver never
	// closes it.
	Updates       chan<- Update
	SnapshotEvery time.Duration

	// settleFor bounds the wait for the workers' /metrics counters to stop
	// moving after the run, all workers together; settleEvery is the pause
	// between two readings (tests shorten them).
	settleFor, settleEvery time.Duration
	// wrapRouter, when set, wraps the router (tests: one that panics).
	wrapRouter func(route.Router) route.Router
	// heldHook, when set, is called with the number of requests the
	// driver holds (reached, not finished) after each read from the
	// source and once after the run (tests: the driver holds what is in
	// flight, not the trace).
	heldHook func(held int)
	// idLimit, when set, replaces the model table's starting id limit
	// (ids.go; tests: small); -1 turns recycling off.
	idLimit int
	// recentFor overrides how long a completed request's blocks are
	// protected from the mirror's corrections (correct.go; 0: the
	// default; negative: not at all, for tests that feed the events).
	recentFor time.Duration
}

// Expect is a streamed trace's size, counted before the run.
type Expect struct {
	Requests    int
	LastArrival time.Duration
}

func (c *Config) defaults() {
	if c.TimeScale <= 0 {
		c.TimeScale = 1
	}
	if c.Concurrency < 1 {
		c.Concurrency = 1
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = 3
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 500 * time.Millisecond
	}
	if c.ScrapeInterval <= 0 {
		c.ScrapeInterval = time.Second
	}
	if c.KVConnectWait <= 0 {
		c.KVConnectWait = 3 * time.Second
	}
	if c.recentFor == 0 {
		c.recentFor = recentFor
	}
	if c.SnapshotEvery <= 0 {
		c.SnapshotEvery = time.Second
	}
	if c.settleFor <= 0 {
		c.settleFor = 3 * time.Second
	}
	if c.settleEvery <= 0 {
		c.settleEvery = 100 * time.Millisecond
	}
	if c.Client.API == "" {
		c.Client.API = OpenAI
	}
	if c.ModelEvict == "" {
		c.ModelEvict = defaultsOf(c.Client.API).modelEvict
	}
}

// apiDefault is what a worker protocol implies where the configuration
// leaves it open.
type apiDefault struct {
	// blockSize is the server's tokens per block when /metrics does not
	// say (sglang's token pool: 1).
	blockSize int
	// modelEvict is the registered policy (evict) of kvscope's model of the
	// server's cache: server_lru is llm-d-inference-sim's and vLLM's rule,
	// lru sglang's RadixCache.
	modelEvict string
}

var apiDefaults = map[API]apiDefault{
	OpenAI: {blockSize: 16, modelEvict: "server_lru"},
	SGLang: {blockSize: 1, modelEvict: "lru"},
}

// defaultsOf returns api's defaults; another API gets OpenAI's (the
// client speaks the OpenAI protocol to every API but sglang).
func defaultsOf(api API) apiDefault {
	if d, ok := apiDefaults[api]; ok {
		return d
	}
	return apiDefaults[OpenAI]
}
