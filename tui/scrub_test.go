package tui

import (
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/sim"
)

const s = time.Second

func evs(ts ...time.Duration) []sim.Event {
	out := make([]sim.Event, len(ts))
	for i, t := range ts {
		out[i] = sim.Event{T: t}
	}
	return out
}

func TestStepEvent(t *testing.T) {
	log := evs(1*s, 2*s, 2*s, 5*s)
	for _, c := range []struct {
		name string
		t    time.Duration
		dir  int
		want time.Duration
	}{
		{"next from before the first", 0, 1, 1 * s},
		{"next skips ties at the cursor", 2 * s, 1, 5 * s},
		{"next between events", 3 * s, 1, 5 * s},
		{"next at the last stays", 5 * s, 1, 5 * s},
		{"previous from the last", 5 * s, -1, 2 * s},
		{"previous between events", 4 * s, -1, 2 * s},
		{"previous skips ties at the cursor", 2 * s, -1, 1 * s},
		{"previous at the first stays", 1 * s, -1, 1 * s},
		{"previous before the first stays", 0, -1, 0},
	} {
		if got := stepEvent(log, c.t, c.dir); got != c.want {
			t.Errorf("%s: stepEvent(%v, %d) = %v, want %v", c.name, c.t, c.dir, got, c.want)
		}
	}
	if got := stepEvent(nil, 3*s, 1); got != 3*s {
		t.Errorf("empty log: got %v", got)
	}
}

func TestStepTimeAndLastAtOrBefore(t *testing.T) {
	ts := []time.Duration{0, 1 * s, 1 * s, 4 * s}
	for _, c := range []struct {
		t    time.Duration
		dir  int
		want time.Duration
	}{
		{0, 1, 1 * s}, {1 * s, 1, 4 * s}, {4 * s, 1, 4 * s}, {3 * s, -1, 1 * s}, {1 * s, -1, 0}, {0, -1, 0},
	} {
		if got := stepTime(ts, c.t, c.dir); got != c.want {
			t.Errorf("stepTime(%v, %d) = %v, want %v", c.t, c.dir, got, c.want)
		}
	}
	for _, c := range []struct {
		t    time.Duration
		want int
	}{{-1, -1}, {0, 0}, {1 * s, 2}, {2 * s, 2}, {9 * s, 3}} {
		if got := lastAtOrBefore(ts, c.t); got != c.want {
			t.Errorf("lastAtOrBefore(%v) = %d, want %d", c.t, got, c.want)
		}
	}
}

func TestSpanJumpClampFrac(t *testing.T) {
	sp := span{10 * s, 110 * s}
	for _, c := range []struct {
		name string
		t    time.Duration
		f    float64
		want time.Duration
	}{
		{"+1%", 10 * s, 0.01, 11 * s},
		{"+10%", 50 * s, 0.10, 60 * s},
		{"-10% clamps at start", 15 * s, -0.10, 10 * s},
		{"+10% clamps at end", 105 * s, 0.10, 110 * s},
		{"-1%", 110 * s, -0.01, 109 * s},
	} {
		if got := sp.jump(c.t, c.f); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if f := sp.frac(60 * s); f != 0.5 {
		t.Errorf("frac = %v", f)
	}
	if f := (span{}).frac(5 * s); f != 0 {
		t.Errorf("empty span frac = %v", f)
	}
	if got := sp.clamp(500 * s); got != 110*s {
		t.Errorf("clamp = %v", got)
	}
}

func TestParseGoto(t *testing.T) {
	sp := span{10 * s, 110 * s}
	for _, c := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"25%", 35 * s, false},
		{" 100 % ", 110 * s, false},
		{"100%", 110 * s, false},
		{"12.5", 22*s + 500*time.Millisecond, false},
		{"90s", 100 * s, false},
		{"1m30s", 100 * s, false},
		{"500s", 110 * s, false}, // clamped
		{"250ms", 10*s + 250*time.Millisecond, false},
		{"", 0, true},
		{"abc", 0, true},
		{"-3", 0, true},
		{"120%", 0, true},
		{"NaN%", 0, true},
	} {
		got, err := parseGoto(c.in, sp)
		if c.err {
			if err == nil {
				t.Errorf("parseGoto(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseGoto(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestPlayStep(t *testing.T) {
	sp := span{0, 10 * s}
	got, end := playStep(sp, 1*s, 60, 50*time.Millisecond)
	if got != 4*s || end {
		t.Errorf("60× for 50 ms from 1 s = %v (end %v), want 4s", got, end)
	}
	got, end = playStep(sp, 9*s, 60, 50*time.Millisecond)
	if got != 10*s || !end {
		t.Errorf("past the end = %v (end %v)", got, end)
	}
}
