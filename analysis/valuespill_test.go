package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// TestSpillValuesMatchesExact: an exact tally that spills its values
// (budgets from 3 values, a flush every record, to more than the run
// holds, no flush at all) gives the held tally's summary to the byte, and
// leaves no file behind.
func TestSpillValuesMatchesExact(t *testing.T) {
	base := scenario.Default(param.Spec{}, param.Spec{})
	for _, s := range []string{
		"cache_aware+lru;workers=4;cache_blocks=300;oversize=fail",
		"lbgr+rlt;workers=4;cache_blocks=300;oversize=bypass",
		"least_load+lru;workers=3;cache_blocks=12;oversize=fail",
	} {
		sc, err := scenario.Parse(s, base)
		if err != nil {
			t.Fatal(err)
		}
		want, err := SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{}, NewTally(sc.Workers))
		if err != nil {
			t.Fatal(err)
		}
		wj, _ := json.Marshal(want)
		for _, budget := range []int{3, 100, 1999, 6000, 1 << 20} {
			t.Run(fmt.Sprintf("%s/budget=%d", s, budget), func(t *testing.T) {
				dir := t.TempDir()
				tl := NewTally(sc.Workers)
				tl.SpillValues(dir, budget)
				defer tl.Close()
				got, err := SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{}, tl)
				if err != nil {
					t.Fatal(err)
				}
				if gj, _ := json.Marshal(got); !bytes.Equal(wj, gj) {
					t.Fatalf("spilled:\n%s\nheld:\n%s", gj, wj)
				}
				runs := len(tl.spill.queue)
				if spills := budget <= 3*want.Completed; spills != (runs > 0) {
					t.Fatalf("budget %d of %d values: %d sorted runs", budget, 3*want.Completed, runs)
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Fatalf("left behind: %v", ents)
				}
			})
		}
	}
}

// TestSpillValuesError: a spill that cannot be written fails the summary
// with a message that says so, instead of reporting short percentiles.
func TestSpillValuesError(t *testing.T) {
	sc, err := scenario.Parse("round_robin+lru;workers=2;cache_blocks=300", scenario.Default(param.Spec{}, param.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	tl := NewTally(sc.Workers)
	tl.SpillValues(filepath.Join(t.TempDir(), "missing"), 10)
	_, err = SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{}, tl)
	if err == nil || !strings.Contains(err.Error(), "spilling percentile values") {
		t.Fatalf("error %v", err)
	}
}

// TestSummaryStreamChainsOnRecord: the caller's OnRecord sees every
// record, in trace order, after the tally.
func TestSummaryStreamChainsOnRecord(t *testing.T) {
	sc, err := scenario.Parse("round_robin+lru;workers=2;cache_blocks=300", scenario.Default(param.Spec{}, param.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	m, err := SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{OnRecord: func(r *sim.Record, _ *trace.Request) {
		if int(r.Index) != n {
			t.Fatalf("record %d after %d", r.Index, n-1)
		}
		n++
	}}, NewTally(sc.Workers))
	if err != nil {
		t.Fatal(err)
	}
	if n != m.Requests || n == 0 {
		t.Fatalf("%d records seen of %d", n, m.Requests)
	}
}

// The exact tally's cost of spilling: 2 M synthetic completed records on
// 8 workers tallied and summarised, held (48 MB of values) against spilled
// past 2^20 values (8 MB, six sorted runs per distribution), in the same
// iteration; spilled/held is the time ratio. Peak held values, not time,
// is what spilling buys.
// go test ./analysis -run '^$' -bench 'TallySpill' -benchtime 3x
func BenchmarkTallySpill(b *testing.B) {
	const n, workers = 2_000_000, 8
	rec := func(i int) *sim.Record {
		x := time.Duration(uint64(i)*2654435761%1_000_003) * time.Microsecond
		return &sim.Record{Index: int32(i), Worker: int16(i % workers), Arrival: x, Start: x + x/7, FirstToken: x + x/3, Done: 2*x + time.Second}
	}
	run := &sim.Run{Workers: workers, Samples: make([][]sim.Sample, workers)}
	tally := func(spill bool) time.Duration {
		start := time.Now()
		t := NewTally(workers)
		if spill {
			t.SpillValues(b.TempDir(), 1<<20)
		}
		for i := range n {
			t.Add(rec(i))
		}
		m := t.Metrics(run, 1, math.NaN())
		if err := t.Err(); err != nil || m.Completed != n {
			b.Fatal(err, m.Completed)
		}
		t.Close()
		return time.Since(start)
	}
	var held, spilled time.Duration
	for b.Loop() {
		held += tally(false)
		spilled += tally(true)
	}
	b.ReportMetric(float64(spilled)/float64(held), "spilled/held")
	b.ReportMetric(float64(n)*float64(b.N)/spilled.Seconds(), "spilled-records/s")
}

// TestSpillValuesRemovedWhereNotUnlinked: where the file cannot be
// unlinked while open (Windows), Close removes it, also from the system's
// temporary directory (dir "").
func TestSpillValuesRemovedWhereNotUnlinked(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("TMP", tmp)
	refused := false
	unlinkOpen = func(string) error { refused = true; return errors.New("in use") }
	defer func() { unlinkOpen = os.Remove }()
	sc, err := scenario.Parse("round_robin+lru;workers=2;cache_blocks=300", scenario.Default(param.Spec{}, param.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	tl := NewTally(sc.Workers)
	tl.SpillValues("", 10)
	if _, err := SummaryStream(context.Background(), sampleStream(t), sc, sim.StreamOptions{}, tl); err != nil {
		t.Fatal(err)
	}
	tl.Close()
	if !refused {
		t.Fatal("the tally did not spill")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("left behind in the temporary directory: %v", ents)
	}
}

// TestSpillValuesCapacityBounded: a flush keeps the slices' capacity only
// where this interval used it, so the values held stay within about twice
// the budget even when the requests move from worker to worker (each
// worker's slices were kept at their largest, workers times the budget).
func TestSpillValuesCapacityBounded(t *testing.T) {
	const workers, budget = 8, 3000
	tl := NewTally(workers)
	tl.SpillValues(t.TempDir(), budget)
	defer tl.Close()
	for w := range workers {
		for i := range budget / 3 {
			x := time.Duration(i) * time.Millisecond
			tl.Add(&sim.Record{Index: int32(w*budget/3 + i), Worker: int16(w), Arrival: x, Start: x, FirstToken: 2 * x, Done: 3 * x})
		}
	}
	held := cap(tl.queue)
	for w := range workers {
		held += cap(tl.ttft[w]) + cap(tl.e2e[w])
	}
	if held > 2*budget {
		t.Fatalf("%d values of capacity held after the flushes, budget %d", held, budget)
	}
}
