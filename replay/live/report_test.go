package live

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDistOfNearestRank(t *testing.T) {
	d := DistOf([]float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10})
	if d.P50 != 5 || d.P90 != 9 || d.P99 != 10 || d.Mean != 5.5 || d.N != 10 {
		t.Fatalf("%+v", d)
	}
	if (DistOf(nil) != Dist{}) {
		t.Fatal("empty")
	}
}

func TestCompareRowsAndRendering(t *testing.T) {
	srv := httptest.NewServer(newFake())
	defer srv.Close()
	tr := smallTrace(t, 20)
	res := liveRun(t, tr, []string{srv.URL}, Config{Concurrency: 1, Client: ClientConfig{Model: "m"}})
	ls := Summarize(res)
	if ls.Completed != 20 || ls.TokenHitRatio != res.Workers[0].HitRatio || ls.PerRequestAgreement != 1 || ls.TTFT.N != 20 {
		t.Fatalf("summary %+v", ls)
	}
	m := ModelSide{Scenario: "round_robin+lru;workers=1", Completed: 19, Failed: 1, TokenHitRatio: 0.25,
		WorkerHitRatio: []float64{0.25}, WorkerCompleted: []int{19}, TTFT: Dist{P50: math.NaN()}, ThroughputRPS: math.Inf(1)}
	rep := Compare(res, m)
	row := func(name string) Row {
		for _, r := range rep.Rows {
			if r.Metric == name {
				return r
			}
		}
		t.Fatalf("no row %q", name)
		return Row{}
	}
	if r := row("completed"); r.Diff != 1 || math.Abs(r.Rel-1.0/19) > 1e-12 {
		t.Fatalf("%+v", r)
	}
	if r := row("token hit ratio (responses)"); r.Live != ls.TokenHitRatio || r.Model != 0.25 || r.Diff != ls.TokenHitRatio-0.25 {
		t.Fatalf("%+v", r)
	}
	if r := row("TTFT p50 ms"); r.Model != 0 || !strings.Contains(r.Note, "plumbing only") {
		t.Fatalf("%+v", r)
	}
	row("token hit ratio (/metrics)")
	row("worker 0 requests")
	var js, md strings.Builder
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(js.String()), &back); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Live beside the model", "round_robin+lru;workers=1", "| completed | 20 | 19 | +1 | +5.3% |", "plumbing only"} {
		if !strings.Contains(md.String(), want) {
			t.Fatalf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}
