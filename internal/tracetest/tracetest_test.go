package tracetest

import "testing"

func TestScrambleIDs(t *testing.T) {
	in := `{"timestamp": 0, "input_length": 20, "output_length": 5, "hash_ids": [0, 1, 22]}` + "\n"
	want := `{"timestamp": 0, "input_length": 20, "output_length": 5, "hash_ids": [13, 7932, 174231]}` + "\n"
	if got := string(ScrambleIDs([]byte(in))); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
