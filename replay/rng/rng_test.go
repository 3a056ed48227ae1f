package rng

import "testing"

func TestStreamsIndependentAndStable(t *testing.T) {
	a, b := Stream(1, Evict, 0), Stream(1, Evict, 0)
	for range 100 {
		if a.Uint64() != b.Uint64() {
			t.Fatal("same seed, name and index gave different draws")
		}
	}
	x, y, z := Stream(1, Evict, 0).Uint64(), Stream(1, Evict, 1).Uint64(), Stream(1, Router, 0).Uint64()
	if x == y || x == z || y == z || Stream(2, Evict, 0).Uint64() == x {
		t.Fatal("distinct streams collided on their first draw")
	}
}
