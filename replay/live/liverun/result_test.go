package liverun

import (
	"slices"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

func TestParseAPI(t *testing.T) {
	for _, s := range []string{"openai", "sglang"} {
		if a, err := ParseAPI(s); err != nil || string(a) != s {
			t.Errorf("ParseAPI(%q) = %q, %v", s, a, err)
		}
	}
	if _, err := ParseAPI("grpc"); err == nil || err.Error() != `unknown API "grpc" (valid: openai, sglang)` {
		t.Errorf("ParseAPI(grpc): %v", err)
	}
}

func TestFailReasonListByCountThenName(t *testing.T) {
	r := &Result{FailReasons: map[string]int{"stalled": 2, "busy (429)": 5, "bad response": 2, "timed out": 1}}
	want := []string{"busy (429)", "bad response", "stalled", "timed out"}
	if got := r.FailReasonList(); !slices.Equal(got, want) {
		t.Fatalf("FailReasonList = %q, want %q", got, want)
	}
}

func TestSentWorkloadKeepsSentRequestsOnly(t *testing.T) {
	m := &trace.Trace{Info: trace.Info{Source: "t"}}
	for i := range 4 {
		m.Requests = append(m.Requests, trace.Request{Index: i, Input: 10 * (i + 1)})
	}
	r := &Result{Plan: &Plan{Model: m}, Counts: Counts{Sent: 4}, Records: make([]Record, 4)}
	if r.SentWorkload() != m {
		t.Fatal("a run that sent every request must give Plan.Model itself")
	}
	r.Sent = 2
	r.Records[1].Attempts, r.Records[3].Attempts = 1, 2
	sub := r.SentWorkload()
	if len(sub.Requests) != 2 || sub.Requests[0].Input != 20 || sub.Requests[1].Input != 40 ||
		sub.Requests[0].Index != 0 || sub.Requests[1].Index != 1 || sub.Info.Source != "t (the 2 of 4 requests sent)" {
		t.Fatalf("sent workload %+v", sub)
	}
	if m.Requests[1].Index != 1 {
		t.Fatal("SentWorkload changed the plan's trace")
	}
}
