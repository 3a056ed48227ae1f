package trace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// flat is a request with its chain as original ids, for comparing traces
// read through different tables.
type flat struct {
	Arrival         int64
	Input, Output   int
	IDs             []uint64
	LastBlockTokens int
	Session, ID     int64
	Parent          int64
	Turn            int
	ThinkS          float64
	Type            string
	Tags            []string
}

func flatten(t *Trace) []flat {
	out := make([]flat, len(t.Requests))
	for i, r := range t.Requests {
		f := flat{Arrival: int64(r.Arrival), Input: r.Input, Output: r.Output, LastBlockTokens: r.LastBlockTokens,
			Session: r.Session, ID: r.ID, Parent: r.Parent, Turn: r.Turn, ThinkS: r.ThinkS, Type: r.Type, Tags: r.Tags}
		for _, b := range r.Blocks {
			f.IDs = append(f.IDs, t.Blocks.Orig(b))
		}
		if len(f.Tags) == 0 {
			f.Tags = nil
		}
		out[i] = f
	}
	return out
}

func diffFlat(a, b []flat) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d requests vs %d", len(a), len(b))
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("request %d:\n %+v\nvs\n %+v", i, a[i], b[i])
		}
	}
	return ""
}

// toNative writes t as a native trace.
func toNative(t testing.TB, tr *Trace) []byte {
	t.Helper()
	var sb strings.Builder
	w, err := NewNativeWriter(&sb, tr.Info.BlockSize, tr.Info.Source)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.Requests {
		if err := w.Write(&tr.Requests[i], tr.Blocks); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return []byte(sb.String())
}

func loadString(t testing.TB, name, data string, opt ReadOptions) (*Trace, error) {
	t.Helper()
	return LoadBytes(name, []byte(data), opt)
}

func mustLoad(t testing.TB, path string, opt ReadOptions) *Trace {
	t.Helper()
	tr, err := Load(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// drain reads a stream to the end.
func drain(s *Stream) (int, error) {
	n := 0
	for {
		_, err := s.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func jsonStd(b []byte, v any) error { return json.Unmarshal(b, v) }

func timeDur(ns int64) time.Duration { return time.Duration(ns) }
