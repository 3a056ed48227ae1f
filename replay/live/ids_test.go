package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// stepRouter gives the router a clock of its own, one second per call,
// so that its periodic trims fall between the same requests in every run
// (the driver's clock is the wall clock).
type stepRouter struct {
	route.Router
	calls  time.Duration
	routed map[*trace.Request]time.Duration
}

func (s *stepRouter) tick() time.Duration { s.calls += time.Second; return s.calls }

func (s *stepRouter) Route(_ time.Duration, req *trace.Request) route.Decision {
	now := s.tick()
	s.routed[req] = now
	return s.Router.Route(now, req)
}

func (s *stepRouter) Complete(c route.Completion) error {
	c.Routed, c.Done = s.routed[c.Req], s.tick()
	delete(s.routed, c.Req)
	return s.Router.Complete(c)
}

// publisher makes a fake worker publish KV events to a mirror as a server
// with an LRU cache of capacity blocks (of 4 tokens) would: before serving a
// request, BlockStored for each of the prompt's blocks it lacks, then
// BlockRemoved for the least recently used blocks past its capacity. The
// events reach the mirror before the response, so at concurrency 1 the
// mirror is exact at every send.
type publisher struct {
	t        *testing.T
	m        *Mirror
	capacity int
	seq      uint64
	ids      map[string]int // block (its prefix's tokens) → hash
	used     []string       // cached blocks, least recently used first
}

func (p *publisher) fault(_ int64, _ http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		p.t.Error(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req struct {
		Prompt []uint32 `json:"prompt"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		p.t.Errorf("prompt: %v", err)
	}
	var parent any
	for i := 4; i <= len(req.Prompt); i += 4 {
		k := fmt.Sprint(req.Prompt[:i])
		h, ok := p.ids[k]
		if !ok {
			h = len(p.ids) + 1
			p.ids[k] = h
		}
		if j := slices.Index(p.used, k); j >= 0 {
			p.used = slices.Delete(p.used, j, j+1)
		} else {
			var tk []any
			for _, x := range req.Prompt[i-4 : i] {
				tk = append(tk, x)
			}
			p.seq++
			p.m.receive(storedMsg(p.t, p.seq, parent, []any{h}, tk, 4))
		}
		p.used = append(p.used, k)
		parent = h
	}
	for len(p.used) > p.capacity {
		p.seq++
		p.m.receive([][]byte{[]byte("kv@x@m"), seqFrame(p.seq), mp(p.t, []any{1.0, []any{[]any{"BlockRemoved", []any{p.ids[p.used[0]]}}}})})
		p.used = p.used[1:]
	}
	return false
}

// twinSource yields n requests of 3 blocks: a root shared by all, then two
// blocks of a pair j. Requests 4m and 4m+1 are pair 2m (twins: the second
// finds the first's blocks), 4m+2 pair 2m+1 and 4m+3 pair 2m−1 again (a
// return after three others: gone from a small server cache, perhaps
// still in the model).
func twinSource(n int) *threeSource {
	return &threeSource{n: n, name: "twins", blocks: func(k int) (a, b, c trace.BlockID) {
		j := k / 2
		if k%4 == 3 {
			j -= 2
		}
		return 0, trace.BlockID(1_000_000 + j), trace.BlockID(2_000_000 + j)
	}}
}

// TestModelIDsRecycledHolders: with a router that keeps routing-history
// trees (cache_aware, its trees trimmed at every call) and with the model
// corrected from KV-event mirrors, the model's block table still recycles
// dense ids (the router and the correction name theirs in the sweep), and
// every request goes to the same worker with the same model prediction as
// without recycling. Two workers, concurrency 1.
func TestModelIDsRecycledHolders(t *testing.T) {
	const n = 400
	run := func(kv bool, limit int) *Result {
		t.Helper()
		var eps []Endpoint
		var kve *KVEvents
		if kv {
			kve = &KVEvents{}
		}
		for i := range 2 {
			f := newFake()
			if kv {
				m := newMirror()
				m.accepted()
				kve.Mirrors = append(kve.Mirrors, m)
				kve.Endpoints = append(kve.Endpoints, KVEndpoint{Bind: true, Addr: fmt.Sprintf("tcp://127.0.0.1:%d", i+1)})
				f.fault = (&publisher{t: t, m: m, capacity: 3, ids: map[string]int{}}).fault
			}
			srv := httptest.NewServer(f)
			defer srv.Close()
			eps = append(eps, mustEndpoint(t, srv.URL))
		}
		var mu sync.Mutex
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		res, err := RunStream(ctx, twinSource(n), Config{Workers: eps, Router: "cache_aware:max_tree_size=64,eviction_interval_s=1,cache_threshold=0.4",
			Concurrency: 1, CacheBlocks: 8, Client: ClientConfig{Model: "m", Timeout: patience}, idLimit: limit,
			KVMirror: kve, recentFor: -1,
			wrapRouter: func(r route.Router) route.Router {
				mu.Lock()
				defer mu.Unlock()
				return &stepRouter{Router: r, routed: map[*trace.Request]time.Duration{}}
			}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Completed != n {
			t.Fatalf("%d of %d completed", res.Completed, n)
		}
		return res
	}
	for _, kv := range []bool{false, true} {
		t.Run(fmt.Sprint("kv=", kv), func(t *testing.T) {
			exact, rec := run(kv, -1), run(kv, 32)
			if exact.IDs != nil {
				t.Fatalf("exact run: recycling %+v", exact.IDs)
			}
			if rec.IDs == nil || rec.IDs.Sweeps == 0 || rec.IDs.Recycled == 0 {
				t.Fatalf("no ids recycled: %+v", rec.IDs)
			}
			if l := rec.Plan.Model.Blocks.Len(); l > 2*rec.IDs.Limit || 2*l > exact.Plan.Model.Blocks.Len() {
				t.Fatalf("%d dense ids under a limit of %d (exact: %d)", l, rec.IDs.Limit, exact.Plan.Model.Blocks.Len())
			}
			if kv {
				var removed int64
				var unsynced int
				for _, w := range rec.Workers {
					if w.Mirror == nil {
						t.Fatal("a worker without its mirror's figures")
					}
					removed += w.Mirror.Correction.RemovedBlocks
					unsynced += w.Mirror.Correction.Unsynced
				}
				if removed == 0 || unsynced > 2 {
					t.Fatalf("corrections: %d blocks removed, %d attempts unsynced; want some removed, at most the first on each worker unsynced", removed, unsynced)
				}
			}
			hits, moved := 0, 0
			for i := range exact.Records {
				a, b := exact.Records[i], rec.Records[i]
				if a.Worker != b.Worker || a.ModelCachedTokens != b.ModelCachedTokens || a.ModelEvicted != b.ModelEvicted {
					t.Fatalf("request %d: worker %d, model cached %d, evicted %d with recycled ids; %d, %d and %d without",
						i, b.Worker, b.ModelCachedTokens, b.ModelEvicted, a.Worker, a.ModelCachedTokens, a.ModelEvicted)
				}
				if a.ModelCachedTokens > 4 {
					hits++
				}
				if i > 0 && a.Worker != exact.Records[i-1].Worker {
					moved++
				}
			}
			if hits < n/5 || moved < 4 {
				t.Fatalf("%d requests hit past the root, %d changed worker: the test shows little", hits, moved)
			}
		})
	}
}

// correction.live names the ids the correction may still read: the blocks
// of requests completed in its last two periods and the chains of the
// attempts a restart may put back.
func TestCorrectionLive(t *testing.T) {
	var c correction
	now := time.Now()
	c.touched([]trace.BlockID{1, 2}, now, time.Second)
	c.touched([]trace.BlockID{3}, now.Add(time.Second), time.Second) // 1, 2 now older
	c.sent = []sentAttempt{{at: now, a: &attempt{pinned: []trace.BlockID{4, 5}}}}
	got := map[trace.BlockID]bool{}
	c.live(func(b trace.BlockID) { got[b] = true })
	for _, b := range []trace.BlockID{1, 2, 3, 4, 5} {
		if !got[b] {
			t.Errorf("block %d not named", b)
		}
	}
	if len(got) != 5 {
		t.Errorf("named %v; want 1 to 5", got)
	}
}
