package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/internal/testenv"
)

// TestLiveCommandLineQuoted: the report's command line is one shell word
// per argument, so values with spaces, quotes or ';' reproduce the run.
func TestLiveCommandLineQuoted(t *testing.T) {
	cmd := newLiveCmd()
	flags := []string{"--attach=http://127.0.0.1:1", "--router=cache_aware;x", "--model=my model", "--api-key-env=it's"}
	if err := cmd.Flags().Parse(flags); err != nil {
		t.Fatal(err)
	}
	got := commandLine(cmd, []string{"/data/my trace.jsonl"})
	const want = `kvscope live '/data/my trace.jsonl' '--api-key-env=it'\''s' --attach=http://127.0.0.1:1 '--model=my model' '--router=cache_aware;x'`
	if got != want {
		t.Fatalf("command line\n%s\nwant\n%s", got, want)
	}
	// A POSIX shell splits it back into the same arguments.
	sh, err := exec.LookPath("sh")
	testenv.Require(t, "a POSIX sh", err == nil)
	out, err := exec.Command(sh, "-c", `printargs() { for a in "$@"; do printf '%s\n' "$a"; done; }; printargs `+got).Output()
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	wantArgs := []string{"kvscope", "live", "/data/my trace.jsonl", "--api-key-env=it's", "--attach=http://127.0.0.1:1", "--model=my model", "--router=cache_aware;x"}
	if !slices.Equal(args, wantArgs) {
		t.Fatalf("sh splits it into %q, want %q", args, wantArgs)
	}
}
