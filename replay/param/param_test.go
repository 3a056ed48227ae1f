package param

import (
	"strings"
	"testing"
)

func TestParseAndCanonical(t *testing.T) {
	tests := []struct {
		in, canon, err string
	}{
		{in: "rlt", canon: "rlt:x=1"},
		{in: "rlt:x=2", canon: "rlt:x=2"},
		{in: "rlt:x=2.50", canon: "rlt:x=2.5"},
		{in: "rlt:y=1", err: "unknown parameter y (valid: x)"},
		{in: "rlt:x=99", err: "outside the allowed range [0, 10]"},
		{in: "rlt:x=abc", err: `"abc" is not a number`},
		{in: "rlt:", err: "empty parameter list"},
		{in: "rlt:x", err: "not key=value"},
		{in: "rlt:x=1,x=2", err: "given twice"},
		{in: "RLT", err: "only lower-case"},
		{in: "", err: "empty name"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			sp, err := Parse(tc.in)
			if err == nil {
				a := NewArgs(sp)
				a.Float("x", 1, 0, 10)
				var c string
				c, err = a.Canonical()
				if err == nil && c != tc.canon {
					t.Fatalf("canonical = %q, want %q", c, tc.canon)
				}
			}
			if tc.err == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error = %v, want containing %q", err, tc.err)
			}
		})
	}
}

func TestTypedReaders(t *testing.T) {
	sp, err := Parse("r:n=3,b=true,e=sglang-0.4.6")
	if err != nil {
		t.Fatal(err)
	}
	a := NewArgs(sp)
	if a.Int("n", 1, 1, 5) != 3 || !a.Bool("b", false) || a.Enum("e", "sglang", "sglang", "sglang-0.4.6") != "sglang-0.4.6" {
		t.Fatal("typed readers returned wrong values")
	}
	a.Float("z", 0.5, 0, 1)
	c, err := a.Canonical()
	if err != nil || c != "r:b=true,e=sglang-0.4.6,n=3,z=0.5" {
		t.Fatalf("canonical %q, %v", c, err)
	}
}

// TestDecls: each reader declares its key, type, default and range as
// Canonical spells them.
func TestDecls(t *testing.T) {
	a := NewArgs(Spec{Name: "r"})
	a.Float("x", 0.5, 0, 1)
	a.Int("n", 3, 1, 8)
	a.Bool("b", true)
	a.Enum("e", "s", "s", "t")
	got := a.Decls()
	want := []string{"b bool true true|false", "e enum s s|t", "n int 3 [1, 8]", "x float 0.5 [0, 1]"}
	if len(got) != len(want) {
		t.Fatalf("Decls = %+v", got)
	}
	for i, d := range got {
		if s := d.Key + " " + d.Kind + " " + d.Default + " " + d.Range(); s != want[i] {
			t.Errorf("decl %d = %q, want %q", i, s, want[i])
		}
	}
	c, err := a.Canonical()
	if err != nil || c != "r:b=true,e=s,n=3,x=0.5" {
		t.Fatalf("canonical %q, %v", c, err)
	}
}

func TestUnknownKeySuggestion(t *testing.T) {
	a := NewArgs(Spec{Name: "r", Params: map[string]string{"smal_ratio": "0.2"}})
	a.Float("small_ratio", 0.1, 0, 1)
	_, err := a.Canonical()
	if err == nil || !strings.Contains(err.Error(), `unknown parameter smal_ratio (valid: small_ratio); did you mean "small_ratio"?`) {
		t.Fatalf("err = %v", err)
	}
}

// TestFormatFloatParses: a large value's canonical spelling is a value
// Parse accepts (1e+12 was not: '+' separates router and policy).
func TestFormatFloatParses(t *testing.T) {
	for _, f := range []float64{1e12, 1e6, 1e21, 1e100, 2.5e-7, 0.5, 50} {
		s := FormatFloat(f)
		sp, err := Parse("r:x=" + s)
		if err != nil {
			t.Fatalf("%g spelled %q: %v", f, s, err)
		}
		a := NewArgs(sp)
		if got := a.Float("x", 0, 0, 1e30); got != f {
			t.Fatalf("%q reads back as %g, want %g", s, got, f)
		}
	}
}

func TestFormatFloatSpelling(t *testing.T) {
	for f, want := range map[float64]string{1e9: "1e9", 1e21: "1e21", 1.5e100: "1.5e100", 1e-5: "1e-05", 0.15: "0.15", 120: "120", -3e7: "-3e7"} {
		if got := FormatFloat(f); got != want {
			t.Errorf("FormatFloat(%g) = %q, want %q", f, got, want)
		}
	}
}
