package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// TestStreamConfigRefusesAChangedTrace: each scenario of `open --stream`
// reads the file anew; once the file changes, a read says so rather than
// replay another trace, and the temporary directory is the caller's.
func TestStreamConfigRefusesAChangedTrace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.jsonl")
	data, err := os.ReadFile(filepath.Join("..", "..", "replay", "trace", "testdata", "mooncake_300.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o666); err != nil {
		t.Fatal(err)
	}
	sc, err := streamConfig(path, trace.ReadOptions{}, filepath.Join(dir, "runs"))
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Keep || sc.Dir != filepath.Join(dir, "runs") {
		t.Errorf("kept runs: Keep %v Dir %q", sc.Keep, sc.Dir)
	}
	s, err := sc.Open(false, func(int64, int64) {})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Half the file, then the whole file back with another time.
	if err := os.WriteFile(path, data[:len(data)/2], 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Open(false, func(int64, int64) {}); err == nil || !strings.Contains(err.Error(), "changed since the explorer opened it") {
		t.Errorf("a shorter file: %v", err)
	}
	if err := os.WriteFile(path, data, 0o666); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Open(false, func(int64, int64) {}); err == nil || !strings.Contains(err.Error(), "changed since") {
		t.Errorf("a file modified again: %v", err)
	}
}
