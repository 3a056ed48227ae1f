package analysis

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBlockedBloom: no id added is ever missed, and the false-positive rate
// measured on ids never added is close to the estimate the report prints
// (blocking makes it a little worse than a standard filter's, not wildly).
func TestBlockedBloom(t *testing.T) {
	f := newBlockedBloom(1 << 22) // 4 Mbit
	r := rand.New(rand.NewPCG(1, 2))
	added := make([]uint64, 500_000) // ~8.4 bits per id
	for i := range added {
		added[i] = r.Uint64()
		f.add(added[i])
	}
	for _, x := range added {
		if !f.test(x) {
			t.Fatalf("added id %d missed", x)
		}
	}
	fp := 0
	const probes = 1_000_000
	for range probes {
		if f.test(r.Uint64()) {
			fp++
		}
	}
	got, est := float64(fp)/probes, f.fpRate()
	if est < 0.01 || est > 0.05 || got > 1.5*est || got < est/1.5 {
		t.Fatalf("false positives %.4f, estimated %.4f", got, est)
	}
	t.Logf("false positives %.4f, estimated %.4f", got, est)
}

// TestBloomChain: the chain starts small and adds its large filter once
// the first fills, never misses an id added to any of its filters, and
// reports the union's false-positive rate.
func TestBloomChain(t *testing.T) {
	var c bloomChain
	r := rand.New(rand.NewPCG(5, 6))
	// A third of the first filter's 2^27 bits are set after about 18.1 M
	// ids (3 bits each, some shared): 20 M ids need a second filter.
	// ref is the chain's rule taken one id at a time, without queues.
	ref := []*blockedBloom{newBlockedBloom(forgottenFirstBits)}
	added := make([]uint64, 20_000_000)
	for i := range added {
		added[i] = r.Uint64()
		c.add(added[i])
		if len(ref) == 1 && 3*ref[0].set > int64(ref[0].bits()) {
			ref = append(ref, newBlockedBloom(forgottenMaxBits))
		}
		ref[len(ref)-1].add(added[i])
	}
	if len(c.fs) != 2 || c.mib() != 16+128 {
		t.Fatalf("%d filters, %d MiB", len(c.fs), c.mib())
	}
	c.flush()
	for i, f := range c.fs {
		if f.set != ref[i].set || !slices.Equal(f.words, ref[i].words) {
			t.Fatalf("filter %d: %d bits set, one id at a time %d, or other bits", i, f.set, ref[i].set)
		}
	}
	for _, x := range added[:1000] {
		if !c.test(x) {
			t.Fatalf("id %d missed", x)
		}
	}
	for _, x := range added[len(added)-1000:] {
		if !c.test(x) {
			t.Fatalf("id %d missed", x)
		}
	}
	if fp := c.fpRate(); fp < c.fs[0].fpRate() || fp > c.fs[0].fpRate()+c.fs[1].fpRate() {
		t.Fatalf("union rate %g from %g and %g", fp, c.fs[0].fpRate(), c.fs[1].fpRate())
	}
}

// TestBloomBatchMatchesAdds: adding ids in batches ordered by block sets
// the bits adding them one by one sets, and a chain's queued ids are seen
// by the next test.
func TestBloomBatchMatchesAdds(t *testing.T) {
	for _, nbits := range []int{1 << 12, 1 << 20, 3 << 16} {
		one, batched := newBlockedBloom(nbits), newBlockedBloom(nbits)
		r := rand.New(rand.NewPCG(7, uint64(nbits)))
		var scratch []uint64
		for _, n := range []int{1, 1000, 70_000} {
			hs := make([]uint64, n)
			for i := range hs {
				x := r.Uint64()
				one.add(x)
				hs[i] = bloomMix(x)
			}
			scratch = batched.addBatch(hs, scratch)
		}
		if !slices.Equal(one.words, batched.words) || one.set != batched.set {
			t.Fatalf("%d bits: batched adds set %d bits, one by one %d, or other bits", nbits, batched.set, one.set)
		}
	}
	var c bloomChain
	c.fs = []*blockedBloom{newBlockedBloom(1 << 12), newBlockedBloom(1 << 16)}
	c.add(42)
	if len(c.pending) != 1 || !c.test(42) || len(c.pending) != 0 {
		t.Fatalf("a queued id: pending %d after test, or missed", len(c.pending))
	}
}

// BenchmarkForgottenFilter: adding 2^20 ids to the 128 MiB filter of
// forgotten ids in a batch ordered by block (what bloomChain does), against
// adding them one by one in the same iteration; reports the batched time
// as a fraction of the one-by-one time (machine-independent) and ns an id.
//
//	go test ./analysis -run '^$' -bench ForgottenFilter -benchtime 10x
func BenchmarkForgottenFilter(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]uint64, 1<<20)
	for i := range ids {
		ids[i] = r.Uint64()
	}
	one, batched := newBlockedBloom(forgottenMaxBits), newBlockedBloom(forgottenMaxBits)
	hs := make([]uint64, len(ids))
	var scratch []uint64
	var tOne, tBatch time.Duration
	for b.Loop() {
		t0 := time.Now()
		for _, x := range ids {
			one.add(x)
		}
		t1 := time.Now()
		for i, x := range ids {
			hs[i] = bloomMix(x)
		}
		scratch = batched.addBatch(hs, scratch)
		t2 := time.Now()
		tOne += t1.Sub(t0)
		tBatch += t2.Sub(t1)
	}
	if one.set != batched.set {
		b.Fatalf("batched adds set %d bits, one by one %d", batched.set, one.set)
	}
	b.ReportMetric(float64(tBatch)/float64(tOne), "batched/one")
	b.ReportMetric(float64(tBatch.Nanoseconds())/float64(b.N*len(ids)), "ns/id-batched")
	b.ReportMetric(float64(tOne.Nanoseconds())/float64(b.N*len(ids)), "ns/id-one")
}
