package analysis

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// MaxLoadLowerBound is SPEC §9's lower bound on max_load_s for the linear
// model: max(max_j c_j, Σ_j c_j / M), where c_j is request j's cost when its
// longest prefix shared with any earlier arrival is counted as cached. No
// schedule can beat it: each request is served whole by one worker, and at
// best everything ever shared before is cached where it runs. Failed
// requests are left out (they are never served); arrival order is the
// run's (after re-timing).
func MaxLoadLowerBound(tr *trace.Trace, run *sim.Run, m sim.Linear) float64 {
	order := make([]int32, 0, len(run.Records))
	for i := range run.Records {
		if run.Records[i].Status != sim.Failed {
			order = append(order, int32(i))
		}
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		ta, tb := run.Records[a].Arrival, run.Records[b].Arrival
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	b := newBoundTally(m, tr.Info.BlockSize, run.Workers)
	for _, x := range order {
		b.add(&run.Records[x], &tr.Requests[x])
	}
	return b.bound()
}

// boundTally computes MaxLoadLowerBound one request at a time, in arrival
// order. Its "seen before" set is a bitset over dense block ids; in a
// streamed run whose block table recycles ids, an id the table forgets
// while seen moves, by its original id, into a Bloom filter
// (forgotten). A false positive of the filter counts a block as seen that
// was not, which can only lower a cost c_j: the bound stays a valid lower
// bound, only looser, and the report says so (BoundNote).
type boundTally struct {
	m           sim.Linear
	bs, workers int
	seen        []uint64
	forgotten   *bloom.BloomFilter
	nForgot     int64
	key         [8]byte
	orig        func(trace.BlockID) uint64
	sum, mx     float64
}

// Bloom filter of forgotten seen ids: 2^30 bits (128 MiB), 3 hashes. At
// 100 M ids its false-positive rate is about 1.6%, at 300 M about 18%.
const (
	forgottenBits   = 1 << 30
	forgottenHashes = 3
)

func newBoundTally(m sim.Linear, bs, workers int) *boundTally {
	return &boundTally{m: m, bs: bs, workers: workers}
}

func (b *boundTally) has(d trace.BlockID) bool {
	if int(d>>6) < len(b.seen) && b.seen[d>>6]&(1<<(d&63)) != 0 {
		return true
	}
	if b.forgotten == nil {
		return false
	}
	binary.LittleEndian.PutUint64(b.key[:], b.orig(d))
	return b.forgotten.Test(b.key[:])
}

func (b *boundTally) set(d trace.BlockID) {
	if w := int(d >> 6); w >= len(b.seen) {
		n := max(w+1, 2*len(b.seen))
		b.seen = slices.Grow(b.seen, n-len(b.seen))[:n]
	}
	b.seen[d>>6] |= 1 << (d & 63)
}

// forget moves dense id d, which the block table is about to hand out
// again, from the bitset to the filter (trace.Table.SetOnForget).
func (b *boundTally) forget(d trace.BlockID, orig uint64) {
	if int(d>>6) >= len(b.seen) || b.seen[d>>6]&(1<<(d&63)) == 0 {
		return
	}
	b.seen[d>>6] &^= 1 << (d & 63)
	if b.forgotten == nil {
		b.forgotten = bloom.New(forgottenBits, forgottenHashes)
	}
	binary.LittleEndian.PutUint64(b.key[:], orig)
	b.forgotten.Add(b.key[:])
	b.nForgot++
}

// add takes request r (record rec) into the bound; failed ones are left
// out.
func (b *boundTally) add(rec *sim.Record, r *trace.Request) {
	if rec.Status == sim.Failed {
		return
	}
	h := 0
	for h < len(r.Blocks) && b.has(r.Blocks[h]) {
		h++
	}
	for _, d := range r.Blocks[h:] {
		b.set(d)
	}
	hit := h * b.bs
	if h == len(r.Blocks) {
		hit = r.ChainTokens(b.bs)
	}
	if rec.Status == sim.Bypassed {
		hit = 0
	}
	c := b.m.Cost(hit, r.Input, r.Output) / 1000 // seconds
	b.sum += c
	b.mx = max(b.mx, c)
}

func (b *boundTally) bound() float64 {
	if b.workers == 0 {
		return 0
	}
	return max(b.mx, b.sum/float64(b.workers))
}

// note is the report's word on an approximate bound ("" when exact).
func (b *boundTally) note() string {
	if b.forgotten == nil {
		return ""
	}
	fp := math.Pow(float64(b.forgotten.BitSet().Count())/float64(b.forgotten.Cap()), float64(b.forgotten.K()))
	return fmt.Sprintf("approximate: %d block ids the streamed run forgot are remembered in a Bloom filter (%d MiB, %d hashes, estimated false-positive rate %.2g); a false positive counts a block as cached, which can only lower the bound, so it remains a valid lower bound, possibly looser than the exact one",
		b.nForgot, forgottenBits/8/(1<<20), forgottenHashes, fp)
}
