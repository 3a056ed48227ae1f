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
