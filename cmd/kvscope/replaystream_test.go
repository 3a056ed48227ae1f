package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// kvscope replay streams the trace (seq.RunStream): from a file or from
// standard input the same bytes; a tiny --id-limit recycles ids and says
// so, in the text and in the JSON, and only then.
func TestReplayStreamsAndSaysWhenIDsRecycle(t *testing.T) {
	const path = "../../samples/gsp_small.jsonl"
	args := []string{"--evict", "rlt", "--workers", "2", "--cache-blocks", "600"}
	file := kvscope(t, append([]string{"replay", path}, args...)...)
	if strings.Contains(file, "recycled") {
		t.Fatalf("a small trace recycled ids:\n%s", file)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(append([]string{"replay", "-"}, args...), bytes.NewReader(data), &out, &errb); code != exitOK {
		t.Fatalf("stdin: exit %d: %s", code, errb.String())
	}
	if got := strings.Replace(out.String(), "trace     - (", "trace     "+path+" (", 1); got != file {
		t.Fatalf("stdin\n%s\nfile\n%s", out.String(), file)
	}
	small := append([]string{"replay", path, "--id-limit", "64"}, args...)
	a := kvscope(t, small...)
	if !strings.Contains(a, "note      block ids were recycled") || a != kvscope(t, small...) {
		t.Fatalf("recycled run:\n%s", a)
	}
	if j := kvscope(t, append(small, "--json")...); !strings.Contains(j, `"id_recycling"`) {
		t.Fatalf("no id_recycling in the JSON:\n%s", j)
	}
	if j := kvscope(t, append([]string{"replay", path, "--json"}, args...)...); strings.Contains(j, `"id_recycling"`) {
		t.Fatal("id_recycling without recycling")
	}
}
