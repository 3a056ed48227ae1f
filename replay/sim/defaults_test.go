package sim

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/scenario"
)

// A scenario with no size gets the shared default in whole blocks of the
// trace, and the run's canonical scenario names it.
func TestDefaultSizeInTraceBlocks(t *testing.T) {
	for _, bs := range []int{64, 512} {
		tr := mkTrace(t, bs, 0, 0, []uint64{1, 2}, []uint64{1, 3})
		run, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := int64(scenario.DefaultCacheTokens / bs)
		if run.Capacity != want || run.Unit != "blocks" || !strings.Contains(run.Scenario, ";cache_blocks="+strconv.FormatInt(want, 10)+";") {
			t.Errorf("block size %d: capacity %d %s, scenario %s; want %d blocks", bs, run.Capacity, run.Unit, run.Scenario, want)
		}
	}
}

// oversize=error checks every request first: the error counts them and
// names the size that holds the largest.
func TestOversizeErrorNamesTheSize(t *testing.T) {
	tr := mkTrace(t, 16, 0, 0, []uint64{1, 2, 3}, []uint64{4}, []uint64{5, 6, 7, 8, 9}, []uint64{10, 11, 12, 13})
	_, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;cache_blocks=2"), Options{})
	var oe *scenario.OversizedError
	if !errors.As(err, &oe) || oe.Count != 3 || oe.Largest != 5 || oe.Index != 0 || oe.Source != "test:0" {
		t.Fatalf("%v (%+v)", err, oe)
	}
	if !strings.Contains(err.Error(), "cache_blocks=5 or more (--cache-blocks 5)") {
		t.Fatalf("%v", err)
	}
	// The size it names is enough.
	if _, err := Simulate(context.Background(), tr, mustScenario(t, "round_robin+lru;cache_blocks=5"), Options{}); err != nil {
		t.Fatal(err)
	}
}
