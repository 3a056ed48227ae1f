package yamlpos

import (
	"testing"
)

func TestReads(t *testing.T) {
	root, err := Parse("f.yaml", []byte(`
a: 3
b: 2.0
c: 2.5
d: "x"
e: true
f: ~
g: [1, {h: 0x10}]
i: &anchor 7
j: *anchor
k: 9223372036854775808
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := root.Map("a", "b", "c", "d", "e", "f", "g", "i", "j", "k", "absent")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := m["a"].Int(); v != 3 || err != nil {
		t.Fatalf("a: %v %v", v, err)
	}
	if v, err := m["b"].Int(); v != 2 || err != nil {
		t.Fatalf("b (2.0 as an integer): %v %v", v, err)
	}
	if _, err := m["c"].Int(); err == nil || err.Error() != "f.yaml:4: c: must be an integer (got 2.5)" {
		t.Fatalf("c: %v", err)
	}
	if _, err := m["d"].Float(); err == nil || err.Error() != `f.yaml:5: d: must be a number (got "x")` {
		t.Fatalf("d: %v", err)
	}
	if v, err := m["e"].Bool(); !v || err != nil {
		t.Fatalf("e: %v %v", v, err)
	}
	if s, err := m["a"].String(); s != "3" || err != nil {
		t.Fatalf("a as a string: %q %v", s, err)
	}
	if !m["f"].IsNull() || m["f"].Absent() || !m["absent"].IsNull() || !m["absent"].Absent() {
		t.Fatal("null and absent")
	}
	if err := m["absent"].Errorf("required"); err.Error() != "f.yaml:2: absent: required" {
		t.Fatalf("absent: %v", err)
	}
	items, err := m["g"].Seq()
	if err != nil || len(items) != 2 {
		t.Fatalf("g: %v %v", items, err)
	}
	h, err := items[1].Map("h")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := h["h"].Int(); v != 16 || err != nil || h["h"].Path() != "g[1].h" || h["h"].Line() != 8 {
		t.Fatalf("g[1].h: %v %v %q line %d", v, err, h["h"].Path(), h["h"].Line())
	}
	if v, err := m["j"].Int(); v != 7 || err != nil {
		t.Fatalf("j (alias): %v %v", v, err)
	}
	if _, err := m["k"].Int(); err == nil || err.Error() != "f.yaml:11: k: must be an integer within ±2^63 (got 9223372036854775808)" {
		t.Fatalf("k: %v", err)
	}
	if _, err := m["g"].Map(); err == nil || err.Error() != "f.yaml:8: g: must be a mapping (got a list)" {
		t.Fatalf("g as a mapping: %v", err)
	}
	if _, err := root.Map("a"); err == nil || err.Error() != "f.yaml:3: b: unknown key (known: a)" {
		t.Fatalf("strict: %v", err)
	}
	// Fields: a null section gives every known key absent, placed at it.
	fs, err := m["f"].Fields("x")
	if err != nil || !fs["x"].Absent() || fs["x"].Path() != "f.x" || fs["x"].Line() != 7 {
		t.Fatalf("fields of null: %+v %v", fs, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a: [1,\n", "f.yaml:1: YAML: did not find expected node content"},
		{"a: 1\n---\nb: 2\n", "f.yaml:2: a second YAML document (a configuration is one document)"},
		{"a: 1\na: 2\n", ""},
		{"a: *nope\n", "f.yaml:1: YAML: unknown anchor 'nope' referenced"},
		{"a: 1\nb: \"x\n", "f.yaml:2: YAML: found unexpected end of stream"},
		{"\"", "f.yaml:1: YAML: found unexpected end of stream"},
		{"a: 1\nb: \x01\n", "f.yaml:2: YAML: control characters are not allowed"},
		{"a: 1\n\nb: \xff\n", "f.yaml:3: YAML: invalid leading UTF-8 octet"},
	} {
		root, err := Parse("f.yaml", []byte(tc.in))
		if tc.want == "" {
			if err != nil {
				t.Fatal(err)
			}
			if _, err := root.Map(); err == nil || err.Error() != "f.yaml:2: a: duplicate key" {
				t.Fatalf("duplicate: %v", err)
			}
			continue
		}
		if err == nil || err.Error() != tc.want {
			t.Fatalf("%q: %v, want %s", tc.in, err, tc.want)
		}
	}
	// An empty document is null.
	root, err := Parse("f.yaml", nil)
	if err != nil || !root.IsNull() {
		t.Fatalf("empty: %v %v", root, err)
	}
	if err := (&Error{File: "f", Reason: "r"}).Error(); err != "f: r" {
		t.Fatalf("no line, no field: %q", err)
	}
}
