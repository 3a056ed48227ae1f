package evict_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// TestLocalSlotsMatchGlobal drives two caches per policy that may use
// local slots (Info.LocalSlots: IDFree, or TraceOrder as rlt and
// random_leaf, each cache with its own copy of one random stream) in
// lockstep with the same random operations (hit-only requests and timed
// requests interleaved: start, commit, prefill end, completion, forget),
// one numbering blocks by trace id and one by local slot (Config.
// LocalSlots; s3fifo's ghosts keep their slots), and requires the same
// hits, victims, evictions and state (rlt's marks, phases and rule
// counts included) after every step; the trace keeps bringing new ids
// (far more than the capacity), and the local cache's arrays stay within
// its capacity.
func TestLocalSlotsMatchGlobal(t *testing.T) {
	for _, name := range evict.Names() {
		in, err := evict.Lookup(name)
		if err != nil || !in.LocalSlots() {
			continue
		}
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= 24; seed++ {
				r := rand.New(rand.NewPCG(seed, 5))
				bs := []int{1, 4, 16}[seed%3]
				unit := kvcache.Blocks
				if seed%2 == 0 {
					unit = kvcache.Tokens
				}
				reqs := randomTrace(r, 400, 600, 8, bs, 2*bs)
				capacity := int64(6 + r.IntN(30))
				if unit == kvcache.Tokens {
					capacity *= int64(bs)
				}
				lockstep(t, name, unit, capacity, bs, reqs, r, seed)
			}
		})
	}
}

func lockstep(t *testing.T, name string, unit kvcache.Unit, capacity int64, bs int, reqs []trace.Request, r *rand.Rand, seed uint64) {
	t.Helper()
	var caches [2]*kvcache.Cache
	var pols [2]*recorder
	for i := range caches {
		p, _, err := evict.New(mustSpec(t, name), evict.Env{Unit: unit, Capacity: capacity, Rand: rand.New(rand.NewPCG(seed, 7))})
		if err != nil {
			t.Fatal(err)
		}
		pols[i] = &recorder{Policy: p}
		var pol kvcache.Policy = pols[i]
		if _, ok := p.(kvcache.Retainer); ok {
			pol = retaining{pols[i]}
		}
		caches[i], err = kvcache.New(kvcache.Config{Unit: unit, Capacity: capacity, BlockSize: bs, LocalSlots: i == 1}, pol)
		if err != nil {
			t.Fatal(err)
		}
	}
	fail := func(step int, format string, a ...any) {
		t.Helper()
		t.Fatalf("%s %s B=%d seed %d step %d: %s", name, unit, capacity, seed, step, fmt.Sprintf(format, a...))
	}
	type flight struct {
		r     *trace.Request
		next  int
		allow int64
		ended bool
	}
	_, retains := caches[0].Policy().(kvcache.Retainer)
	var running []*flight
	maxID := trace.BlockID(0)
	ri := 0
	for step := 0; ri < len(reqs) || len(running) > 0; step++ {
		op := r.IntN(5)
		if ri == len(reqs) && op < 2 {
			op = 2
		}
		// out[i] collects what cache i answers; the two must agree.
		var out [2][]int64
		do := func(f func(c *kvcache.Cache) []int64) {
			for i, c := range caches {
				out[i] = append(out[i], f(c)...)
			}
		}
		switch {
		case op == 0: // hit-only request
			rq := &reqs[ri]
			ri++
			if caches[0].Footprint(rq)+caches[0].PinnedWeight()+caches[0].Reserved() > capacity {
				continue
			}
			do(func(c *kvcache.Cache) []int64 {
				hb, ht, err := c.HitOnly(rq)
				if err != nil {
					fail(step, "hit-only: %v", err)
				}
				return []int64{int64(hb), int64(ht)}
			})
		case op == 1: // prefill start
			rq := &reqs[ri]
			ri++
			var h int
			var miss, allow, short int64
			do(func(c *kvcache.Cache) []int64 {
				h = c.Match(rq.Blocks)
				if err := c.Pin(rq.Blocks[:h]); err != nil {
					fail(step, "pin: %v", err)
				}
				c.Access(rq.Blocks[:h], kvcache.PrefillStart)
				miss = 0
				for i := h; i < len(rq.Blocks); i++ {
					miss += c.ReqWeight(rq, i)
				}
				allow = c.Allowance(rq.TailTokens(bs)) + c.Allowance(rq.Output)
				var err error
				if short, err = c.MakeRoom(miss + allow); err != nil {
					fail(step, "make room: %v", err)
				}
				if short > 0 {
					if err := c.Unpin(rq.Blocks[:h]); err != nil {
						fail(step, "unpin: %v", err)
					}
				} else if err := c.Reserve(miss + allow); err != nil {
					fail(step, "reserve: %v", err)
				}
				return []int64{int64(h), short}
			})
			if short == 0 {
				running = append(running, &flight{r: rq, next: h, allow: allow})
			}
		case len(running) > 0:
			k := r.IntN(len(running))
			f := running[k]
			rq := f.r
			switch {
			case f.next < len(rq.Blocks):
				parent := kvcache.NoBlock
				if f.next > 0 {
					parent = rq.Blocks[f.next-1]
				}
				do(func(c *kvcache.Cache) []int64 {
					dup, err := c.Commit(parent, rq.Blocks[f.next], c.ReqWeight(rq, f.next))
					if err != nil {
						fail(step, "commit: %v", err)
					}
					if dup {
						return []int64{1}
					}
					return []int64{0}
				})
				f.next++
			case !f.ended:
				do(func(c *kvcache.Cache) []int64 { c.Access(rq.Blocks, kvcache.PrefillEnd); return nil })
				f.ended = true
			default:
				forget := op == 4 // as a failed remote request: drop what it added
				do(func(c *kvcache.Cache) []int64 {
					c.Access(rq.Blocks, kvcache.Complete)
					if err := c.Unpin(rq.Blocks); err != nil {
						fail(step, "unpin: %v", err)
					}
					if err := c.Release(f.allow); err != nil {
						fail(step, "release: %v", err)
					}
					if forget {
						return []int64{c.Forget(rq.Blocks)}
					}
					return nil
				})
				running = append(running[:k], running[k+1:]...)
			}
		default:
			continue
		}
		for _, rq := range reqs[:ri] {
			maxID = max(maxID, slices.Max(rq.Blocks))
		}
		for i, c := range caches {
			if err := c.Check(); err != nil {
				fail(step, "cache %d: %v", i, err)
			}
			out[i] = append(out[i], c.Cached(), c.Evicted(), c.PinnedWeight(), c.Reserved(), int64(c.Len()))
			sn := c.Snapshot()
			out[i] = append(out[i], sn.Marked, sn.Unmarked, sn.Phases)
			if ru, ok := pols[i].Policy.(rules); ok {
				a, b, cc, e := ru.Rules()
				out[i] = append(out[i], a, b, cc, e)
			}
		}
		if !slices.Equal(out[0], out[1]) {
			fail(step, "trace ids give %v, local slots %v", out[0], out[1])
		}
		if !slices.Equal(pols[0].victims, pols[1].victims) {
			fail(step, "victims %v by trace id, %v by local slot", pols[0].victims, pols[1].victims)
		}
		var live [2][]trace.BlockID
		for i, c := range caches {
			c.Live(func(b trace.BlockID) { live[i] = append(live[i], b) })
			slices.Sort(live[i])
		}
		if !slices.Equal(live[0], live[1]) {
			fail(step, "live %v by trace id, %v by local slot", live[0], live[1])
		}
		if m, ok := pols[0].Policy.(kvcache.Marker); ok {
			m1 := pols[1].Policy.(kvcache.Marker)
			for _, b := range live[0] {
				if g, l := m.IsMarked(caches[0].ID(b)), m1.IsMarked(caches[1].ID(b)); g != l {
					fail(step, "block %d marked %v by trace id, %v by local slot", b, g, l)
				}
			}
		}
		// Local slots never outnumber the blocks a full cache can hold,
		// plus, for a Retainer, what it retains (s3fifo: at most the
		// capacity's weight) and the pending list (slots.go).
		bound := capacity
		if retains {
			bound = 4*capacity + 64
		}
		if s := caches[1].Slots(); int64(s) > bound {
			fail(step, "%d local slots for capacity %d", s, capacity)
		}
	}
	if len(pols[0].victims) == 0 {
		t.Fatalf("%s seed %d: no evictions", name, seed)
	}
	if caches[0].Slots() <= 4*caches[1].Slots() {
		t.Fatalf("%s seed %d: trace ids up to %d, %d global slots, %d local: the trace does not outgrow the cache", name, seed, maxID, caches[0].Slots(), caches[1].Slots())
	}
}

// retaining forwards a Retainer's Retain through the recorder.
type retaining struct{ *recorder }

func (r retaining) Retain(keep func(trace.BlockID)) { r.Policy.(kvcache.Retainer).Retain(keep) }
