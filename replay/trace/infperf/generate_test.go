package infperf

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/tracetest"
)

// collect generates p and keeps copies of the requests.
func collect(t testing.TB, p *Params) ([]trace.Request, *Summary) {
	t.Helper()
	var out []trace.Request
	sum, err := p.Run(func(r *trace.Request) error {
		c := *r
		c.Blocks = slices.Clone(r.Blocks)
		c.Tags = slices.Clone(r.Tags)
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, sum
}

func load(t testing.TB, path string) *Config {
	t.Helper()
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tagValue is the value of tag key=… of r, -1 if absent.
func tagValue(r *trace.Request, key string) int {
	for _, tg := range r.Tags {
		if v, ok := strings.CutPrefix(tg, key+"="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return -1
}

// native writes the requests as a native trace and reads it back: the
// writer validates every request, the reader the one-parent rule.
func native(t testing.TB, p *Params) (*trace.Trace, []byte) {
	t.Helper()
	return tracetest.Generate(t, p, trace.FormatNative, "kvscope gen "+p.Canonical())
}

// checkTiming checks what every load must give: arrivals in order, each
// stage's requests tagged with it, each stage starting after the previous
// one's last send plus the interval and the lead, and constant stages
// sending int(rate × duration) requests, the last at the stage's end.
func checkTiming(t *testing.T, c *Config, reqs []trace.Request, sum *Summary) {
	t.Helper()
	if len(sum.Stages) != len(c.Load.Stages) {
		t.Fatalf("%d stages summarised, %d configured", len(sum.Stages), len(c.Load.Stages))
	}
	per := make([]int64, len(c.Load.Stages))
	for i := range reqs {
		r := &reqs[i]
		if i > 0 && r.Arrival < reqs[i-1].Arrival {
			t.Fatalf("request %d arrives at %v, before request %d at %v", i, r.Arrival, i-1, reqs[i-1].Arrival)
		}
		k := tagValue(r, "stage")
		if k < 0 || k >= len(per) || (i > 0 && k < tagValue(&reqs[i-1], "stage")) {
			t.Fatalf("request %d: stage tag %v", i, r.Tags)
		}
		st := sum.Stages[k]
		if r.Arrival <= st.Start || r.Arrival < st.First || r.Arrival > st.Last {
			t.Fatalf("request %d at %v outside stage %d: %+v", i, r.Arrival, k, st)
		}
		per[k]++
	}
	lead := time.Duration(0)
	if c.Load.MultiProcess() {
		lead = time.Second
	}
	for k, st := range sum.Stages {
		s := c.Load.Stages[k]
		if per[k] != st.Requests {
			t.Fatalf("stage %d: %d requests tagged, summary says %d", k, per[k], st.Requests)
		}
		dur := time.Duration(s.Duration) * time.Second
		switch {
		case c.Load.MultiProcess() && per[k] != s.Requests():
			t.Fatalf("stage %d: %d requests, want int(%g × %d) = %d", k, per[k], s.Rate, s.Duration, s.Requests())
		case !c.Load.MultiProcess() && st.Last-st.Start > dur: // (before it in float64 seconds, at most on it in ns)
			t.Fatalf("stage %d without worker processes: last send %v after its start", k, st.Last-st.Start)
		case c.Load.Type == LoadConstant && per[k] > s.Requests():
			t.Fatalf("constant stage %d: %d requests, more than %d", k, per[k], s.Requests())
		}
		if c.Load.Type == LoadConstant && c.Load.MultiProcess() {
			if d := st.Last - st.Start - dur; d < -time.Nanosecond || d > time.Nanosecond {
				t.Fatalf("stage %d: last send %v after its start, want the duration %v", k, st.Last-st.Start, dur)
			}
		}
		if k > 0 {
			prev := sum.Stages[k-1]
			want := prev.Last + time.Duration(math.Round(max(c.Load.Interval, 0)*1e9)) + lead
			if prev.Requests == 0 {
				want = prev.Start + time.Duration(c.Load.Stages[k-1].Duration)*time.Second + lead
			}
			if st.Start != want {
				t.Fatalf("stage %d starts at %v, want %v", k, st.Start, want)
			}
		}
	}
}

func TestSharedPrefix(t *testing.T) {
	c := load(t, "testdata/dump_shared_prefix.yaml")
	for _, bs := range []int{1, 16, 64} {
		p := &Params{Config: c, BlockSize: bs, Seed: 3}
		reqs, sum := collect(t, p)
		checkTiming(t, c, reqs, sum)
		if len(reqs) != 15+9 || sum.Requests != 24 {
			t.Fatalf("%d requests, want 3×5 + int(4.5×2) = 24", len(reqs))
		}
		sp := c.Data.SharedPrefix
		P := sp.Prompts()
		shared, full := 40/bs, 70/bs
		chains := map[string]int{} // chain → group
		byPos := map[int]string{}  // position within its stage (mod P) → chain
		groupPrefix := map[int]string{}
		for i := range reqs {
			r := &reqs[i]
			if r.Input != 70 || r.Output != 8 || r.Session != -1 || r.Parent != trace.NoParent || r.ID != int64(i) {
				t.Fatalf("request %d: %+v", i, r)
			}
			if len(r.Blocks) != full || r.TailTokens(bs) != 70-full*bs {
				t.Fatalf("bs %d request %d: %d blocks, %d tail tokens", bs, i, len(r.Blocks), r.TailTokens(bs))
			}
			g := tagValue(r, "group")
			key := chainKey(r.Blocks)
			if prev, ok := chains[key]; ok && prev != g {
				t.Fatalf("chain of request %d in groups %d and %d", i, prev, g)
			}
			chains[key] = g
			pre := chainKey(r.Blocks[:shared])
			if prev, ok := groupPrefix[g]; ok && prev != pre {
				t.Fatalf("group %d: system prompt blocks %s and %s", g, prev, pre)
			}
			groupPrefix[g] = pre
			// Request j of every stage is prompt j mod P of one order.
			pos := i
			if tagValue(r, "stage") == 1 {
				pos = i - 15
			}
			if prev, ok := byPos[pos%P]; ok && prev != key {
				t.Fatalf("position %d of the order holds two prompts", pos%P)
			}
			byPos[pos%P] = key
		}
		if len(chains) != P || len(groupPrefix) != sp.Groups {
			t.Fatalf("%d distinct prompts in %d groups, want %d in %d", len(chains), len(groupPrefix), P, sp.Groups)
		}
		perGroup := map[int]int{}
		for _, g := range chains {
			perGroup[g]++
		}
		for g, n := range perGroup {
			if n != sp.PromptsPerGroup {
				t.Fatalf("group %d has %d prompts", g, n)
			}
		}
		// Groups share nothing; ids are dense in order of first appearance.
		want := uint64(sp.Groups*shared + P*(full-shared))
		if sum.Blocks != want {
			t.Fatalf("bs %d: %d ids, want %d", bs, sum.Blocks, want)
		}
		tr, _ := native(t, p)
		if uint64(tr.Blocks.Len()) != want || len(tr.Requests) != len(reqs) {
			t.Fatalf("read back: %d blocks, %d requests", tr.Blocks.Len(), len(tr.Requests))
		}
		for i := range reqs {
			if !slices.Equal(tr.Requests[i].Blocks, reqs[i].Blocks) || !slices.Equal(tr.Requests[i].Tags, reqs[i].Tags) {
				t.Fatalf("request %d changed on the round trip", i)
			}
		}
	}
}

func chainKey(b []trace.BlockID) string {
	var s strings.Builder
	for _, id := range b {
		s.WriteString(strconv.FormatUint(uint64(id), 10))
		s.WriteByte(',')
	}
	return s.String()
}

func TestDeterministic(t *testing.T) {
	for _, f := range []string{"testdata/dump_shared_prefix.yaml", "testdata/input_multi_turn.yaml", "testdata/random.yaml"} {
		c := load(t, f)
		_, a := native(t, &Params{Config: c, BlockSize: 16, Seed: 1})
		_, b := native(t, &Params{Config: c, BlockSize: 16, Seed: 1})
		_, o := native(t, &Params{Config: c, BlockSize: 16, Seed: 2})
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: the same seed gave different bytes", f)
		}
		if bytes.Equal(a, o) {
			t.Fatalf("%s: seeds 1 and 2 gave the same bytes", f)
		}
	}
}

// A stage's draws depend on the seed and its number only: adding a stage
// after it leaves it as it was.
func TestStagesIndependent(t *testing.T) {
	c := load(t, "testdata/input_multi_turn.yaml")
	one := *c
	one.Load.Stages = c.Load.Stages[:1]
	all, _ := collect(t, &Params{Config: c, BlockSize: 16, Seed: 5})
	first, _ := collect(t, &Params{Config: &one, BlockSize: 16, Seed: 5})
	for i := range first {
		if first[i].Arrival != all[i].Arrival || first[i].Input != all[i].Input {
			t.Fatalf("request %d differs when a stage follows", i)
		}
	}
}

func TestMultiTurn(t *testing.T) {
	c := load(t, "testdata/input_multi_turn.yaml")
	// Longer stages, so that conversations reach several turns.
	c.Load.Stages = []Stage{{Rate: 8, Duration: 5}, {Rate: 4, Duration: 3}}
	bs := 4
	p := &Params{Config: c, BlockSize: bs, Seed: 9}
	reqs, sum := collect(t, p)
	checkTiming(t, c, reqs, sum)
	P := int64(c.Data.SharedPrefix.Prompts())
	type conv struct {
		turns int
		last  *trace.Request
		first *trace.Request
	}
	convs := map[int64]*conv{}
	firstOf := map[int64]*trace.Request{} // prompt → its first turn in stage 0
	for i := range reqs {
		r := &reqs[i]
		k := int64(tagValue(r, "stage"))
		if r.Session/P != k {
			t.Fatalf("request %d: session %d in stage %d", i, r.Session, k)
		}
		cv := convs[r.Session]
		if cv == nil {
			cv = &conv{first: r}
			convs[r.Session] = cv
		}
		cv.turns++
		L := int(cv.first.Input)
		O := r.Output
		if r.Turn != cv.turns || r.Input != cv.turns*L+(cv.turns-1)*O {
			t.Fatalf("request %d: turn %d, input %d; want turn %d, input %d", i, r.Turn, r.Input, cv.turns, cv.turns*L+(cv.turns-1)*O)
		}
		if L < 20+5 || L > 20+12 {
			t.Fatalf("request %d: prompt of %d tokens, want 20 + [5, 12]", i, L)
		}
		if len(r.Blocks) != r.Input/bs {
			t.Fatalf("request %d: %d blocks for %d tokens", i, len(r.Blocks), r.Input)
		}
		if cv.last == nil {
			if r.Parent != trace.NoParent {
				t.Fatalf("request %d: a first turn with parent %d", i, r.Parent)
			}
		} else {
			// The previous turn is a prefix of this one.
			if r.Parent != cv.last.ID || !slices.Equal(r.Blocks[:len(cv.last.Blocks)], cv.last.Blocks) {
				t.Fatalf("request %d: parent %d, previous turn %d; blocks not extended", i, r.Parent, cv.last.ID)
			}
		}
		cv.last = r
		u := r.Session % P
		if r.Turn == 1 {
			if f, ok := firstOf[u]; ok {
				if !slices.Equal(f.Blocks, r.Blocks) {
					t.Fatalf("prompt %d: its first turn differs between stages", u)
				}
			} else {
				firstOf[u] = r
			}
		}
	}
	var multi bool
	for _, cv := range convs {
		multi = multi || cv.turns > 2
	}
	if !multi || len(firstOf) != int(P) {
		t.Fatalf("conversations %d (some past turn 2: %v), prompts seen %d", len(convs), multi, len(firstOf))
	}
	native(t, p)
}

func TestRandom(t *testing.T) {
	c := load(t, "testdata/random.yaml")
	p := &Params{Config: c, BlockSize: 16, Seed: 4}
	reqs, sum := collect(t, p)
	checkTiming(t, c, reqs, sum)
	// Without worker processes a constant stage keeps the times before its
	// end: all N, or N-1 when the last lands on the end exactly.
	for k, st := range sum.Stages {
		if n := c.Load.Stages[k].Requests(); st.Requests != n && st.Requests != n-1 {
			t.Fatalf("stage %d: %d requests, want %d or %d", k, st.Requests, n, n-1)
		}
	}
	n0 := int(sum.Stages[0].Requests)
	seen := map[trace.BlockID]bool{}
	for i := range reqs {
		r := &reqs[i]
		if r.Output != 12 || r.Input < 10 || r.Input > 200 || len(r.Blocks) != r.Input/16 {
			t.Fatalf("request %d: %+v", i, r)
		}
		for _, b := range r.Blocks {
			if seen[b] {
				t.Fatalf("request %d shares block %d", i, b)
			}
			seen[b] = true
		}
		// Each stage reads the length lists from their start.
		if i >= n0 && r.Input != reqs[i-n0].Input {
			t.Fatalf("request %d of stage 1 has %d tokens, request %d of stage 0 %d", i-n0, r.Input, i-n0, reqs[i-n0].Input)
		}
	}
	native(t, p)
}

func TestPoissonLoad(t *testing.T) {
	for _, mp := range []bool{true, false} {
		c := load(t, "testdata/input_multi_turn.yaml")
		c.Data.SharedPrefix.MultiTurn = false
		c.Load.Stages = []Stage{{Rate: 40, Duration: 50}, {Rate: 0.5, Duration: 60}}
		if !mp {
			c.Load.NumWorkers = 0
		}
		reqs, sum := collect(t, &Params{Config: c, BlockSize: 16, Seed: 11})
		checkTiming(t, c, reqs, sum)
		st := sum.Stages[0]
		// Per-second counts are Poisson(40): a stage of 2000 requests lasts
		// about 50 s (sd of the count per 50 s: sqrt(2000) ≈ 45).
		span := (st.Last - st.Start).Seconds()
		if span < 44 || span > 56 {
			t.Fatalf("mp %v: stage 0 spans %.1f s", mp, span)
		}
		if !mp && (st.Requests < 1700 || st.Requests > 2300) {
			t.Fatalf("stage 0 without worker processes: %d requests", st.Requests)
		}
	}
}

// Constant gaps are exponential before scaling: their coefficient of
// variation is about 1 (even spacing would give 0).
func TestConstantGaps(t *testing.T) {
	c := load(t, "testdata/dump_shared_prefix.yaml")
	c.Load.Stages = []Stage{{Rate: 100, Duration: 100}}
	reqs, sum := collect(t, &Params{Config: c, BlockSize: 16, Seed: 2})
	prev := sum.Stages[0].Start
	var s, s2 float64
	for i := range reqs {
		g := (reqs[i].Arrival - prev).Seconds()
		prev = reqs[i].Arrival
		s += g
		s2 += g * g
	}
	n := float64(len(reqs))
	mean := s / n
	cv := math.Sqrt(s2/n-mean*mean) / mean
	if math.Abs(mean-0.01) > 1e-9 || cv < 0.95 || cv > 1.05 {
		t.Fatalf("gaps: mean %g s, cv %g", mean, cv)
	}
}

func TestParamsErrors(t *testing.T) {
	c := load(t, "testdata/dump_shared_prefix.yaml")
	if err := (&Params{Config: c, BlockSize: 0}).Validate(); err == nil || err.Error() != "--block-size: must be in [1, 16777216] (got 0)" {
		t.Fatalf("block size 0: %v", err)
	}
	if err := (&Params{BlockSize: 16}).Validate(); err == nil {
		t.Fatal("no configuration accepted")
	}
	if got := (&Params{Config: c, BlockSize: 16, Seed: 3}).Canonical(); got != "inference-perf testdata/dump_shared_prefix.yaml --block-size 16 --seed 3" {
		t.Fatalf("canonical %q", got)
	}
	r := load(t, "testdata/random.yaml")
	r.Load.Stages = append(r.Load.Stages, Stage{Rate: 100, Duration: 1})
	if _, err := (&Params{Config: r, BlockSize: 16}).Run(func(*trace.Request) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "is past total_count 50") {
		t.Fatalf("past total_count: %v", err)
	}
}
