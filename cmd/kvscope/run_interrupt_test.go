package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunInterrupt: Ctrl-C in kvscope run, blocked reading a trace from a
// pipe that stays open, stops it: exit 130, no report, and nothing of
// --spill left behind (no temporary files either). The signal is sent once
// the progress line shows the trace being read (the handler is installed
// before); the pipe is closed only after the process has exited, so the
// interrupt is the only way for the run to end.
func TestRunInterrupt(t *testing.T) {
	bin, err := exec.LookPath("kvscope")
	if err != nil {
		t.Fatalf("kvscope not on PATH (TestMain sets it up): %v", err)
	}
	spill := filepath.Join(t.TempDir(), "spill")
	cmd := exec.Command(bin, "run", "-", "-s", "round_robin+lru", "--workers", "2", "--cache-blocks", "600",
		"--spill", spill, "--progress=always", "--json")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, `{"format":"kvscope-trace","version":1,"block_size":16,"source":"interrupt-test"}`)
	for i := range 50 {
		fmt.Fprintf(stdin, `{"arrival_s":%d,"input":32,"output":2,"blocks":[%d,%d]}`+"\n", i, 1+i%4, 100+i)
	}
	br := bufio.NewReader(stderr)
	if _, err := br.ReadByte(); err != nil {
		t.Fatalf("no progress line before the run ended: %v", err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	err = cmd.Wait()
	stdin.Close()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v, want status %d\nstdout: %s\nstderr: %s", err, exitInterrupted, stdout.String(), rest)
	}
	if !strings.Contains(string(rest), "run: interrupted: no report written") || stdout.Len() != 0 {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), rest)
	}
	if ents, err := os.ReadDir(spill); err == nil && len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("interrupted run left %v in %s", names, spill)
	}
}
