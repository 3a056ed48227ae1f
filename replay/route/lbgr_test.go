package route

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

func newLBGR(t *testing.T, spec string, n int) *lbgr {
	t.Helper()
	return mustNew(t, spec, Env{Workers: n, BlockSize: 16, CachedMs: 0.01, MissMs: 0.15}).(*lbgr)
}

// input builds a request of in tokens without ids (all uncached).
func input(idx, in int) *trace.Request { return &trace.Request{Index: idx, Input: in} }

func TestLBGRScanRule(t *testing.T) {
	tests := []struct {
		w     []float64
		theta []float64
		want  int
		e     []float64
	}{
		// E = 100 + W. Worker 1: 109.5 < 110−1? no. Worker 2: 108.9 < 109 → yes.
		{w: []float64{10, 9.5, 8.9}, want: 2, e: []float64{110, 109.5, 108.9}},
		// Worker 1 replaces (108.5 < 109); worker 2's 107.9 is lower than 108.5
		// but not by more than 1: worker 1 stays.
		{w: []float64{10, 8.5, 7.9}, want: 1, e: []float64{110, 108.5, 107.9}},
		// Exactly 1 lower is not enough.
		{w: []float64{10, 9, 9}, want: 0, e: []float64{110, 109, 109}},
		// θ·φ (code: a bias) enters E; the floor is 1.
		{w: []float64{0, 0, 0}, theta: []float64{0, -500, -20}, want: 1, e: []float64{100, 1, 80}},
	}
	for _, tc := range tests {
		r := newLBGR(t, "lbgr", 3)
		copy(r.w, tc.w)
		if tc.theta != nil {
			copy(r.theta, tc.theta)
		}
		d := r.Route(0, input(0, 100))
		if d.Worker != tc.want || !slices.Equal(d.Scores, tc.e) {
			t.Fatalf("W %v θ %v: worker %d E %v, want %d %v", tc.w, tc.theta, d.Worker, d.Scores, tc.want, tc.e)
		}
		// inc = 100 (a_m = 1 ms per uncached token) added to the winner.
		if got := r.w[tc.want]; got != tc.w[tc.want]+100 {
			t.Fatalf("W after routing %g", got)
		}
	}
}

func TestLBGRCachedFromTree(t *testing.T) {
	r := newLBGR(t, "lbgr:preset=paper", 2)
	a := req(0, 16, ids(1, 2, 3), 0, 0) // 48 tokens
	d := r.Route(0, a)
	// Nothing cached: E = 0.15·48 = 7.2 on both, worker 0.
	if d.Worker != 0 || math.Abs(d.Scores[0]-7.2) > 1e-12 || math.Abs(d.Scores[1]-7.2) > 1e-12 {
		t.Fatalf("first: %d %v", d.Worker, d.Scores)
	}
	b := req(1, 16, ids(1, 2, 4), 0, 0)
	b.Input += 5 // tail: uncached everywhere
	d = r.Route(0, b)
	// Worker 0: 32 cached, 21 uncached, W = 7.2: 0.32 + 3.15 + 7.2 = 10.67.
	// Worker 1: 53 uncached: 7.95 → 7.95 < 10.67 − 1 → worker 1.
	if d.Worker != 1 || math.Abs(d.Scores[0]-10.67) > 1e-9 || math.Abs(d.Scores[1]-7.95) > 1e-9 {
		t.Fatalf("second: %d %v", d.Worker, d.Scores)
	}
	if pd := r.pending[1]; pd.phi != [4]float64{1, 0, 53, 0} || math.Abs(pd.base-7.95) > 1e-12 || math.Abs(pd.inc-7.95) > 1e-12 {
		t.Fatalf("pending %+v", pd)
	}
}

func TestLBGRDecayInstants(t *testing.T) {
	r := newLBGR(t, "lbgr", 1)
	a := input(0, 100)
	r.Route(0, a)
	if w := r.Loads(ms(19.999), nil)[0]; w != 100 {
		t.Fatalf("W at 19.999 ms = %g", w)
	}
	if w := r.Loads(ms(20), nil)[0]; w != 96.875 {
		t.Fatalf("W at 20 ms = %g, want 96.875", w)
	}
	// A routing at an instant comes after that instant's decay.
	b := input(1, 10)
	r.Route(ms(40), b)
	if w := r.w[0]; w != 100*lbgrDecay*lbgrDecay+10 {
		t.Fatalf("W after routing at 40 ms = %.17g, want %.17g", w, 100*lbgrDecay*lbgrDecay+10)
	}
	// Completion at an instant: d counts it. a: routed at 0, done at 60 ms →
	// instants 20, 40, 60 → d = 3. b: routed at 40, done at 60 → d = 1.
	if err := r.Complete(Completion{Worker: 0, Req: a, Routed: 0, Done: ms(60), E2E: ms(60)}); err != nil {
		t.Fatal(err)
	}
	want := (100*lbgrDecay*lbgrDecay+10)*lbgrDecay - 100*lbgrDecay*lbgrDecay*lbgrDecay
	if w := r.w[0]; w != want {
		t.Fatalf("W after a = %.17g, want %.17g", w, want)
	}
	if err := r.Complete(Completion{Worker: 0, Req: b, Routed: ms(40), Done: ms(60), E2E: ms(20)}); err != nil {
		t.Fatal(err)
	}
	if w := r.w[0]; w > 1e-12 {
		t.Fatalf("W after all completions = %g", w)
	}
}

// lbgrRef is an independent event-driven model of W: every decay instant
// is an explicit event, processed before routings and completions at the
// same time; W below 1e-9 ms is 0.
func TestLBGRDecayLazyEqualsEager(t *testing.T) {
	type ev struct {
		t    time.Duration
		kind int // 0 route, 1 complete
		idx  int
	}
	s := rng(9)
	var evs []ev
	now := time.Duration(0)
	var open []int
	for i := range 300 {
		now += time.Duration(s.IntN(int(45 * time.Millisecond)))
		if s.IntN(4) == 0 {
			now += (20*time.Millisecond - now%(20*time.Millisecond)) % (20 * time.Millisecond) // on an instant
		}
		evs = append(evs, ev{now, 0, i})
		open = append(open, i)
		for len(open) > 0 && s.IntN(2) == 0 {
			j := s.IntN(len(open))
			evs = append(evs, ev{now, 1, open[j]})
			open = slices.Delete(open, j, j+1)
		}
		if s.IntN(5) == 0 {
			now += 200 * time.Millisecond
		}
	}
	for _, j := range open {
		now += 7 * time.Millisecond
		evs = append(evs, ev{now, 1, j})
	}
	reqs := make([]*trace.Request, 300)
	for i := range reqs {
		reqs[i] = input(i, 1+s.IntN(500))
	}
	lazy, eager := newLBGR(t, "lbgr", 3), newLBGR(t, "lbgr", 3)
	worker := map[int]int{}
	routed := map[int]time.Duration{}
	// Reference: W per worker, decayed by explicit instants.
	refW := make([]float64, 3)
	refInc := map[int]float64{}
	refT := time.Duration(0) // last instant applied
	refAdvance := func(to time.Duration) {
		for next := refT + 20*time.Millisecond; next <= to; next += 20 * time.Millisecond {
			for i := range refW {
				if refW[i] *= lbgrDecay; refW[i] < 1e-9 {
					refW[i] = 0
				}
			}
			refT = next
		}
	}
	var tick time.Duration
	for _, e := range evs {
		for ; tick < e.t; tick += time.Millisecond {
			eager.Loads(tick, nil)
		}
		refAdvance(e.t)
		rq := reqs[e.idx]
		if e.kind == 0 {
			d := lazy.Route(e.t, rq)
			d2 := eager.Route(e.t, rq)
			if d.Worker != d2.Worker {
				t.Fatalf("lazy and eager disagree at %v", e.t)
			}
			worker[e.idx], routed[e.idx] = d.Worker, e.t
			refInc[e.idx] = float64(rq.Input)
			refW[d.Worker] += refInc[e.idx]
		} else {
			c := Completion{Worker: worker[e.idx], Req: rq, Routed: routed[e.idx], Done: e.t, E2E: e.t - routed[e.idx] + 10*time.Millisecond}
			if err := lazy.Complete(c); err != nil {
				t.Fatal(err)
			}
			if err := eager.Complete(c); err != nil {
				t.Fatal(err)
			}
			f := 1.0
			for k := int64(e.t/(20*time.Millisecond)) - int64(routed[e.idx]/(20*time.Millisecond)); k > 0; k-- {
				f *= lbgrDecay
			}
			if refW[c.Worker] -= refInc[e.idx] * f; refW[c.Worker] < 1e-9 {
				refW[c.Worker] = 0
			}
		}
		if !slices.Equal(lazy.w, eager.w) || !slices.Equal(lazy.w, refW) {
			t.Fatalf("at %v: lazy W %v, eager %v, reference %v", e.t, lazy.w, eager.w, refW)
		}
		if !slices.Equal(lazy.theta, eager.theta) {
			t.Fatal("θ differs")
		}
	}
}

func TestLBGRRLSByHand(t *testing.T) {
	r := newLBGR(t, "lbgr", 1)
	a := input(0, 100)
	r.Route(0, a) // base = 100
	if err := r.Complete(Completion{Worker: 0, Req: a, Done: ms(10), E2E: ms(150)}); err != nil {
		t.Fatal(err)
	}
	// y = max(1, 150 − 100) = 50; g = 1e6/(0.992 + 1e6); θ = 50g;
	// P = (1e6 − g·1e6)/0.992.
	g := 1e6 / (0.992 + 1e6)
	if math.Abs(r.theta[0]-50*g) > 1e-12 || math.Abs(r.p[0]-(1e6-g*1e6)/0.992) > 1e-9 {
		t.Fatalf("θ %.15g P %.15g, want %.15g %.15g", r.theta[0], r.p[0], 50*g, (1e6-g*1e6)/0.992)
	}
	// y floors at 1: e2e below the prediction.
	b := input(1, 100)
	d := r.Route(ms(10), b)
	th0, p0 := r.theta[0], r.p[0]
	base := d.Why.A + d.Why.B
	if err := r.Complete(Completion{Worker: 0, Req: b, Done: ms(20), E2E: ms(5)}); err != nil {
		t.Fatal(err)
	}
	if base < 5 {
		t.Fatalf("base %g", base)
	}
	g = p0 / (0.992 + p0)
	if want := th0 + g*(1-th0); math.Abs(r.theta[0]-want) > 1e-12 {
		t.Fatalf("θ %.15g want %.15g", r.theta[0], want)
	}
	// A failed request teaches nothing but frees its W.
	c := input(2, 30)
	r.Route(ms(20), c)
	th := r.theta[0]
	if err := r.Complete(Completion{Worker: 0, Req: c, Done: ms(21), E2E: ms(999), Failed: true}); err != nil {
		t.Fatal(err)
	}
	if r.theta[0] != th {
		t.Fatal("learned from a failure")
	}
	if err := r.Complete(Completion{Worker: 0, Req: c, Done: ms(22)}); err == nil {
		t.Fatal("double completion accepted")
	}
}

// solve solves A x = b by Gaussian elimination with partial pivoting.
func solve(A [][]float64, b []float64) []float64 {
	n := len(b)
	for c := range n {
		p := c
		for i := c + 1; i < n; i++ {
			if math.Abs(A[i][c]) > math.Abs(A[p][c]) {
				p = i
			}
		}
		A[c], A[p] = A[p], A[c]
		b[c], b[p] = b[p], b[c]
		for i := c + 1; i < n; i++ {
			f := A[i][c] / A[c][c]
			for j := c; j < n; j++ {
				A[i][j] -= f * A[c][j]
			}
			b[i] -= f * b[c]
		}
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		for j := i + 1; j < n; j++ {
			s -= A[i][j] * x[j]
		}
		x[i] = s / A[i][i]
	}
	return x
}

// After n updates RLS with forgetting λ and P₀ = 1e6·I solves
// (λⁿ·1e-6·I + Σ λⁿ⁻ᵏ φₖφₖᵀ) θ = Σ λⁿ⁻ᵏ φₖ yₖ: check the paper preset's
// 4-feature θ against that closed form.
func TestLBGRRLSClosedForm(t *testing.T) {
	r := newLBGR(t, "lbgr:preset=paper", 1)
	gen := newChainGen(4, 16, 2)
	s := rng(4)
	var phis [][4]float64
	var ys []float64
	now := time.Duration(0)
	for i := range 40 {
		rq := gen.request(i, 3)
		now += ms(float64(s.IntN(30)))
		r.Route(now, rq)
		pd := r.pending[i]
		e2e := ms(float64(5 + s.IntN(40)))
		now += ms(float64(s.IntN(10)))
		if err := r.Complete(Completion{Worker: 0, Req: rq, Routed: now, Done: now, E2E: e2e}); err != nil {
			t.Fatal(err)
		}
		phis = append(phis, pd.phi)
		ys = append(ys, max(1, float64(e2e)/1e6-pd.base))
	}
	n := len(ys)
	A := make([][]float64, 4)
	b := make([]float64, 4)
	for i := range A {
		A[i] = make([]float64, 4)
		A[i][i] = math.Pow(lbgrLambda, float64(n)) / lbgrP0
	}
	for k, phi := range phis {
		wt := math.Pow(lbgrLambda, float64(n-1-k))
		for i := range 4 {
			for j := range 4 {
				A[i][j] += wt * phi[i] * phi[j]
			}
			b[i] += wt * phi[i] * ys[k]
		}
	}
	want := solve(A, b)
	// Compare predictions θᵀφ on the data (better conditioned than θ itself).
	for k, phi := range phis {
		got, ref := 0.0, 0.0
		for i := range 4 {
			got += r.theta[i] * phi[i]
			ref += want[i] * phi[i]
		}
		if math.Abs(got-ref) > 1e-6*max(1, math.Abs(ref)) {
			t.Fatalf("prediction %d: RLS %.10g, closed form %.10g (θ %v vs %v)", k, got, ref, r.theta, want)
		}
	}
}

func TestLBGRPaperNeedsLatency(t *testing.T) {
	if _, _, err := New("lbgr:preset=paper", Env{Workers: 2, BlockSize: 16}); err == nil {
		t.Fatal("paper preset without a_m accepted")
	}
	if _, canon, err := New("lbgr", Env{Workers: 2, BlockSize: 16}); err != nil || canon != "lbgr:precise=false,preset=code" {
		t.Fatalf("canonical %q %v", canon, err)
	}
}

// stepDecay is the reference for W's decay: n rounded multiplications by
// 31/32, flushed to 0 (for good) once below 1e-9 ms.
func stepDecay(w float64, n int64) float64 {
	for ; n > 0 && w != 0; n-- {
		if w *= 31.0 / 32.0; w < 1e-9 {
			w = 0
		}
	}
	return w
}

// stepFactor is the reference (31/32)^d: the product of d factors, taken
// as 0 below 1e-300 (the product sticks at a subnormal instead of reaching
// 0; any inc·factor is then far below the flush threshold).
func stepFactor(d int64) float64 {
	f := 1.0
	for ; d > 0; d-- {
		if f *= 31.0 / 32.0; f < 1e-300 {
			return 0
		}
	}
	return f
}

// TestLBGRDecayGap pins W after a gap of n instants against the
// step-by-step reference: within 1e-12 relative while above the flush
// threshold (bit-identical up to lbgrSteps instants), exactly 0 after it;
// both the router's scheme and its closed form, through the router too.
func TestLBGRDecayGap(t *testing.T) {
	ns := []int64{1, 31, 32, 1000, lbgrSteps, lbgrSteps + 1, 5000, 1e9}
	ws := []float64{1e-9, 2e-9, 1, 100, 12345.678, 1e6, 3.7e8, 1e12, 1e18, 1e19, 1e30}
	for _, w := range ws {
		for _, n := range ns {
			want := stepDecay(w, n)
			for _, c := range []struct {
				name string
				got  float64
			}{{"scheme", lbgrDecayW(w, n)}, {"closed form", lbgrDecayClosed(w, n)}} {
				switch {
				case want == 0 && c.got != 0:
					t.Errorf("W %g, %d instants, %s: %g, want exactly 0", w, n, c.name, c.got)
				case want != 0 && math.Abs(c.got-want) > 1e-12*want:
					t.Errorf("W %g, %d instants, %s: %.17g, want %.17g (rel %.3g)", w, n, c.name, c.got, want, math.Abs(c.got-want)/want)
				}
			}
			if got := lbgrDecayW(w, n); n <= lbgrSteps && got != want {
				t.Errorf("W %g, %d instants: %.17g, want the step-by-step bits %.17g", w, n, got, want)
			}
		}
	}
	// Any W below 1e19 ms crosses the threshold within lbgrSteps instants,
	// so beyond them the closed form and the steps agree exactly (0).
	if w := stepDecay(1e19, lbgrSteps); w != 0 {
		t.Fatalf("1e19 ms after %d instants: %g, want 0", lbgrSteps, w)
	}
	// 1e9 instants give 0 from any finite W.
	if w := lbgrDecayW(math.MaxFloat64, 1e9); w != 0 {
		t.Fatalf("max float after 1e9 instants: %g", w)
	}
	// The values above the threshold for a few n (pinned: a change in the
	// arithmetic shows here).
	for _, c := range []struct {
		w    float64
		n    int64
		want float64
	}{
		{100, 1, 96.875},
		{100, 32, 100 * math.Pow(31.0/32, 32)},
		{1e6, 1000, 1e6 * math.Pow(31.0/32, 1000)},
	} {
		if got := lbgrDecayW(c.w, c.n); math.Abs(got-c.want) > 1e-12*c.want {
			t.Errorf("W %g after %d: %.17g, want %.17g", c.w, c.n, got, c.want)
		}
	}
	// (31/32)^d of a completion: the product of d factors up to lbgrSteps,
	// within 1e-12 beyond.
	for _, d := range []int64{0, 1, 31, 32, 1000, lbgrSteps, lbgrSteps + 1, 5000, 20000} {
		got, want := lbgrDecayFactor(d), stepFactor(d)
		if d <= lbgrSteps && got != want || math.Abs(got-want) > 1e-12*want {
			t.Errorf("factor %d: %.17g, want %.17g", d, got, want)
		}
	}
	// Through the router: W at the end of a gap, and a completion after it.
	for _, n := range ns {
		for _, in := range []int{1, 700, 50000} {
			r := newLBGR(t, "lbgr", 1)
			a, b := input(0, in), input(1, 3*in)
			r.Route(0, a)
			r.Route(0, b)
			at := time.Duration(n) * lbgrDecayEvery
			w0 := float64(4 * in)
			want := stepDecay(w0, n)
			if got := r.Loads(at, nil)[0]; want == 0 && got != 0 || math.Abs(got-want) > 1e-12*want {
				t.Errorf("in %d, %d instants: W %.17g, want %.17g", in, n, got, want)
			}
			if err := r.Complete(Completion{Worker: 0, Req: a, Done: at, E2E: at}); err != nil {
				t.Fatal(err)
			}
			want = want - float64(in)*stepFactor(n)
			if want < 1e-9 {
				want = 0
			}
			if got := r.w[0]; want == 0 && got != 0 || math.Abs(got-want) > 1e-12*want {
				t.Errorf("in %d, %d instants, after a completion: W %.17g, want %.17g", in, n, got, want)
			}
			if err := r.Complete(Completion{Worker: 0, Req: b, Done: at, E2E: at}); err != nil {
				t.Fatal(err)
			}
			if r.w[0] != 0 {
				t.Errorf("in %d, %d instants: W %.17g after every completion, want 0", in, n, r.w[0])
			}
		}
	}
}

// A decision's Why holds the parts of E of the winner and the runner-up:
// they give back the compared scores bit for bit, and the reason names the
// part that separates them.
func TestLBGRWhy(t *testing.T) {
	r := newLBGR(t, "lbgr", 3)
	r.tree.insert(1, req(-1, 16, ids(1, 2, 3), 0, 0))
	copy(r.w, []float64{0, 30, 5})
	copy(r.theta, []float64{400, 900, 0})
	// E: w0 64+0+400 = 464; w1 16+30+900 = 946; w2 64+5+0 = 69.
	d := r.Route(0, req(0, 16, ids(1, 2, 3, 4), 0, 0))
	win, alt, ok := d.Why.LBGRTerms()
	want := LBGRTerms{Prefill: 64, Queue: 5, Learned: 0, Cached: 0}
	if !ok || d.Worker != 2 || d.Why.Alt != 0 || win != want || alt != (LBGRTerms{Prefill: 64, Learned: 400}) {
		t.Fatalf("worker %d alt %d terms %+v %+v", d.Worker, d.Why.Alt, win, alt)
	}
	if got, w := d.Reason(), "lbgr: lowest E → worker 2: 69 ms = prefill 64 + W 5 + learned 0, 0 tokens cached in the router's view; next best worker 0: 464 ms = prefill 64 + W 0 + learned 400, 0 cached; largest difference: learned θ·φ, 400 ms lower on worker 2"; got != w {
		t.Fatalf("reason\n%s\nwant\n%s", got, w)
	}
	// Kept by the scan rule: the runner-up is lower, but not by more than 1.
	r = newLBGR(t, "lbgr", 3)
	copy(r.w, []float64{10, 8.5, 7.9})
	d = r.Route(0, input(0, 100))
	if got, w := d.Reason(), "lbgr: worker 1 kept, E 108.5 ms = prefill 100 + W 8.5 + learned 0, 0 tokens cached in the router's view; worker 2's E 107.9 ms = prefill 100 + W 7.9 + learned 0 (0 cached) is lower, but a later worker must be lower by more than 1 ms"; d.Worker != 1 || got != w {
		t.Fatalf("worker %d reason\n%s\nwant\n%s", d.Worker, got, w)
	}
	// The floor, and a single worker.
	r = newLBGR(t, "lbgr", 1)
	r.theta[0] = -500
	if got, w := r.Route(0, input(0, 100)).Reason(), "lbgr: single worker 0, E 1 ms (the floor) = prefill 100 + W 0 + learned -500, 0 tokens cached in the router's view"; got != w {
		t.Fatalf("reason\n%s\nwant\n%s", got, w)
	}
	// Over learning runs of both presets, tree and precise: the parts give
	// back the scores bit for bit, and the cached tokens the router used.
	for _, spec := range []string{"lbgr", "lbgr:preset=paper", "lbgr:precise=true", "lbgr:preset=paper,precise=true"} {
		cl := newFakeCluster(4, 16)
		r := mustNew(t, spec, Env{Workers: 4, BlockSize: 16, CachedMs: 0.01, MissMs: 0.15, Cluster: cl}).(*lbgr)
		gen := newChainGen(7, 16, 3)
		s := rng(3)
		now := time.Duration(0)
		type open struct {
			rq *trace.Request
			w  int
			at time.Duration
		}
		var inflight []open
		for i := range 300 {
			now += ms(float64(s.IntN(40)))
			rq := gen.request(i, 6)
			d := r.Route(now, rq)
			win, alt, _ := d.Why.LBGRTerms()
			if win.E() != d.Scores[d.Worker] || alt.E() != d.Scores[d.Why.Alt] ||
				float64(win.Cached) != r.tok[d.Worker] || float64(alt.Cached) != r.tok[d.Why.Alt] {
				t.Fatalf("%s request %d: terms %+v %+v, scores %v, cached %v", spec, i, win, alt, d.Scores, r.tok)
			}
			cl.cache(d.Worker, rq.Blocks...)
			inflight = append(inflight, open{rq, d.Worker, now})
			for len(inflight) > 0 && s.IntN(3) == 0 {
				o := inflight[0]
				inflight = inflight[1:]
				if err := r.Complete(Completion{Worker: o.w, Req: o.rq, Routed: o.at, Done: now, E2E: now - o.at + ms(float64(s.IntN(500)))}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
