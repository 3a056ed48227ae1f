package trace

import (
	"strings"
	"testing"
	"time"
)

// TestTimeBounds: every time field a reader returns is at most MaxSeconds
// (1e9 s); a larger one is an error naming the file, the line (or the
// request) and the field, never a wrapped-around duration.
func TestTimeBounds(t *testing.T) {
	const nh = `{"format":"kvscope-trace","version":1,"block_size":4}` + "\n"
	kv := func(reqs string) string { return `{"block_size":4,"hash_id_scope":"local","requests":[` + reqs + `]}` }
	cases := []struct {
		name, data string
		opt        ReadOptions
		want       string
	}{
		{name: "native think_s", data: nh + `{"arrival_s":0,"input":8,"output":1,"blocks":[1,2],"id":0}` + "\n" +
			`{"arrival_s":1,"input":8,"output":1,"parent":0,"think_s":1e300}` + "\n",
			want: "t:3: think_s: too large (1e+300; at most 1e9 s, about 31.7 years)"},
		{name: "native think_s just over", data: nh + `{"arrival_s":0,"input":8,"output":1,"think_s":1000000000.5}` + "\n",
			want: "t:2: think_s: too large (1.0000000005e+09; at most 1e9 s, about 31.7 years)"},
		{name: "native arrival_s", data: nh + `{"arrival_s":1e10,"input":8,"output":1}` + "\n",
			want: "t:2: arrival_s: too large (1e10; at most 1e9 s, about 31.7 years)"},
		{name: "native arrival_s decimal", data: nh + `{"arrival_s":1000000000.000000001,"input":8,"output":1}` + "\n",
			want: "t:2: arrival_s: too large (1000000000.000000001; at most 1e9 s, about 31.7 years)"},
		{name: "mooncake timestamp", data: `{"timestamp": 1e12, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}` + "\n" +
			`{"timestamp": 1e13, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}` + "\n",
			want: "t:2: timestamp: too large (1e13; at most 1e9 s, about 31.7 years)"},
		{name: "bailian timestamp", opt: ReadOptions{Format: FormatBailian},
			data: `{"chat_id": 1, "parent_chat_id": -1, "timestamp": 1e300, "input_length": 16, "output_length": 1, "hash_ids": [1], "turn": 1, "type": "text"}` + "\n",
			want: "t:1: timestamp: too large (1e300; at most 1e9 s, about 31.7 years)"},
		{name: "kvtester t", data: kv(`{"t":2e9,"type":"n","in":4,"out":1,"hash_ids":[1]}`),
			want: "t:requests[0]: t: too large (2e+09; at most 1e9 s, about 31.7 years)"},
		{name: "kvtester think_time", data: kv(`{"t":0,"type":"n","in":4,"out":1,"hash_ids":[1],"think_time":1e300}`),
			want: "t:requests[0]: think_time: too large (1e+300; at most 1e9 s, about 31.7 years)"},
		{name: "kvtester sub-agent offset", data: kv(`{"t":0,"type":"n","in":4,"out":1,"hash_ids":[1]},{"t":1e300,"type":"subagent","requests":[{"t":1,"type":"s","in":4,"out":1,"hash_ids":[2]}]}`),
			want: "t:requests[1].requests[0]: t: the sub-agent entry's t is too large (1e+300; at most 1e9 s, about 31.7 years)"},
		{name: "kvtester sub-agent negative offset", data: kv(`{"t":0,"type":"n","in":4,"out":1,"hash_ids":[1]},{"t":-5,"type":"subagent","requests":[{"t":1,"type":"s","in":4,"out":1,"hash_ids":[2]}]}`),
			want: "t:requests[1].requests[0]: t: the sub-agent entry's t is negative (-5)"},
		{name: "kvtester offsets add up", data: kv(`{"t":0,"type":"n","in":4,"out":1,"hash_ids":[1]},{"t":6e8,"type":"subagent","requests":[{"t":6e8,"type":"s","in":4,"out":1,"hash_ids":[2]}]}`),
			want: "t:requests[1].requests[0]: t: session start + t is too large (1200000000s; at most 1e9 s, about 31.7 years)"},
		{name: "azure", data: "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,10,1\n2100-11-16 18:17:04,16,1\n",
			want: "t:3: TIMESTAMP: 2429913600.03s after the first row (at most 1e9 s, about 31.7 years)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadString(t, "t", c.data, c.opt)
			if err == nil || err.Error() != c.want {
				t.Fatalf("got  %v\nwant %s", err, c.want)
			}
			// With --skip-bad the record is skipped and counted.
			opt := c.opt
			opt.SkipBad = true
			tr, err := loadString(t, "t", c.data, opt)
			if err != nil || tr.Info.Skipped.Count != 1 {
				t.Fatalf("skip-bad: %v, %+v", err, tr)
			}
		})
	}
}

// TestTimeBoundsAccepted: the largest times are read as they are.
func TestTimeBoundsAccepted(t *testing.T) {
	data := `{"format":"kvscope-trace","version":1,"block_size":4}` + "\n" +
		`{"arrival_s":0,"input":8,"output":1,"id":0}` + "\n" +
		`{"arrival_s":1000000000,"input":8,"output":1,"parent":0,"think_s":1e9}` + "\n"
	tr, err := loadString(t, "t", data, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := tr.Requests[1]; r.Arrival != MaxTime || r.ThinkS != MaxSeconds {
		t.Fatalf("arrival %v think %v", r.Arrival, r.ThinkS)
	}
}

// TestSessionStartBounds: session starts past MaxSeconds are an error, not
// a wrapped-around duration.
func TestSessionStartBounds(t *testing.T) {
	if err := ParseSessionStart("stagger:s=2e9"); err == nil || !strings.Contains(err.Error(), "at most 1e9 s") {
		t.Fatalf("stagger: %v", err)
	}
	if err := ParseSessionStart("poisson:rate=1e-300"); err == nil || !strings.Contains(err.Error(), "at most 1e9 s") {
		t.Fatalf("poisson: %v", err)
	}
	if err := ParseSessionStart("stagger:s=3600"); err != nil {
		t.Fatal(err)
	}
}

// TestWritersRefuseUnreadableTimes: a writer never writes a time its own
// reader would refuse.
func TestWritersRefuseUnreadableTimes(t *testing.T) {
	var b strings.Builder
	nw, err := NewNativeWriter(&b, 4, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := nw.Write(&Request{Arrival: MaxTime + time.Nanosecond, Input: 1}, nil); err == nil || !strings.Contains(err.Error(), "timestamp: too large") {
		t.Fatalf("arrival: %v", err)
	}
	if err := nw.Write(&Request{Input: 1, ThinkS: 2e9}, nil); err == nil || !strings.Contains(err.Error(), "think_s: too large") {
		t.Fatalf("think: %v", err)
	}
}
