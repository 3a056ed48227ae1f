package analysis

import (
	"encoding/json"
	"math"
	"testing"
)

func TestPercentileNearestRank(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct{ q, want float64 }{
		{0.5, 5}, {0.9, 9}, {0.99, 10}, {0.0, 1}, {1, 10}, {0.11, 2},
	} {
		if got := Percentile(xs, tc.q); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(Percentile(nil, 0.5)) {
		t.Error("empty percentile should be NaN")
	}
	d := Summarize([]float64{3, 1, 2})
	if d.P50 != 2 || d.P99 != 3 || d.Mean != 2 || d.N != 3 {
		t.Errorf("Summarize = %+v", d)
	}
}

func TestImbalance(t *testing.T) {
	im := ImbalanceOf([]float64{1, 1, 1, 1})
	if im.MaxOverMean != 1 || im.CV != 0 || im.Jain != 1 {
		t.Errorf("balanced: %+v", im)
	}
	im = ImbalanceOf([]float64{4, 0, 0, 0})
	if im.MaxOverMean != 4 || math.Abs(im.CV-math.Sqrt(3)) > 1e-12 || im.Jain != 0.25 {
		t.Errorf("one hot: %+v", im)
	}
	im = ImbalanceOf([]float64{2, 4})
	// mean 3, σ 1 → cv 1/3; Jain 36/(2·20) = 0.9
	if math.Abs(im.CV-1.0/3) > 1e-12 || math.Abs(im.Jain-0.9) > 1e-12 || math.Abs(im.MaxOverMean-4.0/3) > 1e-12 {
		t.Errorf("2,4: %+v", im)
	}
}

func TestStatInterval(t *testing.T) {
	// n=5, mean 3, s = sqrt(2.5); t(0.975, 4) = 2.7764451051977987.
	st := StatOf([]float64{1, 2, 3, 4, 5}, false)
	want := 2.7764451051977987 * math.Sqrt(2.5) / math.Sqrt(5)
	if st.Mean != 3 || math.Abs(float64(st.HalfWidth)-want) > 1e-9 || !st.HasInterval() ||
		math.Abs(float64(st.Lo)-(3-want)) > 1e-9 || math.Abs(float64(st.Hi)-(3+want)) > 1e-9 {
		t.Errorf("StatOf = %+v, half width want %v", st, want)
	}
	one := StatOf([]float64{7}, false)
	if one.HasInterval() || one.Lo != 7 || one.Hi != 7 || one.ExcludesZero() {
		t.Errorf("one seed must carry no interval: %+v", one)
	}
	// Paired differences: a constant one is significant, noise around 0 is not.
	k := "token_hit_ratio"
	a, b := mkResult(k, false, "", 10, 11, 12, 13), mkResult(k, false, "", 1, 2, 3, 4)
	if p, ok := Pair(&a, &b, k); !ok || !p.ExcludesZero() || p.Mean != 9 || p.HalfWidth != 0 {
		t.Errorf("paired constant difference: %+v", p)
	}
	a, b = mkResult(k, false, "", 1, 3, 1, 3), mkResult(k, false, "", 2, 2, 2, 2)
	if p, ok := Pair(&a, &b, k); !ok || p.ExcludesZero() || !p.HasInterval() {
		t.Errorf("paired noise judged significant: %+v", p)
	}
}

func TestDistJSONEmpty(t *testing.T) {
	b, err := json.Marshal(Summarize(nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"p50":null,"p90":null,"p99":null,"mean":null,"n":0}` {
		t.Fatalf("empty distribution JSON %s", b)
	}
	var d Dist
	if err := json.Unmarshal(b, &d); err != nil || !math.IsNaN(d.P50) || d.N != 0 {
		t.Fatalf("round trip: %+v, %v", d, err)
	}
	b, _ = json.Marshal(Summarize([]float64{2, 1}))
	if string(b) != `{"p50":1,"p90":2,"p99":2,"mean":1.5,"n":2}` {
		t.Fatalf("distribution JSON %s", b)
	}
}
