package analysis

import (
	"math/rand/v2"
	"testing"
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
	added := make([]uint64, 20_000_000)
	for i := range added {
		added[i] = r.Uint64()
		c.add(added[i])
	}
	if len(c.fs) != 2 || c.mib() != 16+128 {
		t.Fatalf("%d filters, %d MiB", len(c.fs), c.mib())
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
