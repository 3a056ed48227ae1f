package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestGuardTurnsPanicIntoExit1: a panic no package recovered exits 1 (not
// Go's 2, the usage code) with the value and a stack on stderr.
func TestGuardTurnsPanicIntoExit1(t *testing.T) {
	var stderr bytes.Buffer
	code := guard(&stderr, func() int { panic("boom at request 7") })
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	msg := stderr.String()
	for _, want := range []string{"internal error", "boom at request 7", "guard_test.go"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr lacks %q:\n%s", want, msg)
		}
	}
	stderr.Reset()
	if code := guard(&stderr, func() int { return exitUsage }); code != exitUsage || stderr.Len() != 0 {
		t.Fatalf("without a panic: exit %d, stderr %q", code, stderr.String())
	}
}
