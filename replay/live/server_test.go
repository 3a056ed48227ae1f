package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// simVersion is the pinned llm-d-inference-sim (.ci/live-sim).
const simVersion = "v0.10.2"

// simBinary finds llm-d-inference-sim: $KVSCOPE_LLMD_SIM, else where
// .ci/live-sim/build.sh caches it. It skips (fails in CI) when missing.
func simBinary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("KVSCOPE_LLMD_SIM")
	if p == "" {
		dir := os.Getenv("KVSCOPE_LLMD_SIM_CACHE")
		if dir == "" {
			home, _ := os.UserHomeDir()
			dir = filepath.Join(home, ".cache", "kvscope")
		}
		p = filepath.Join(dir, "llm-d-inference-sim-"+simVersion)
	}
	fi, err := os.Stat(p)
	testenv.Require(t, "llm-d-inference-sim "+simVersion+" at "+p+" (build it with .ci/live-sim/build.sh or set KVSCOPE_LLMD_SIM)",
		err == nil && fi.Mode()&0o111 != 0)
	return p
}

// simServer is one running llm-d-inference-sim.
type simServer struct {
	URL    string
	cmd    *exec.Cmd
	log    *bytes.Buffer // read only after exited is closed
	exited chan struct{} // closed once the process ended and its output is in log
	err    error         // the process's exit status, set before exited closes
	bin    string
	args   []string // how it was started (restartSim starts it again)
}

// Kill stops the server at once (SIGKILL), as a crash would, and waits
// until it ended.
func (s *simServer) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

type simOpts struct {
	cacheBlocks, blockSize int
	maxNumSeqs             int
	ttft, itl              time.Duration
	words                  bool
	// zmq, when set, gives server i the KV event endpoint zmq[i] to dial
	// (--zmq-endpoint), publishing each event at once (--event-batch-size 1).
	zmq []string
	// prefillPerToken, when set, makes the TTFT the uncached prompt
	// tokens × it (--prefill-time-per-token, with --time-to-first-token 0).
	prefillPerToken time.Duration
	// mapEvents publishes events as maps (--use-vllm-map-event-format).
	mapEvents bool
}

// freePort asks the kernel for a free 127.0.0.1 port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSim starts n servers on free ports and waits until they answer
// /health; they are killed when the test ends. The server binds every IPv4
// interface; the tests reach it through 127.0.0.1 only.
func startSim(t testing.TB, n int, o simOpts) []*simServer {
	t.Helper()
	bin := simBinary(t)
	if o.blockSize == 0 {
		o.blockSize = 16
	}
	if o.maxNumSeqs == 0 {
		o.maxNumSeqs = 16
	}
	var out []*simServer
	for i := range n {
		port := freePort(t)
		args := []string{
			"--port", strconv.Itoa(port), "--model", "kvscope-test-model",
			"--enable-kvcache", "--kv-cache-size", strconv.Itoa(o.cacheBlocks),
			"--block-size", strconv.Itoa(o.blockSize), "--max-model-len", "32768",
			"--max-num-seqs", strconv.Itoa(o.maxNumSeqs), "--force-dummy-tokenizer",
			"--seed", "1",
			"--time-to-first-token", o.ttft.String(), "--inter-token-latency", o.itl.String(),
		}
		if o.zmq != nil {
			args = append(args, "--zmq-endpoint", o.zmq[i], "--event-batch-size", "1")
			if o.prefillPerToken > 0 {
				args = append(args, "--prefill-time-per-token", o.prefillPerToken.String())
			}
			if o.mapEvents {
				args = append(args, "--use-vllm-map-event-format")
			}
		} else {
			args = append(args, "--zmq-endpoint", "")
		}
		out = append(out, launchSim(t, bin, args, fmt.Sprintf("http://127.0.0.1:%d", port)))
	}
	waitHealthy(t, out)
	return out
}

// launchSim starts one llm-d-inference-sim, killed when the test ends.
func launchSim(t testing.TB, bin string, args []string, url string) *simServer {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "POD_IP=127.0.0.1")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	s := &simServer{URL: url, cmd: cmd, log: &log, exited: make(chan struct{}), bin: bin, args: args}
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.Kill)
	return s
}

// restartSim starts a killed server again with the same flags (port, KV
// event endpoint) and waits until it answers /health.
func restartSim(t testing.TB, s *simServer) *simServer {
	t.Helper()
	n := launchSim(t, s.bin, s.args, s.URL)
	waitHealthy(t, []*simServer{n})
	return n
}

// waitHealthy polls /health until every server answers, with a deadline
// against a server that never comes up; one that exits first fails at
// once with its output (a port taken between freePort and its bind, for
// one).
func waitHealthy(t testing.TB, out []*simServer) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for _, s := range out {
		for {
			resp, err := http.Get(s.URL + "/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-s.exited:
				t.Fatalf("llm-d-inference-sim at %s exited before answering /health (%v):\n%s", s.URL, s.err, s.log.String())
			default:
			}
			if time.Now().After(deadline) {
				s.Kill()
				t.Fatalf("llm-d-inference-sim at %s not ready after %v: %v\n%s", s.URL, patience, err, s.log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func endpoints(t testing.TB, ss []*simServer) []Endpoint {
	t.Helper()
	var eps []Endpoint
	for _, s := range ss {
		ep, err := ParseEndpoint(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	return eps
}

// treeTrace builds an in-memory trace of n requests over a random prefix
// tree (block size bs, whole blocks, arrivals gap apart): each request
// extends a prefix of an earlier one (probability share) with fresh blocks.
func treeTrace(t testing.TB, seed uint64, n, minLen, maxLen, bs int, share float64, gap time.Duration) *trace.Trace {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 99))
	tr := &trace.Trace{Blocks: trace.NewTable(true), Info: trace.Info{Source: "test:tree", Format: trace.FormatNative, BlockSize: bs}}
	var chains [][]uint64
	next := uint64(1)
	for i := range n {
		var ch []uint64
		if len(chains) > 0 && r.Float64() < share {
			base := chains[r.IntN(len(chains))]
			ch = append(ch, base[:1+r.IntN(len(base))]...)
		}
		want := minLen + r.IntN(maxLen-minLen+1)
		for len(ch) < want {
			ch = append(ch, next)
			next++
		}
		if len(ch) > maxLen {
			ch = ch[:maxLen]
		}
		chains = append(chains, ch)
		blocks, err := tr.Blocks.Intern(nil, ch)
		if err != nil {
			t.Fatal(err)
		}
		tr.Requests = append(tr.Requests, trace.Request{Index: i, Source: fmt.Sprintf("tree[%d]", i),
			Arrival: time.Duration(i) * gap, Input: len(ch) * bs, Output: 2, Blocks: blocks,
			LastBlockTokens: bs, Session: -1, ID: int64(i), Parent: trace.NoParent})
	}
	return tr
}

func runLive(t testing.TB, tr *trace.Trace, eps []Endpoint, cfg Config) *Result {
	t.Helper()
	cfg.Workers = eps
	if cfg.Client.Model == "" {
		cfg.Client.Model = "kvscope-test-model"
	}
	if cfg.Client.Timeout == 0 {
		cfg.Client.FirstTokenTimeout, cfg.Client.StallTimeout, cfg.Client.Timeout = patience, patience, patience
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	res, err := Run(ctx, tr, tr.Requests, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Completed + res.Failed + res.TimedOut; got != res.Requests || res.Requests != len(tr.Requests) || res.Cancelled != 0 || res.Interrupted {
		t.Fatalf("accounting: %d completed + %d failed + %d timed out = %d (%d cancelled), requests %d of %d",
			res.Completed, res.Failed, res.TimedOut, got, res.Cancelled, res.Requests, len(tr.Requests))
	}
	return res
}

// With --concurrency 1 and a cache that never evicts, the cached tokens the
// server reports equal kvscope's prediction exactly: every server block seen
// in an earlier request × block size. Both prompt forms (token ids, words
// through the dummy tokenizer) are checked.
func TestRealServerNoEvictionExact(t *testing.T) {
	for _, words := range []bool{false, true} {
		t.Run(fmt.Sprintf("words=%v", words), func(t *testing.T) {
			srv := startSim(t, 1, simOpts{cacheBlocks: 100000})
			tr := treeTrace(t, 1, 80, 1, 24, 16, 0.8, 0)
			res := runLive(t, tr, endpoints(t, srv), Config{Router: "round_robin", Concurrency: 1, Client: ClientConfig{Words: words}})
			if res.Completed != len(tr.Requests) {
				t.Fatalf("%d of %d completed: %v", res.Completed, len(tr.Requests), res.FailReasons)
			}
			seen := map[trace.BlockID]bool{}
			evicting := 0
			for i, rec := range res.Records {
				want := 0
				for _, b := range res.Plan.Model.Requests[i].Blocks {
					if seen[b] {
						want += 16
					}
					seen[b] = true
				}
				if !rec.CachedKnown || rec.CachedTokens != want || rec.ModelCachedTokens != want || rec.PromptTokens != rec.SentTokens {
					t.Errorf("request %d: server cached %d (known %v), model %d, expected %d; prompt %d of %d sent",
						i, rec.CachedTokens, rec.CachedKnown, rec.ModelCachedTokens, want, rec.PromptTokens, rec.SentTokens)
				}
				if rec.ModelEvicted > 0 {
					evicting++
				}
			}
			if evicting > 0 {
				t.Fatalf("%d requests evicted in a cache meant never to evict", evicting)
			}
			w := res.Workers[0]
			if w.CachedTokens == 0 || w.CachedTokens != w.ModelCachedTokens {
				t.Fatalf("worker: cached %d, model %d", w.CachedTokens, w.ModelCachedTokens)
			}
			t.Logf("%d requests, %d prompt tokens, %d cached: exact", res.Completed, w.PromptTokens, w.CachedTokens)
		})
	}
}

// tieRef replays a concurrency-1 sequence through the server's cache rule
// (flat: any unreferenced block may go; cached = every present prompt block)
// with server_lru's tie order (deepest block of the oldest time, then the
// smallest id), and tracks where the tie order mattered: an eviction episode
// that took part of a group of blocks of equal time ("split"); the members
// of split groups are "tie-affected" until restamped (the server, choosing
// in map order, may hold other members of the group than the model).
type tieRef struct {
	max      int
	unused   map[trace.BlockID]uint64
	depth    map[trace.BlockID]int
	clock    uint64
	affected map[trace.BlockID]bool
	splits   int
}

func newTieRef(max int) *tieRef {
	return &tieRef{max: max, unused: map[trace.BlockID]uint64{}, depth: map[trace.BlockID]int{}, affected: map[trace.BlockID]bool{}}
}

// serve returns the cached blocks and whether the chain holds a
// tie-affected block.
func (r *tieRef) serve(chain []trace.BlockID) (cached int, affected bool) {
	for i, b := range chain {
		r.depth[b] = i + 1
		if _, ok := r.unused[b]; ok {
			cached++
		}
		if r.affected[b] {
			affected = true
		}
	}
	used := map[trace.BlockID]bool{}
	for _, b := range chain {
		if _, ok := r.unused[b]; ok {
			delete(r.unused, b)
			used[b] = true
		}
	}
	victimTimes := map[uint64]bool{}
	for _, b := range chain {
		if used[b] {
			continue
		}
		used[b] = true
		if len(used)+len(r.unused) > r.max {
			var oldest uint64 = ^uint64(0)
			var best trace.BlockID
			for k, t := range r.unused {
				if t < oldest || t == oldest && (r.depth[k] > r.depth[best] || r.depth[k] == r.depth[best] && k < best) {
					oldest, best = t, k
				}
			}
			delete(r.unused, best)
			r.affected[best] = true
			victimTimes[oldest] = true
		}
	}
	split := map[uint64]bool{}
	for k, t := range r.unused {
		if victimTimes[t] {
			r.affected[k] = true
			split[t] = true
		}
	}
	r.splits += len(split)
	r.clock++
	for _, b := range chain {
		r.unused[b] = r.clock
		delete(r.affected, b) // present on both sides now, and restamped
	}
	return cached, affected
}

// With --concurrency 1 and a small cache (at least 30% of the requests
// evict), the server's cached tokens are compared per request with
// server_lru's prediction (the driver's model of the worker). Before the
// first eviction that splits a group of equal time the two caches are the
// same, so every difference must come after one; the test logs the
// agreement and, per difference, whether the request holds a tie-affected
// block.
func TestRealServerEvictionServerLRU(t *testing.T) {
	const capacity = 64
	srv := startSim(t, 1, simOpts{cacheBlocks: capacity})
	tr := treeTrace(t, 7, 200, 2, 20, 16, 0.75, 0)
	res := runLive(t, tr, endpoints(t, srv), Config{Router: "round_robin", Concurrency: 1})
	if res.Completed != len(tr.Requests) {
		t.Fatalf("%d of %d completed: %v", res.Completed, len(tr.Requests), res.FailReasons)
	}
	ref := newTieRef(capacity)
	evicting, agree, withTie, firstSplit := 0, 0, 0, -1
	var cachedSrv, cachedModel int64
	for i, rec := range res.Records {
		chain := res.Plan.Model.Requests[i].Blocks
		refCached, affected := ref.serve(chain)
		if ref.splits > 0 && firstSplit < 0 {
			firstSplit = i
		}
		if refCached*16 != rec.ModelCachedTokens {
			t.Fatalf("request %d: the flat reference with server_lru's ties predicts %d cached tokens, the driver's model %d",
				i, refCached*16, rec.ModelCachedTokens)
		}
		if rec.ModelEvicted > 0 {
			evicting++
		}
		cachedSrv += int64(rec.CachedTokens)
		cachedModel += int64(rec.ModelCachedTokens)
		if rec.CachedTokens == rec.ModelCachedTokens {
			agree++
			continue
		}
		if affected {
			withTie++
		}
		if firstSplit < 0 || i <= firstSplit {
			t.Errorf("request %d: server %d cached tokens, server_lru %d, before any tie split an equal-time group",
				i, rec.CachedTokens, rec.ModelCachedTokens)
		}
		t.Logf("request %d (%d blocks): server %d cached tokens, server_lru %d, tie-affected block in chain: %v",
			i, len(chain), rec.CachedTokens, rec.ModelCachedTokens, affected)
	}
	n := len(res.Records)
	if evicting*10 < 3*n {
		t.Fatalf("only %d of %d requests evicted: want at least 30%%", evicting, n)
	}
	t.Logf("agreement: %d of %d requests (%.1f%%) equal; %d evicting (%.0f%%); %d splits of equal-time groups (first at request %d); "+
		"%d of %d differences hold a tie-affected block; cached tokens server %d, model %d (%.2f%%)",
		agree, n, 100*float64(agree)/float64(n), evicting, 100*float64(evicting)/float64(n), ref.splits, firstSplit,
		withTie, n-agree, cachedSrv, cachedModel, 100*float64(cachedModel-cachedSrv)/float64(max(cachedSrv, 1)))
	if agree*10 < 8*n {
		t.Fatalf("agreement %d of %d: below 80%%", agree, n)
	}
}

// Four workers under each registered router: per worker, the hit ratio
// from the responses (Σ cached / Σ prompt tokens) equals the one from
// /metrics (Δ vllm:prefix_cache_hits / Δ vllm:prefix_cache_queries). The
// server computes both from one counter: this checks kvscope's plumbing
// (request records, scraping with expfmt, baselines), not the server.
func TestRealServerFourWorkersEveryRouter(t *testing.T) {
	srv := startSim(t, 4, simOpts{cacheBlocks: 256, ttft: 2 * time.Millisecond, itl: time.Millisecond})
	eps := endpoints(t, srv)
	tr := treeTrace(t, 3, 120, 2, 16, 16, 0.8, 2*time.Millisecond)
	for _, router := range route.Names() {
		t.Run(router, func(t *testing.T) {
			res := runLive(t, tr, eps, Config{Router: router, Concurrency: 8, ScrapeInterval: 50 * time.Millisecond})
			if res.Completed != res.Requests {
				t.Fatalf("%d of %d completed: %v", res.Completed, res.Requests, res.FailReasons)
			}
			used := 0
			for _, w := range res.Workers {
				if !w.HasMetrics {
					t.Fatalf("worker %d: no /metrics counters", w.Worker)
				}
				if w.Completed > 0 {
					used++
				}
				if float64(w.PromptTokens) != w.MetricsQueried || float64(w.CachedTokens) != w.MetricsHit {
					t.Errorf("worker %d: responses %d cached / %d prompt tokens, /metrics %g / %g",
						w.Worker, w.CachedTokens, w.PromptTokens, w.MetricsHit, w.MetricsQueried)
				}
			}
			if used == 0 {
				t.Fatal("no worker served anything")
			}
			t.Logf("%s: hit ratios %s, %d workers used", res.Router, hitRatios(res), used)
		})
	}
}

func hitRatios(res *Result) string {
	s := ""
	for _, w := range res.Workers {
		s += fmt.Sprintf(" %.3f/%.3f", w.HitRatio, w.MetricsHitRatio)
	}
	return s
}

// A worker killed mid-run: every request is still accounted for (completed,
// failed with a reason, or timed out), the killed worker leaves routing, and
// the report says what failed.
func TestRealServerWorkerKilled(t *testing.T) {
	srv := startSim(t, 3, simOpts{cacheBlocks: 512, ttft: 20 * time.Millisecond, itl: 10 * time.Millisecond})
	tr := treeTrace(t, 5, 90, 2, 10, 16, 0.6, 5*time.Millisecond)
	for i := range tr.Requests {
		tr.Requests[i].Output = 6
	}
	updates := make(chan Update, 16)
	var res *Result
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		cfg := Config{Workers: endpoints(t, srv), Router: "round_robin", Concurrency: 6, Retries: 0,
			ProbeInterval: 100 * time.Millisecond, Updates: updates, SnapshotEvery: 50 * time.Millisecond,
			Client: ClientConfig{Model: "kvscope-test-model", FirstTokenTimeout: patience, StallTimeout: patience, Timeout: patience}}
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		res, err = Run(ctx, tr, tr.Requests, cfg)
	}()
	records, snaps, killedAt := 0, 0, -1
loop:
	for {
		select {
		case u := <-updates:
			if u.Record != nil {
				records++
				if records == 20 {
					srv[1].Kill()
					killedAt = records
				}
			} else {
				snaps++
			}
		case <-done:
			break loop
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if snaps == 0 {
		t.Fatal("no snapshot streamed")
	}
	if records != res.Requests {
		t.Fatalf("streamed %d records for %d requests", records, res.Requests)
	}
	if got := res.Completed + res.Failed + res.TimedOut; got != res.Requests || res.Cancelled != 0 {
		t.Fatalf("%d + %d + %d != %d (%d cancelled)", res.Completed, res.Failed, res.TimedOut, res.Requests, res.Cancelled)
	}
	w1 := res.Workers[1]
	if w1.Downs == 0 || w1.Healthy {
		t.Fatalf("killed worker: downs %d, healthy at end %v", w1.Downs, w1.Healthy)
	}
	if res.Failed+res.TimedOut == 0 || len(w1.Failures) == 0 {
		t.Fatalf("killed at record %d, yet nothing failed: %+v", killedAt, res.FailReasons)
	}
	for _, rec := range res.Records {
		if rec.Status != Completed && rec.Reason == "" {
			t.Fatalf("request %d %s without a reason", rec.Index, rec.Status)
		}
	}
	// After the worker is marked down, the router's choices of it go
	// elsewhere: later requests complete on workers 0 and 2.
	late := res.Records[len(res.Records)-10:]
	for _, rec := range late {
		if rec.Status != Completed || rec.Worker == 1 {
			t.Fatalf("late request %d: %s on worker %d (%s)", rec.Index, rec.Status, rec.Worker, rec.Reason)
		}
	}
	// What the report renders (analysis.LiveReport, tested there on a
	// hand-built result) comes from the result: it must name the failures,
	// the worker and the reason.
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"failed"`, srv[1].URL, string(reasonKind(firstFailure(res)))} {
		if !strings.Contains(string(js), want) {
			t.Fatalf("result lacks %q:\n%s", want, js)
		}
	}
	t.Logf("killed after %d records: %d completed, %d failed, %d timed out (%v); %d snapshots", killedAt, res.Completed, res.Failed, res.TimedOut, res.FailReasons, snaps)
}

func firstFailure(res *Result) Record {
	for _, r := range res.Records {
		if r.Status != Completed {
			return r
		}
	}
	return Record{}
}

// A request larger than the server's cache fails with the server's
// capacity error (sent inside a 200 stream), is not retried (there is no
// other worker to try), and kvscope's model predicted that it would not fit.
func TestRealServerCapacityError(t *testing.T) {
	srv := startSim(t, 1, simOpts{cacheBlocks: 8})
	tr := treeTraceChains(t, 16, [][]uint64{{1, 2, 3, 4}, {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, {1, 2, 30}})
	res := runLive(t, tr, endpoints(t, srv), Config{Router: "round_robin", Concurrency: 1, Retries: 2})
	r := res.Records[1]
	if r.Status != Failed || r.Attempts != 1 || !strings.Contains(r.Reason, "capacity") || r.ModelFits {
		t.Fatalf("oversize request: %+v", r)
	}
	if res.Completed != 2 || res.Records[2].CachedTokens != 32 || res.Records[2].ModelCachedTokens != 32 {
		t.Fatalf("others: %d completed, request 2 cached %d (model %d)", res.Completed, res.Records[2].CachedTokens, res.Records[2].ModelCachedTokens)
	}
}

// treeTraceChains builds a trace from explicit id chains, arrivals at 0.
func treeTraceChains(t testing.TB, bs int, chains [][]uint64) *trace.Trace {
	t.Helper()
	tr := &trace.Trace{Blocks: trace.NewTable(true), Info: trace.Info{Source: "test:chains", Format: trace.FormatNative, BlockSize: bs}}
	for i, ch := range chains {
		blocks, err := tr.Blocks.Intern(nil, ch)
		if err != nil {
			t.Fatal(err)
		}
		tr.Requests = append(tr.Requests, trace.Request{Index: i, Input: len(ch) * bs, Output: 2, Blocks: blocks,
			LastBlockTokens: bs, Session: -1, ID: int64(i), Parent: trace.NoParent})
	}
	return tr
}
