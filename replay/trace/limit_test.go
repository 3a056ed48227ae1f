package trace

import (
	"errors"
	"slices"
	"testing"
)

// intern is Intern that fails the test on error.
func intern(t *testing.T, tb *Table, chain ...uint64) []BlockID {
	t.Helper()
	d, err := tb.Intern(nil, chain)
	if err != nil {
		t.Fatalf("intern %v: %v", chain, err)
	}
	return d
}

func keepOnly(ids ...BlockID) func(func(BlockID)) {
	return func(keep func(BlockID)) {
		for _, b := range ids {
			keep(b)
		}
	}
}

func TestTableSweepRecycles(t *testing.T) {
	tb := NewTable(true)
	tb.SetLimit(6)
	a := intern(t, tb, 10, 11, 12) // 0 1 2
	b := intern(t, tb, 20, 21)     // 3 4
	if tb.Full() {
		t.Fatal("full at 5 of 6")
	}
	c := intern(t, tb, 10, 11, 13) // shares 10 11; 13 → 5
	if !slices.Equal(c, []BlockID{0, 1, 5}) || !tb.Full() || tb.Recycled() != 0 {
		t.Fatalf("chain %v, full %v", c, tb.Full())
	}
	// Keep the leaf 12 only: its ancestors 10 and 11 stay too.
	if free := tb.Sweep(keepOnly(a[2])); free != 3 {
		t.Fatalf("freed %d, want 3 (20, 21, 13)", free)
	}
	if tb.Live() != 3 || tb.Full() || tb.Sweeps() != 1 || tb.Len() != 6 {
		t.Fatalf("live %d full %v sweeps %d len %d", tb.Live(), tb.Full(), tb.Sweeps(), tb.Len())
	}
	if got := tb.Chain(nil, a[2], 3); !slices.Equal(got, a) {
		t.Fatalf("kept chain %v, want %v", got, a)
	}
	// Kept ids keep their dense ids; forgotten ones come back on the freed
	// ids, smallest first, with their new parent and original id.
	if got := intern(t, tb, 10, 11, 12); !slices.Equal(got, a) {
		t.Fatalf("kept chain re-interned as %v", got)
	}
	d := intern(t, tb, 21, 20)
	if !slices.Equal(d, []BlockID{3, 4}) || tb.Recycled() != 2 {
		t.Fatalf("recycled chain %v (recycled %d); before it was %v", d, tb.Recycled(), b)
	}
	// 21 was forgotten, so its new place as a root is not a conflict, and
	// 20 now has parent 21.
	if p, ok := tb.Parent(d[1]); !ok || p != d[0] || tb.Orig(d[1]) != 20 || tb.Orig(d[0]) != 21 {
		t.Fatalf("parent %d %v, orig %d %d", p, ok, tb.Orig(d[0]), tb.Orig(d[1]))
	}
	// A live id still has its one parent.
	var pe *ParentError
	if _, err := tb.Intern(nil, []uint64{99, 11}); !errors.As(err, &pe) {
		t.Fatalf("live conflict: %v", err)
	}
	// The rollback put 99's id back: the next new id takes it.
	if got := intern(t, tb, 30); !slices.Equal(got, []BlockID{5}) || tb.Recycled() != 3 {
		t.Fatalf("after rollback %v, recycled %d", got, tb.Recycled())
	}
	// The free list is empty: new ids are appended.
	if got := intern(t, tb, 31); !slices.Equal(got, []BlockID{6}) {
		t.Fatalf("appended %v", got)
	}
}

func TestTableSweepRaisesLimit(t *testing.T) {
	tb := NewTable(false)
	tb.SetLimit(4)
	var all []BlockID
	for i := range uint64(4) {
		all = append(all, intern(t, tb, 100+i)...)
	}
	// Everything stays live: the limit doubles to twice the live count, so
	// the next sweep is 4 new ids away, not 1.
	tb.Sweep(keepOnly(all...))
	if tb.Limit() != 8 || tb.Full() {
		t.Fatalf("limit %d full %v", tb.Limit(), tb.Full())
	}
	// Without keepOrig the lookup is forgotten by scanning: a forgotten
	// hash-like id comes back as a new block.
	h := intern(t, tb, 1<<60)
	tb.Sweep(keepOnly(all...))
	if got := intern(t, tb, 1<<60); !slices.Equal(got, h) || tb.Recycled() != 1 {
		t.Fatalf("hash id back as %v (was %v), recycled %d", got, h, tb.Recycled())
	}
	if tb.Orig(h[0]) != 1<<60 {
		t.Fatalf("orig %d", tb.Orig(h[0]))
	}
}

// Rolling back an Intern that both reused freed ids and appended new ones
// leaves the table as it was.
func TestTableRollbackAcrossFreeList(t *testing.T) {
	tb := NewTable(true)
	tb.SetLimit(2)
	intern(t, tb, 1, 2)
	tb.Sweep(keepOnly())
	if tb.Live() != 0 {
		t.Fatalf("live %d", tb.Live())
	}
	intern(t, tb, 5) // takes 0; 1 stays free
	// 6 takes 1, 7 is appended as 2, then 5 conflicts (it is a root).
	if _, err := tb.Intern(nil, []uint64{6, 7, 5}); err == nil {
		t.Fatal("no conflict")
	}
	if tb.Len() != 2 || tb.Live() != 1 || tb.Recycled() != 1 {
		t.Fatalf("len %d live %d recycled %d", tb.Len(), tb.Live(), tb.Recycled())
	}
	if got := intern(t, tb, 7, 6); !slices.Equal(got, []BlockID{1, 2}) {
		t.Fatalf("after rollback %v", got)
	}
}

// Sequentially numbered ids (generated traces) keep finding their live ids
// after the flat window slides past them: an old id kept live moves to the
// map and resolves to its dense id; forgotten ones come back as new blocks.
func TestTableSlidesWithSequentialIDs(t *testing.T) {
	tb := NewTable(true)
	tb.SetLimit(1000)
	old := intern(t, tb, 0, 1, 2) // kept live throughout: the "hot prefix"
	var last []BlockID
	next := uint64(3)
	for range 200 {
		chain := []uint64{0, 1, 2}
		for range 40 {
			chain = append(chain, next)
			next++
		}
		last = intern(t, tb, chain...)
		if tb.Full() {
			tb.Sweep(keepOnly(last...))
		}
	}
	if tb.Sweeps() < 5 || tb.base == 0 {
		t.Fatalf("sweeps %d, window base %d: the window never slid", tb.Sweeps(), tb.base)
	}
	if got := intern(t, tb, 0, 1, 2); !slices.Equal(got, old) {
		t.Fatalf("hot prefix %v, was %v", got, old)
	}
	// The last chain is live: it resolves to the same dense ids.
	chain := []uint64{0, 1, 2}
	for i := next - 40; i < next; i++ {
		chain = append(chain, i)
	}
	if got := intern(t, tb, chain...); !slices.Equal(got, last) {
		t.Fatalf("live chain %v, was %v", got, last)
	}
	// An id forgotten long ago is a new block under any parent.
	if _, err := tb.Intern(nil, []uint64{50}); err != nil {
		t.Fatalf("forgotten id: %v", err)
	}
	if tb.Len() > 1100 {
		t.Fatalf("dense ids reached %d with a limit of 1000", tb.Len())
	}
}

// TestTableOnForget: a sweep tells SetOnForget's function of every id it
// forgets, once, with the original id, and not of ids a previous sweep
// freed that were never handed out again.
func TestTableOnForget(t *testing.T) {
	tb := NewTable(false) // original ids come from the index, not keepOrig
	type gone struct {
		d    BlockID
		orig uint64
	}
	var got []gone
	tb.SetOnForget(func(d BlockID, orig uint64) { got = append(got, gone{d, orig}) })
	byID := func(a, b gone) int { return int(a.d) - int(b.d) }
	a := intern(t, tb, 10, 11, 12) // 0 1 2
	intern(t, tb, 20, 21)          // 3 4
	intern(t, tb, 0, 1)            // 5 6 (original id 0 is an id like any other)
	tb.Sweep(keepOnly(a[1]))
	want := []gone{{2, 12}, {3, 20}, {4, 21}, {5, 0}, {6, 1}}
	if slices.SortFunc(got, byID); !slices.Equal(got, want) {
		t.Fatalf("forgotten %v, want %v", got, want)
	}
	// 30 takes dense id 2; a second sweep keeping nothing forgets 10, 11
	// and 30, not the ids 3..6 still free since the first sweep.
	got = nil
	if d := intern(t, tb, 30); !slices.Equal(d, []BlockID{2}) {
		t.Fatalf("30 interned as %v", d)
	}
	tb.Sweep(keepOnly())
	want = []gone{{0, 10}, {1, 11}, {2, 30}}
	if slices.SortFunc(got, byID); !slices.Equal(got, want) {
		t.Fatalf("second sweep forgot %v, want %v", got, want)
	}
}

// TestTableOnNew: Accept tells SetOnNew's function of the ids the last
// Intern call created (new and recycled dense ids, with their original
// ids) in chain order until it returns false, not of ids it found, and a
// rolled-back call tells nothing.
func TestTableOnNew(t *testing.T) {
	tb := NewTable(false)
	type born struct {
		d    BlockID
		orig uint64
	}
	var got []born
	tb.SetOnNew(func(d BlockID, orig uint64) bool {
		got = append(got, born{d, orig})
		return orig != 13
	})
	intern(t, tb, 10, 11) // 0 1
	tb.Accept()
	intern(t, tb, 10, 12) // 0 2
	tb.Accept()
	if want := []born{{0, 10}, {1, 11}, {2, 12}}; !slices.Equal(got, want) {
		t.Fatalf("told %v, want %v", got, want)
	}
	got = nil
	intern(t, tb, 40)
	tb.rollback() // a request refused after interning: never Accepted
	tb.Accept()
	if len(got) != 0 {
		t.Fatalf("a rolled-back Intern told %v", got)
	}
	tb.Sweep(keepOnly(0)) // frees 1 and 2
	intern(t, tb, 10, 50) // 0, then 50 on the freed 1
	tb.Accept()
	if want := []born{{1, 50}}; !slices.Equal(got, want) {
		t.Fatalf("after a sweep told %v, want %v", got, want)
	}
	got = nil
	intern(t, tb, 13, 14) // the function wants nothing after 13
	tb.Accept()
	if want := []born{{2, 13}}; !slices.Equal(got, want) {
		t.Fatalf("told %v past a false, want %v", got, want)
	}
}

// TestTableKeepsDenseLiveIDsInWindow: when a holder keeps every id (a
// routing history before its first trim), sweeps must not slide the live
// ids out of the flat window into the map.
func TestTableKeepsDenseLiveIDsInWindow(t *testing.T) {
	tb := NewTable(true)
	tb.SetLimit(1000)
	var all []BlockID
	next := uint64(0)
	for range 500 {
		chain := make([]uint64, 0, 40)
		for range 40 {
			chain = append(chain, next)
			next++
		}
		all = append(all, intern(t, tb, chain...)...)
		if tb.Full() {
			tb.Sweep(keepOnly(all...))
		}
	}
	if tb.Sweeps() < 3 {
		t.Fatalf("%d sweeps", tb.Sweeps())
	}
	if len(tb.ids) != 0 || tb.base != 0 {
		t.Fatalf("%d of %d live ids in the map, window base %d", len(tb.ids), tb.Live(), tb.base)
	}
}

// TestTableOnForgetScoped: under an id scope (kv-cache-tester's rank<<32),
// the original id a sweep reports is the one Orig gives, scope included,
// both for ids in the flat window and for ids in the map.
func TestTableOnForgetScoped(t *testing.T) {
	tb := NewTable(true)
	const ns = 3 << 32
	tb.setScope(ns)
	near := intern(t, tb, 1, 2)    // the flat window
	far := intern(t, tb, 1<<40, 5) // 1<<40: the map
	want := map[BlockID]uint64{}
	for _, d := range append(near, far...) {
		want[d] = tb.Orig(d)
	}
	if want[near[0]] != ns+1 || want[far[0]] != ns+1<<40 {
		t.Fatalf("orig %v", want)
	}
	got := map[BlockID]uint64{}
	tb.SetOnForget(func(d BlockID, orig uint64) { got[d] = orig })
	tb.Sweep(keepOnly())
	for d, o := range want {
		if got[d] != o {
			t.Errorf("dense %d forgotten as original id %#x, Orig said %#x", d, got[d], o)
		}
	}
}

// TestTableWindowGrowsOverMapIDs: an id stored in the map because it lay
// past the flat window is found again once the window grows over it
// (lookup does not probe the map for ids inside the window).
func TestTableWindowGrowsOverMapIDs(t *testing.T) {
	for _, keep := range []bool{false, true} {
		tb := NewTable(keep)
		far := intern(t, tb, 100_000)
		if len(tb.ids) != 1 {
			t.Fatalf("keep %v: id 100000 not in the map (%d entries): the test no longer covers the growth", keep, len(tb.ids))
		}
		for id := uint64(1); id <= 70_000; id++ {
			intern(t, tb, id)
		}
		if uint64(len(tb.direct)) <= 100_000 {
			t.Fatalf("keep %v: window %d ids, never grew over 100000", keep, len(tb.direct))
		}
		n := tb.Len()
		if got := intern(t, tb, 100_000); !slices.Equal(got, far) || tb.Len() != n {
			t.Fatalf("keep %v: id 100000 is %v (table %d ids), was %v (%d ids)", keep, got, tb.Len(), far, n)
		}
	}
}
