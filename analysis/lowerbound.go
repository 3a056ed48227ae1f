package analysis

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

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
// while seen moves, by its original id, into a growing Bloom filter
// (forgotten), and a dense id the table creates for an original id the
// filter holds counts as seen (refound, by fresh). A false positive of the
// filter counts a block as seen that was not, which can only lower a cost
// c_j: the bound stays a valid lower bound, only looser, and the report
// says so (note).
type boundTally struct {
	m           sim.Linear
	bs, workers int
	seen        []uint64
	refound     []uint64 // dense ids whose original id the filter held when they were made (fresh)
	forgotten   *bloomChain
	nForgot     int64
	sum, mx     float64
}

// The filters of forgotten seen ids (bloomChain): one of 16 MiB, then, once
// a third of its bits are set (a false-positive rate of about 3.7%), one of
// 128 MiB that takes every later id; 3 bits per id. So a run that forgets
// a few million ids holds 16 MiB, and the longest runs 144 MiB. Measured
// at 10 M multiturn requests (about 630 M ids forgotten): a single 128 MiB
// filter gave an estimated false-positive rate of 0.58 (672 MB resident);
// doubling filters of 16, 32 and 64 MiB, 0.90 and a bound 2.7% looser
// (638 MB); 16 to 128 MiB doubling (240 MiB), 0.50 (905 MB).
const (
	forgottenFirstBits = 1 << 27
	forgottenMaxBits   = 1 << 30
	forgottenHashes    = 3
)

// bloomChain is a growing Bloom filter (a scalable Bloom filter): a list
// of blockedBloom filters, ids going into the newest, a test asking them
// all. Its memory follows the number of ids forgotten, up to the cap, and
// its false-positive rate is 1 − Π(1 − rate of each).
//
// Ids are queued (pending) and added in batches ordered by block
// (blockedBloom.addBatch) before any test or rate reads the filters: a
// sweep forgets millions of ids at once, and one by one each add was a
// cache and TLB miss (22% of a streamed 3M-request lbgr+rlt run's CPU, in
// the 128 MiB filter). The bits set, so every test and rate, are those of
// adding them one by one, and so is the id at which the last filter
// starts: the first filter's ids queue only while, even if each set 3 new
// bits, a third of its bits could not be set before the last of them.
type bloomChain struct {
	fs      []*blockedBloom
	pending []uint64 // mixed ids (bloomMix) queued for the newest filter
	scratch []uint64
}

// bloomBatch is how many ids are queued at most: 8 MiB of queue and 8 MiB
// to order it.
const bloomBatch = 1 << 20

func (c *bloomChain) add(x uint64) {
	if len(c.fs) == 0 {
		c.fs = append(c.fs, newBlockedBloom(forgottenFirstBits))
	}
	if f := c.fs[0]; len(c.fs) == 1 && 3*(f.set+forgottenHashes*int64(len(c.pending)+1)) > int64(f.bits()) {
		c.flush()
		if 3*f.set > int64(f.bits()) {
			c.fs = append(c.fs, newBlockedBloom(forgottenMaxBits))
		}
	}
	if c.pending == nil {
		c.pending = make([]uint64, 0, bloomBatch)
	}
	c.pending = append(c.pending, bloomMix(x))
	if len(c.pending) == bloomBatch {
		c.flush()
	}
}

// flush adds the queued ids to the newest filter.
func (c *bloomChain) flush() {
	f := c.fs[len(c.fs)-1]
	if len(c.pending) < 1<<12 { // too few to be worth ordering
		for _, h := range c.pending {
			f.addMixed(h)
		}
	} else {
		c.scratch = f.addBatch(c.pending, c.scratch)
	}
	c.pending = c.pending[:0]
}

func (c *bloomChain) test(x uint64) bool {
	if len(c.pending) > 0 {
		c.flush()
	}
	for _, f := range c.fs {
		if f.test(x) {
			return true
		}
	}
	return false
}

func (c *bloomChain) fpRate() float64 {
	if len(c.pending) > 0 {
		c.flush()
	}
	miss := 1.0
	for _, f := range c.fs {
		miss *= 1 - f.fpRate()
	}
	return 1 - miss
}

func (c *bloomChain) mib() int {
	n := 0
	for _, f := range c.fs {
		n += f.bits() / 8
	}
	return n >> 20
}

// blockedBloom is a Bloom filter whose k bits for an id lie in one 512-bit
// block (one cache line), chosen by the id's hash: one memory miss per
// add or test instead of k. Hand-written rather than a library's
// (bits-and-blooms/bloom v3.7.1 was tried first): with its k independent
// positions and murmur3 hashing, adding the 60 M ids a 1 M-request
// streamed run forgets was 26% of that run's CPU. Blocking raises the
// false-positive rate a little over a standard filter's at the same fill
// (ids crowd some blocks); the rate reported is estimated from the
// fraction of bits set, (set/m)^k, which is the standard filter's.
type blockedBloom struct {
	words []uint64
	set   int64
}

func newBlockedBloom(bits int) *blockedBloom {
	return &blockedBloom{words: make([]uint64, bits/64)}
}

// bloomMix is the one 64-bit mix of an id that places it in a filter
// (splitmix64's finaliser).
func bloomMix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// positions are the block's first word and the k bit offsets in it, from
// id x's mix.
func (f *blockedBloom) positions(x uint64) (base int, off [forgottenHashes]uint) {
	return f.mixedPositions(bloomMix(x))
}

func (f *blockedBloom) mixedPositions(h uint64) (base int, off [forgottenHashes]uint) {
	base = f.block(h) * 8
	for i := range off {
		off[i] = uint(h>>(9*i)) & 511
	}
	return base, off
}

// block is the index of mix h's 512-bit block.
func (f *blockedBloom) block(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(f.words)/8))
	return int(hi)
}

func (f *blockedBloom) add(x uint64) { f.addMixed(bloomMix(x)) }

func (f *blockedBloom) addMixed(h uint64) {
	base, off := f.mixedPositions(h)
	for _, o := range off {
		w := &f.words[base+int(o>>6)]
		if m := uint64(1) << (o & 63); *w&m == 0 {
			*w |= m
			f.set++
		}
	}
}

// addBatch adds the ids whose mixes are hs, in the order of their blocks
// (a least-significant-digit radix sort of the block indices in two
// passes through scratch, which it returns grown to fit, leaving hs
// reordered): the filter is then read and written as it lies in memory,
// which the hardware prefetches, instead of a miss per id. The bits set
// do not depend on the order.
func (f *blockedBloom) addBatch(hs, scratch []uint64) []uint64 {
	nb := len(f.words) / 8
	width := bits.Len(uint(nb - 1))
	lo := width / 2
	scratch = slices.Grow(scratch[:0], len(hs))[:len(hs)]
	nbu := uint64(nb)
	radixPass(hs, scratch, nbu, 0, lo)
	radixPass(scratch, hs, nbu, lo, width-lo)
	for _, h := range hs {
		f.addMixed(h)
	}
	return scratch
}

// radixPass is one stable counting-sort pass of src into dst by the digit
// of n bits from bit shift of each mix's block index among nb blocks.
func radixPass(src, dst []uint64, nb uint64, shift, n int) {
	start := make([]int, 1<<n+1)
	mask := uint64(1)<<n - 1
	for _, h := range src {
		hi, _ := bits.Mul64(h, nb)
		start[hi>>shift&mask+1]++
	}
	for d := range 1 << n {
		start[d+1] += start[d]
	}
	for _, h := range src {
		hi, _ := bits.Mul64(h, nb)
		d := hi >> shift & mask
		dst[start[d]] = h
		start[d]++
	}
}

func (f *blockedBloom) test(x uint64) bool {
	base, off := f.positions(x)
	for _, o := range off {
		if f.words[base+int(o>>6)]&(1<<(o&63)) == 0 {
			return false
		}
	}
	return true
}

// fpRate estimates the false-positive rate: (bits set / bits)^k.
func (f *blockedBloom) fpRate() float64 {
	return math.Pow(float64(f.set)/float64(f.bits()), forgottenHashes)
}

func (f *blockedBloom) bits() int { return 64 * len(f.words) }

func newBoundTally(m sim.Linear, bs, workers int) *boundTally {
	return &boundTally{m: m, bs: bs, workers: workers}
}

func (b *boundTally) has(d trace.BlockID) bool {
	return bit(b.seen, d) || bit(b.refound, d)
}

func (b *boundTally) set(d trace.BlockID) { b.seen = setBit(b.seen, d) }

func bit(s []uint64, d trace.BlockID) bool {
	return int(d>>6) < len(s) && s[d>>6]&(1<<(d&63)) != 0
}

func setBit(s []uint64, d trace.BlockID) []uint64 {
	if w := int(d >> 6); w >= len(s) {
		n := max(w+1, 2*len(s))
		s = slices.Grow(s, n-len(s))[:n]
	}
	s[d>>6] |= 1 << (d & 63)
	return s
}

// forget moves dense id d, which the block table is about to hand out
// again, from the bitset to the filter (trace.Table.SetOnForget).
func (b *boundTally) forget(d trace.BlockID, orig uint64) {
	if bit(b.refound, d) {
		b.refound[d>>6] &^= 1 << (d & 63)
	}
	if !bit(b.seen, d) {
		return
	}
	b.seen[d>>6] &^= 1 << (d & 63)
	if b.forgotten == nil {
		b.forgotten = &bloomChain{}
	}
	b.forgotten.add(orig)
	b.nForgot++
}

// fresh hears of a dense id d the block table has just created for
// original id orig (trace.Table.SetOnNew), in a request being read, which
// the bound takes next (SummaryStream): if orig was seen and forgotten
// before, d counts as seen (refound).
//
// It asks for the request's next new id only after a refound one: add
// stops at the first block not seen, and a later request holding a block
// past it holds that block too and finds the rest seen or not by the
// bitset. So the filter is asked about as often as when add asked it,
// about once a request, not once a new block (which was 23% of an
// lbgr+rlt run's CPU).
//
// The filter gains orig only when the table forgets the dense id that
// names it, and the table forgets nothing between creating the request's
// ids and the bound taking the request, so asking now answers as asking
// then. A refound id is not in seen, so forgetting it again does not add
// it to the filter a second time (which would only fill the filter).
func (b *boundTally) fresh(d trace.BlockID, orig uint64) bool {
	if b.forgotten != nil && b.forgotten.test(orig) {
		b.refound = setBit(b.refound, d)
		return true
	}
	return false
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
	fp := b.forgotten.fpRate()
	return fmt.Sprintf("approximate: %d block ids the streamed run forgot are remembered in a Bloom filter (%d MiB, %d hashes, estimated false-positive rate %.2g); a false positive counts a block as cached, which can only lower the bound, so it remains a valid lower bound, possibly looser than the exact one",
		b.nForgot, b.forgotten.mib(), forgottenHashes, fp)
}
