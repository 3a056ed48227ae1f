package suggest

import (
	"slices"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"lru", "lru", 0}, {"", "abc", 3}, {"abc", "", 3},
		{"lur", "lru", 1}, {"lr", "lru", 1}, {"lrux", "lru", 1}, {"lfu", "lru", 1},
		{"kitten", "sitting", 3}, {"ca", "abc", 3},
	} {
		if got := distance(tc.a, tc.b); got != tc.d {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
		if got := distance(tc.b, tc.a); got != tc.d {
			t.Errorf("distance(%q, %q) = %d, want %d (symmetry)", tc.b, tc.a, got, tc.d)
		}
	}
}

func TestSuggest(t *testing.T) {
	routers := []string{"cache_aware", "consistent_hash", "dynamo", "lbgr", "least_load", "llmd", "p2c", "random", "round_robin"}
	policies := []string{"fifo", "lfu", "lru", "opt", "random_leaf", "rlt", "s3fifo", "server_lru", "sieve"}
	for _, tc := range []struct {
		got   string
		valid []string
		want  []string
	}{
		{"lur", policies, []string{"lru"}},
		{"lru", policies, []string{"lru"}},
		{"lr", policies, []string{"lru"}},
		{"lxu", policies, []string{"lfu", "lru"}},
		{"cache-aware", routers, []string{"cache_aware"}},
		{"roundrobin", routers, []string{"round_robin"}},
		{"dynamp", routers, []string{"dynamo"}},
		{"least", routers, []string{"least_load"}},
		{"lbrg", routers, []string{"lbgr"}},
		{"xyzzy", routers, nil},
		{"", routers, nil},
		{"s3-fifo", policies, []string{"s3fifo"}},
	} {
		if got := Names(tc.got, tc.valid); !slices.Equal(got, tc.want) {
			t.Errorf("Names(%q) = %q, want %q", tc.got, got, tc.want)
		}
	}
	if got, want := DidYouMean("lur", policies), `; did you mean "lru"?`; got != want {
		t.Errorf("DidYouMean = %q, want %q", got, want)
	}
	if got := DidYouMean("xyzzy", policies); got != "" {
		t.Errorf("DidYouMean(xyzzy) = %q, want empty", got)
	}
}
