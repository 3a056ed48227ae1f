package route

import (
	"math/bits"
	"slices"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// logHistory is the trim as it was before the recency tables (commit
// base18), kept as the reference the new trim must match exactly: each
// worker logs every request inserted into its tree, and a trim rebuilds from
// that whole log each present block's latest insertion (its stamp), parent
// and weight, removes least-recently-routed leaves (smallest stamp, then
// smallest id) from a heap until the tree is within maxSize, and drops the
// log entries that are no longer any present block's latest insertion. It
// shares history's bits and sizes (addChain), not its recency tables.
type logHistory struct {
	h                           *history
	log                         [][]*trace.Request
	stamp, parent, weight, kids []uint32
	list                        []uint32
	heap                        []uint64
	trimmedNow                  []bool // workers trimmed by the last advance
}

const noParent = ^uint32(0)

func newLogHistory(env Env, maxSize int64, period time.Duration) *logHistory {
	return &logHistory{h: newHistory(env, maxSize, period), log: make([][]*trace.Request, env.Workers), trimmedNow: make([]bool, env.Workers)}
}

func (l *logHistory) insert(w int, req *trace.Request) {
	if len(req.Blocks) == 0 {
		return
	}
	l.h.addChain(w, req)
	l.log[w] = append(l.log[w], req)
}

func (l *logHistory) advance(now time.Duration) {
	h := l.h
	clear(l.trimmedNow)
	if !h.due(now) {
		return
	}
	for w := range h.n {
		if h.size[w] > h.maxSize {
			l.trim(w)
			l.trimmedNow[w] = true
		}
	}
}

func (l *logHistory) trim(w int) {
	h := l.h
	if n := h.nb - len(l.stamp); n > 0 {
		l.stamp = append(l.stamp, make([]uint32, n)...)
		l.parent = append(l.parent, make([]uint32, n)...)
		l.weight = append(l.weight, make([]uint32, n)...)
		l.kids = append(l.kids, make([]uint32, n)...)
	}
	log := l.log[w]
	stamp, parent, weight, kids := l.stamp, l.parent, l.weight, l.kids
	list := l.list[:0]
	for pos, r := range log {
		par := noParent
		for i, b := range r.Blocks {
			if h.has(w, b) {
				if stamp[b] == 0 {
					list = append(list, b)
				}
				stamp[b] = uint32(pos + 1)
				parent[b] = par
				weight[b] = uint32(r.BlockTokens(i, h.bs))
			}
			par = b
		}
	}
	for _, b := range list {
		if p := parent[b]; p != noParent && stamp[p] != 0 {
			kids[p]++
		}
	}
	hp := l.heap[:0]
	for _, b := range list {
		if kids[b] == 0 {
			hp = append(hp, uint64(stamp[b])<<32|uint64(b))
		}
	}
	heapInit(hp)
	for h.size[w] > h.maxSize && len(hp) > 0 {
		var top uint64
		top, hp = heapPop(hp)
		b := uint32(top)
		h.set(w, b, false)
		h.size[w] -= int64(weight[b])
		h.trimmed[w] += int64(weight[b])
		if h.onTrim != nil {
			h.onTrim(w, b)
		}
		stamp[b] = 0
		if p := parent[b]; p != noParent && stamp[p] != 0 {
			if kids[p]--; kids[p] == 0 {
				hp = heapPush(hp, uint64(stamp[p])<<32|uint64(p))
			}
		}
	}
	kept := log[:0]
	for pos, r := range log {
		for _, b := range r.Blocks {
			if stamp[b] == uint32(pos+1) {
				kept = append(kept, r)
				break
			}
		}
	}
	clear(log[len(kept):])
	l.log[w] = kept
	for _, b := range list {
		stamp[b], kids[b] = 0, 0
	}
	l.list, l.heap = list[:0], hp[:0]
}

// A minimal binary min-heap on uint64 keys.
func heapInit(h []uint64) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
}

func siftDown(h []uint64, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r] < h[l] {
			m = r
		}
		if h[i] <= h[m] {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func heapPop(h []uint64) (uint64, []uint64) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	siftDown(h, 0)
	return top, h
}

func heapPush(h []uint64, v uint64) []uint64 {
	h = append(h, v)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}

// liveLeaves lists the leaves of worker w's live insertions, oldest first
// (a leaf names its chain).
func (rc *recency) liveLeaves() []trace.BlockID {
	var out []trace.BlockID
	for e := rc.head; e != 0; e = rc.ents[e-1].next {
		out = append(out, rc.ents[e-1].leaf)
	}
	return out
}

// leaves lists the leaves of log's requests.
func leaves(log []*trace.Request) []trace.BlockID {
	var out []trace.BlockID
	for _, r := range log {
		out = append(out, r.Blocks[len(r.Blocks)-1])
	}
	return out
}

// checkTrimAgainstLog drives the recency trim and the log-rebuild trim with
// the same random insertions and clock, and after every trim instant
// compares the trees, sizes, trimmed tokens, the blocks removed and their
// order, and the live insertions with the pruned log. A quarter of the
// requests get a random last-block weight, so that a block may weigh
// differently in different insertions (the latest one counts in a trim).
// Seeds ≢ 0 mod 3 compact chains from 1 or 4 blocks on (recency.compact),
// which must change nothing.
func checkTrimAgainstLog(t *testing.T, seed uint64, n int, maxSize int64, nops, maxLen int) {
	env := Env{Workers: n, BlockSize: 16, Blocks: int(seed % 2 * 50)}
	h := newHistory(env, maxSize, time.Second)
	ref := newLogHistory(env, maxSize, time.Second)
	for w := range h.rec {
		h.rec[w].compactMin = [3]int32{compactChain, 1, 4}[seed%3]
	}
	type rm struct {
		w int
		b uint32
	}
	var got, want []rm
	h.onTrim = func(w int, b uint32) { got = append(got, rm{w, b}) }
	ref.h.onTrim = func(w int, b uint32) { want = append(want, rm{w, b}) }
	gen := newChainGen(seed, 16, 2)
	s := rng(seed ^ 0x5eed)
	now := time.Duration(0)
	trims := 0
	for op := range nops {
		now += time.Duration(s.IntN(int(700 * time.Millisecond)))
		got, want = got[:0], want[:0]
		h.advance(now)
		ref.advance(now)
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d n %d max %d op %d: trimmed blocks %v, reference %v", seed, n, maxSize, op, got, want)
		}
		if !slices.Equal(h.bits, ref.h.bits) || !slices.Equal(h.size, ref.h.size) || !slices.Equal(h.trimmed, ref.h.trimmed) {
			t.Fatalf("seed %d n %d max %d op %d: trees differ: sizes %v / %v, trimmed %v / %v", seed, n, maxSize, op, h.size, ref.h.size, h.trimmed, ref.h.trimmed)
		}
		for w := range n {
			if ref.trimmedNow[w] {
				trims++
				if live := h.rec[w].liveLeaves(); !slices.Equal(live, leaves(ref.log[w])) {
					t.Fatalf("seed %d op %d worker %d: %d live insertions, the pruned log holds %d", seed, op, w, len(live), len(ref.log[w]))
				}
			}
			if c := h.rec[w].latest.n; h.rec[w].tracking && c != treeBlocks(h, w) {
				t.Fatalf("seed %d op %d worker %d: %d blocks in the recency table, %d in the tree", seed, op, w, c, treeBlocks(h, w))
			}
		}
		rq := gen.request(op, maxLen)
		if len(rq.Blocks) > 0 && s.IntN(4) == 0 {
			rq.LastBlockTokens = 1 + s.IntN(16)
		}
		w := s.IntN(n)
		h.insert(w, rq)
		ref.insert(w, rq)
	}
	if maxSize < 200 && nops >= 300 && trims == 0 {
		t.Fatalf("seed %d n %d max %d: no trim ran", seed, n, maxSize)
	}
}

// treeBlocks counts the blocks in worker w's tree.
func treeBlocks(h *history, w int) int {
	c := 0
	for b := range h.nb {
		if h.has(w, uint32(b)) {
			c++
		}
	}
	return c
}

func TestTrimMatchesLogRebuild(t *testing.T) {
	for seed := range uint64(8) {
		for _, n := range []int{1, 2, 5, 64, 70} {
			for _, maxSize := range []int64{0, 16, 40, 150} {
				checkTrimAgainstLog(t, seed, n, maxSize, 400, 3+int(seed%3)*4)
			}
		}
	}
}

func FuzzTrimMatchesLogRebuild(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint16(100), uint16(300), uint8(8))
	f.Add(uint64(2), uint8(70), uint16(16), uint16(200), uint8(4))
	f.Add(uint64(3), uint8(1), uint16(0), uint16(300), uint8(12))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8, maxSize uint16, ops uint16, maxLen uint8) {
		checkTrimAgainstLog(t, seed, 1+int(n)%80, int64(maxSize%400), int(ops%600), 1+int(maxLen%20))
	})
}

// The slot table against a map, with ids spread and clustered so that
// probe runs wrap and deletions shift entries back across the end.
func TestSlotTable(t *testing.T) {
	for seed := range uint64(6) {
		s := rng(seed)
		var tab slotTable
		ref := map[uint32]uint32{}
		span := uint32(8) << (seed % 4 * 4)
		for op := range 20000 {
			b := s.Uint32N(span)
			if seed%2 == 1 {
				b = bits.RotateLeft32(b, 13) // high bits set
			}
			switch s.IntN(3) {
			case 0:
				v := 1 + s.Uint32N(1000)
				if old := tab.swap(b, v); old != ref[b] {
					t.Fatalf("seed %d op %d: swap(%d) returned %d, want %d", seed, op, b, old, ref[b])
				}
				ref[b] = v
			case 1:
				if _, ok := ref[b]; ok {
					tab.remove(b)
					delete(ref, b)
				}
			}
			if got := tab.get(b); got != ref[b] {
				t.Fatalf("seed %d op %d: get(%d) = %d, want %d", seed, op, b, got, ref[b])
			}
			if tab.n != len(ref) {
				t.Fatalf("seed %d op %d: %d entries, want %d", seed, op, tab.n, len(ref))
			}
		}
		for b, v := range ref {
			if got := tab.get(b); got != v {
				t.Fatalf("seed %d: get(%d) = %d, want %d", seed, b, got, v)
			}
		}
	}
}
