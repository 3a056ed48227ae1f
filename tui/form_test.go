package tui

import (
	"strings"
	"testing"
)

func TestBuildScenario(t *testing.T) {
	base := DefaultBase()
	vals := func(kv map[int]string) [numFields]string {
		v := fieldsOf(base)
		v[fRouter], v[fEvict] = "lbgr", "rlt"
		for k, x := range kv {
			v[k] = x
		}
		return v
	}
	for _, c := range []struct {
		name    string
		v       [numFields]string
		err     string // substring; "" for success
		check   func(t *testing.T, label string)
		workers int
	}{
		{name: "defaults", v: vals(nil), workers: 8},
		{name: "fewer workers", v: vals(map[int]string{fWorkers: "4"}), workers: 4},
		{name: "cache in tokens", v: vals(map[int]string{fCache: "200000 tokens"}), workers: 8},
		{name: "cache as key", v: vals(map[int]string{fCache: "tokens=1000"}), workers: 8},
		{name: "unknown router", v: vals(map[int]string{fRouter: "nope"}), err: "nope"},
		{name: "unknown evict", v: vals(map[int]string{fEvict: "mru"}), err: "mru"},
		{name: "bad workers", v: vals(map[int]string{fWorkers: "zero"}), err: "workers"},
		{name: "bad cache unit", v: vals(map[int]string{fCache: "12 pages"}), err: "pages"},
		{name: "no cache no profile: the default", v: vals(map[int]string{fCache: ""}), workers: 8},
		{name: "bad more key", v: vals(map[int]string{fMore: "speed=3"}), err: "speed"},
		{name: "offline policy", v: vals(map[int]string{fEvict: "opt"}), err: "offline"},
		{name: "empty router", v: vals(map[int]string{fRouter: " "}), err: "required"},
	} {
		label, sc, err := buildScenario(c.v, base)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if sc.Workers != c.workers || !strings.HasPrefix(label, "lbgr+rlt") {
			t.Errorf("%s: workers %d label %q", c.name, sc.Workers, label)
		}
	}
	// The form round-trips a scenario through its fields.
	v := fieldsOf(base)
	v[fRouter], v[fEvict], v[fMore] = "round_robin", "lru", "rate=5;oversize=bypass"
	_, sc, err := buildScenario(v, base)
	if err != nil {
		t.Fatal(err)
	}
	back := fieldsOf(sc)
	if back != v {
		t.Errorf("round trip:\n got %q\nwant %q", back, v)
	}
}

func TestShortLabel(t *testing.T) {
	base := DefaultBase()
	for in, want := range map[string]string{
		"lbgr+rlt;workers=8;latency=linear;seed=1": "lbgr+rlt",
		"lbgr+rlt;workers=4;cache_blocks=2000":     "lbgr+rlt;workers=4;cache_blocks=2000",
		"lbgr+lru;seed=2":                          "lbgr+lru;seed=2",
	} {
		if got := shortLabel(in, base); got != want {
			t.Errorf("shortLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLineInput(t *testing.T) {
	st := newStyles(true, false)
	in := newLineInput(&st, "", "", "lbgr", 20)
	in.focused = true
	for _, k := range []string{"backspace", "backspace", "left", "home"} {
		in.Update(keyMsg(k))
	}
	in.Update(keyMsg("x"))
	if in.Value() != "xlb" {
		t.Fatalf("value %q, want xlb", in.Value())
	}
	in.Update(keyMsg("ctrl+u")) // deletes before the cursor (after the x)
	if in.Value() != "lb" {
		t.Fatalf("after ctrl+u: %q, want lb", in.Value())
	}
}
