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
