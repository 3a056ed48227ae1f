package param

import (
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := NewRegistry(map[string]int{"b": 2, "a": 1})
	if got := r.Names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Names = %v", got)
	}
	for _, bad := range []string{"", "C", "c:k=v", "a b", "a"} {
		if _, err := r.Add(bad, 9); err == nil {
			t.Errorf("Add(%q) accepted", bad)
		}
	}
	remove, err := r.Add("c", 3)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Get("c"); !ok || v != 3 || !slices.Equal(r.Names(), []string{"a", "b", "c"}) {
		t.Fatalf("after Add: %d %v %v", v, ok, r.Names())
	}
	if _, err := r.Add("c", 4); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second Add(c): %v", err)
	}
	remove()
	if _, ok := r.Get("c"); ok || len(r.Names()) != 2 {
		t.Fatalf("after remove: %v", r.Names())
	}
	// Lookups while a component comes and goes (go test -race checks it).
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				r.Get("a")
				r.Names()
			}
		})
	}
	for range 50 {
		if rm, err := r.Add("d", 4); err == nil {
			rm()
		}
	}
	wg.Wait()
}
