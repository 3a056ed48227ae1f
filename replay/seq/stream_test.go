package seq_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/seq"
	"github.com/kvscope/kvscope/replay/trace"
)

// forestTrace writes a native trace of n requests whose chains are
// root-to-node paths of a random forest of blocks (original ids spread
// out so some take the table's map), block size 4, a few tail tokens
// past the last block, outputs of 0–5 tokens.
func forestTrace(seed uint64, n, blocks int) string {
	r := rand.New(rand.NewPCG(seed, 1))
	parent := make([]int, blocks)
	for i := range parent {
		parent[i] = -1
		if i > 0 && r.IntN(5) != 0 {
			parent[i] = r.IntN(i)
		}
	}
	var b strings.Builder
	b.WriteString(`{"format":"kvscope-trace","version":1,"block_size":4}` + "\n")
	for k := range n {
		var path []string
		for x := r.IntN(blocks); x >= 0; x = parent[x] {
			id := uint64(x)
			if x%7 == 3 {
				id = uint64(x)<<40 | 5 // a hash-like id
			}
			path = append([]string{fmt.Sprint(id)}, path...)
		}
		input := 4*len(path) + r.IntN(4) // tail tokens past the last block
		fmt.Fprintf(&b, `{"arrival_s":%d,"input":%d,"output":%d,"blocks":[%s]}`+"\n", k, input, r.IntN(6), strings.Join(path, ","))
	}
	return b.String()
}

func streamRun(t *testing.T, data string, cfg seq.Config, limit int) *seq.Result {
	t.Helper()
	s, err := trace.OpenReader("forest", strings.NewReader(data), trace.ReadOptions{KeepIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := seq.RunStream(s, cfg, limit)
	if err != nil {
		t.Fatalf("%s: %v", cfg.Evict.Name, err)
	}
	return res
}

func asJSON(t *testing.T, res *seq.Result) string {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// streamPolicies is every online policy of the registry (a new one is
// checked by the tests below, its IDFree claim included).
var streamPolicies = func() []string {
	var out []string
	for _, n := range evict.Names() {
		if info, _ := evict.Lookup(n); !info.Offline {
			out = append(out, n)
		}
	}
	return out
}()

// Below the id limit a streamed replay is Run's, byte for byte.
func TestStreamEqualsRunUnderLimit(t *testing.T) {
	data := forestTrace(1, 600, 400)
	tr, err := trace.LoadBytes("forest", []byte(data), trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range streamPolicies {
		for _, rt := range []string{"round_robin", "random", "consistent_hash"} {
			cfg := seq.Config{Workers: 3, Router: spec(rt), Evict: spec(ev), Unit: kvcache.Blocks, Capacity: 40, Seed: 5, Oversize: "bypass"}
			want, err := seq.Run(tr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var seen []seq.Outcome
			cfg.OnRequest = func(o seq.Outcome) { seen = append(seen, o) }
			got := streamRun(t, data, cfg, 0)
			if got.IDs != nil {
				t.Fatalf("%s+%s: recycled under the limit: %+v", rt, ev, got.IDs)
			}
			if a, b := asJSON(t, want), asJSON(t, got); a != b {
				t.Fatalf("%s+%s: streamed\n%s\nwhole\n%s", rt, ev, b, a)
			}
			if len(seen) != len(tr.Requests) || seen[len(seen)-1].Index != len(seen)-1 {
				t.Fatalf("%s+%s: %d outcomes", rt, ev, len(seen))
			}
		}
	}
}

// A tiny id limit forces many sweeps. Policies that never break a tie by
// dense id (stamps, insertion numbers and depths are unique among leaves)
// must give exactly the exact table's results, which checks that a
// recycled id carries no stale state in kvcache or the policy and that
// s3fifo's ghost ids survive sweeps; the others (uniform draws over leaves
// in id order) must be deterministic and account for every request.
func TestStreamRecyclesIDs(t *testing.T) {
	data := forestTrace(2, 1500, 3000)
	for _, ev := range streamPolicies {
		info, _ := evict.Lookup(ev)
		for _, rt := range []string{"round_robin", "consistent_hash"} {
			cfg := seq.Config{Workers: 2, Router: spec(rt), Evict: spec(ev), Unit: kvcache.Tokens, Capacity: 60, Seed: 9, Oversize: "fail"}
			exact := streamRun(t, data, cfg, -1)
			got := streamRun(t, data, cfg, 50)
			again := streamRun(t, data, cfg, 50)
			r := got.Recycling
			if r == nil || r.Recycled == 0 || r.Sweeps < 10 || r.Note != seq.RecycledNote {
				t.Fatalf("%s+%s: no recycling: %+v", rt, ev, r)
			}
			// Reported exactly when the policy's choices could differ.
			if (got.IDs != nil) == info.IDFree || (got.IDs != nil && got.IDs != r) {
				t.Fatalf("%s+%s (IDFree %v): reported %+v", rt, ev, info.IDFree, got.IDs)
			}
			// The limit stays small: what is live is two caches of at
			// most 60 one-token blocks and their ancestors.
			if r.Limit > 1000 {
				t.Fatalf("%s+%s: limit grew to %d", rt, ev, r.Limit)
			}
			if a, b := asJSON(t, got), asJSON(t, again); a != b {
				t.Fatalf("%s+%s: not deterministic", rt, ev)
			}
			if exact.IDs != nil || exact.Recycling != nil {
				t.Fatalf("exact run recycled")
			}
			st := got.Stats
			if st.Requests != 1500 || st.Completed+st.Failed.Count != st.Requests || st.HitBlocks > st.InputBlocks ||
				st.HitTokens > st.InputTokens || st.Evicted == 0 {
				t.Fatalf("%s+%s: accounting %+v", rt, ev, st)
			}
			// An IDFree policy's report is the exact one, byte for byte.
			if info.IDFree {
				if a, b := asJSON(t, exact), asJSON(t, got); a != b {
					t.Fatalf("%s+%s: recycled\n%s\nexact\n%s", rt, ev, b, a)
				}
			}
		}
	}
}

// An id limit far past anything the trace needs (--id-limit by hand) is
// an exact replay; it must not size per-id arrays by the limit (2^40 ids
// was a fatal out-of-memory).
func TestStreamHugeLimit(t *testing.T) {
	data := forestTrace(6, 50, 40)
	cfg := seq.Config{Workers: 2, Router: spec("round_robin"), Evict: spec("lru"), Unit: kvcache.Blocks, Capacity: 20, Seed: 3, Oversize: "bypass"}
	if a, b := asJSON(t, streamRun(t, data, cfg, -1)), asJSON(t, streamRun(t, data, cfg, 1<<40)); a != b {
		t.Fatalf("limit 2^40\n%s\nexact\n%s", b, a)
	}
}

func TestStreamRefusesWholeSequenceWork(t *testing.T) {
	data := forestTrace(3, 10, 10)
	for _, cfg := range []seq.Config{
		{Workers: 1, Router: spec("round_robin"), Evict: spec("lru"), Capacity: 10, VsOpt: true},
		{Workers: 1, Router: spec("round_robin"), Evict: spec("opt"), Capacity: 10},
	} {
		if seq.CanStream(cfg) {
			t.Fatalf("CanStream(%+v)", cfg)
		}
		s, _ := trace.OpenReader("forest", strings.NewReader(data), trace.ReadOptions{})
		if _, err := seq.RunStream(s, cfg, 0); err == nil {
			t.Fatal("no error")
		}
	}
}

// A bad record ends a streamed replay with the reader's error, as an
// *InputError; oversize=error counts every oversize request first.
func TestStreamErrors(t *testing.T) {
	data := forestTrace(4, 20, 10) + `{"arrival_s":99,"input":-1,"output":1,"blocks":[]}` + "\n"
	s, _ := trace.OpenReader("forest", strings.NewReader(data), trace.ReadOptions{})
	_, err := seq.RunStream(s, seq.Config{Workers: 1, Router: spec("round_robin"), Evict: spec("lru"), Capacity: 100}, 0)
	var ie *seq.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "forest:22: input") {
		t.Fatalf("got %v", err)
	}
	data = forestTrace(5, 200, 300)
	tr, _ := trace.LoadBytes("forest", []byte(data), trace.ReadOptions{})
	cfg := seq.Config{Workers: 2, Router: spec("round_robin"), Evict: spec("lru"), Capacity: 3}
	_, want := seq.Run(tr, cfg)
	s, _ = trace.OpenReader("forest", strings.NewReader(data), trace.ReadOptions{})
	_, err = seq.RunStream(s, cfg, 0)
	var oe *seq.OversizeError
	if !errors.As(want, &oe) || err == nil || err.Error() != want.Error() {
		t.Fatalf("streamed %v, whole %v", err, want)
	}
}
