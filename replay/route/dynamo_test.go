package route

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestDynamoCost(t *testing.T) {
	cl := newFakeCluster(3, 16)
	// Request: 4 blocks (64 tokens) + 10 tail tokens → 5 input blocks.
	rq := req(0, 16, ids(1, 2, 3, 4), 0, 0)
	rq.Input += 10
	cl.cache(0, 1, 2, 3) // overlap 3
	cl.cache(1, 1)       // overlap 1
	cl.cache(2, 2, 3)    // overlap 0 (prefix misses at block 1)
	tests := []struct {
		spec     string
		inflight []int // input blocks in flight per worker
		want     int
		scores   []float64
	}{
		// cost = 1·(5 − overlap) + inflight + 5.
		{spec: "dynamo", inflight: []int{6, 0, 0}, want: 1, scores: []float64{2 + 6 + 5, 4 + 0 + 5, 5 + 0 + 5}},
		{spec: "dynamo", inflight: []int{2, 0, 0}, want: 0, scores: []float64{2 + 2 + 5, 9, 10}},
		// overlap_weight 3: 3·prefill + decode.
		{spec: "dynamo:overlap_weight=3", inflight: []int{6, 0, 0}, want: 0, scores: []float64{6 + 6 + 5, 12 + 5, 15 + 5}},
		// Ties to the lowest index: 9 = 9.
		{spec: "dynamo", inflight: []int{2, 2, 0}, want: 0, scores: []float64{9, 11, 10}},
	}
	for _, tc := range tests {
		r := mustNew(t, tc.spec, Env{Workers: 3, BlockSize: 16, Cluster: cl}).(*dynamo)
		for w, k := range tc.inflight {
			r.inflight[w], r.reqs[w] = float64(k), int64(k) // k one-block requests in flight
		}
		d := r.Route(time.Millisecond, rq)
		if d.Worker != tc.want || !slices.Equal(d.Scores, tc.scores) {
			t.Fatalf("%s inflight %v: worker %d scores %v, want %d %v", tc.spec, tc.inflight, d.Worker, d.Scores, tc.want, tc.scores)
		}
		if d.Why.Rule != ruleLowestCost {
			t.Fatalf("rule %v", d.Why.Rule)
		}
	}
}

func TestDynamoInflightAccounting(t *testing.T) {
	cl := newFakeCluster(2, 16)
	r := mustNew(t, "dynamo", Env{Workers: 2, BlockSize: 16, Cluster: cl})
	a := req(0, 16, ids(1, 2, 3), 7, 0) // 3 blocks
	d := r.Route(0, a)
	if got := r.Loads(0, nil); !slices.Equal(got, []float64{3, 0}) || d.Worker != 0 {
		t.Fatalf("loads %v", got)
	}
	b := req(1, 16, ids(4), 0, 0)
	if d := r.Route(0, b); d.Worker != 1 || !slices.Equal(d.Scores, []float64{1 + 3 + 1, 1 + 0 + 1}) {
		t.Fatalf("worker %d scores %v", d.Worker, d.Scores)
	}
	if err := r.Complete(Completion{Worker: 0, Req: a, Done: time.Second}); err != nil {
		t.Fatal(err)
	}
	if got := r.Loads(time.Second, nil); !slices.Equal(got, []float64{0, 1}) {
		t.Fatalf("loads %v", got)
	}
}

// With temperature > 0 the pick follows exp(−c'/T) over normalised costs,
// one Float64 draw per decision from the router stream.
func TestDynamoTemperature(t *testing.T) {
	cl := newFakeCluster(4, 16)
	cl.cache(0, 1, 2, 3, 4) // costs: w0 0+4 = 4, w1 2+4 = 6, w2 3+4=7, w3 4+4 = 8
	cl.cache(1, 1, 2)
	cl.cache(2, 1)
	const T = 0.5
	r := mustNew(t, "dynamo:temperature=0.5", Env{Workers: 4, BlockSize: 16, Cluster: cl, Rand: rng(11)})
	costs := []float64{4, 6, 7, 8}
	p := make([]float64, 4)
	sum := 0.0
	for i, c := range costs {
		p[i] = math.Exp(-(c - 4) / 4 / T)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	s := rng(11)
	const N = 20000
	cnt := make([]int, 4)
	for i := range N {
		rq := req(i, 16, ids(1, 2, 3, 4), 0, 0)
		d := r.Route(0, rq)
		if !slices.Equal(d.Scores, costs) {
			t.Fatalf("costs %v", d.Scores)
		}
		// Replay the draw independently.
		u := s.Float64()
		want, acc := 3, 0.0
		for j := range p {
			if acc += p[j]; u < acc {
				want = j
				break
			}
		}
		if d.Worker != want && math.Abs(u-acc) > 1e-12 {
			t.Fatalf("request %d: worker %d, draw %g says %d", i, d.Worker, u, want)
		}
		if d.Why.Rule != ruleSampled || d.Why.Alt != 0 || math.Abs(d.Why.A-p[d.Worker]) > 1e-12 {
			t.Fatalf("why %+v", d.Why)
		}
		cnt[d.Worker]++
		if err := r.Complete(Completion{Worker: d.Worker, Req: rq}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range p {
		sd := math.Sqrt(N * p[i] * (1 - p[i]))
		if math.Abs(float64(cnt[i])-N*p[i]) > 5*sd {
			t.Fatalf("worker %d drawn %d times, expected %.0f ± %.0f", i, cnt[i], N*p[i], sd)
		}
	}
	// All costs equal → uniform.
	eq := mustNew(t, "dynamo:temperature=2", Env{Workers: 3, BlockSize: 16, Cluster: newFakeCluster(3, 16), Rand: rng(2)})
	cnt = make([]int, 3)
	for i := range 3000 {
		rq := req(i, 16, ids(1), 0, 0)
		d := eq.Route(0, rq)
		cnt[d.Worker]++
		eq.Complete(Completion{Worker: d.Worker, Req: rq})
	}
	for w, c := range cnt {
		if c < 850 || c > 1150 {
			t.Fatalf("equal costs: worker %d drawn %d of 3000", w, c)
		}
	}
}
