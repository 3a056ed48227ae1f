package param

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/internal/suggest"
)

// Spec is a parsed `name[:key=value,...]`.
type Spec struct {
	Name   string
	Params map[string]string
}

// Parse parses a spec. Names and keys are snake_case: [a-z0-9_.-]+ for
// names (preset values are free strings without ',' ':' '+' ';' or '=').
func Parse(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	name, rest, hasParams := strings.Cut(s, ":")
	if err := checkWord("name", name); err != nil {
		return Spec{}, err
	}
	sp := Spec{Name: name, Params: map[string]string{}}
	if !hasParams {
		return sp, nil
	}
	if rest == "" {
		return Spec{}, fmt.Errorf("%q: empty parameter list after ':'", s)
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Spec{}, fmt.Errorf("%s: parameter %q is not key=value", name, kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if err := checkWord("parameter key", k); err != nil {
			return Spec{}, fmt.Errorf("%s: %w", name, err)
		}
		if v == "" || strings.ContainsAny(v, ",:+;= ") {
			return Spec{}, fmt.Errorf("%s: parameter %s has empty or malformed value %q", name, k, v)
		}
		if _, dup := sp.Params[k]; dup {
			return Spec{}, fmt.Errorf("%s: parameter %s given twice", name, k)
		}
		sp.Params[k] = v
	}
	return sp, nil
}

func checkWord(what, w string) error {
	if w == "" {
		return fmt.Errorf("empty %s", what)
	}
	for _, c := range w {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%s %q: only lower-case letters, digits, '_', '-' and '.' are allowed", what, w)
		}
	}
	return nil
}

// String writes the spec with keys sorted (not necessarily canonical: use
// Args.Canonical for the form with every default spelled).
func (s Spec) String() string {
	if len(s.Params) == 0 {
		return s.Name
	}
	keys := make([]string, 0, len(s.Params))
	for k := range s.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(s.Name)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte(':')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + s.Params[k])
	}
	return b.String()
}

// Args reads typed parameters from a Spec, recording resolved values.
type Args struct {
	spec     Spec
	resolved map[string]string
	errs     []error
	decls    map[string]Decl
}

// Decl describes one parameter as its reader declared it: the key, its
// type, the default and the allowed range or choices. A component's
// parameters are what its constructor reads (see Decls), so help and
// listings cannot disagree with parsing.
type Decl struct {
	Key string
	// Kind is "float", "int", "bool" or "enum".
	Kind string
	// Default is the canonical spelling of the default.
	Default string
	// Min and Max bound a float or int (canonical spellings).
	Min, Max string
	// Choices are an enum's allowed values.
	Choices []string
}

// Range is the allowed values, as help shows them: "[min, max]",
// "true|false" or the choices separated by '|'.
func (d Decl) Range() string {
	switch d.Kind {
	case "bool":
		return "true|false"
	case "enum":
		return strings.Join(d.Choices, "|")
	}
	return "[" + d.Min + ", " + d.Max + "]"
}

func (a *Args) declare(d Decl) {
	if a.decls == nil {
		a.decls = map[string]Decl{}
	}
	if _, ok := a.decls[d.Key]; !ok {
		a.decls[d.Key] = d
	}
}

// Decls returns the parameters read so far, sorted by key: after a
// constructor read a spec without parameters, every parameter it accepts
// with its default (the constructors read every key whatever the values).
func (a *Args) Decls() []Decl {
	out := make([]Decl, 0, len(a.decls))
	for _, k := range slices.Sorted(maps.Keys(a.decls)) {
		out = append(out, a.decls[k])
	}
	return out
}

// NewArgs starts reading sp's parameters.
func NewArgs(sp Spec) *Args {
	if sp.Params == nil {
		sp.Params = map[string]string{}
	}
	return &Args{spec: sp, resolved: map[string]string{}}
}

// Name is the spec's name.
func (a *Args) Name() string { return a.spec.Name }

func (a *Args) fail(key, format string, args ...any) {
	a.errs = append(a.errs, fmt.Errorf("%s: parameter %s: %s", a.spec.Name, key, fmt.Sprintf(format, args...)))
}

// Float reads key as a float64 in [min, max] with default def.
func (a *Args) Float(key string, def, min, max float64) float64 {
	a.declare(Decl{Key: key, Kind: "float", Default: FormatFloat(def), Min: FormatFloat(min), Max: FormatFloat(max)})
	v := def
	if s, ok := a.spec.Params[key]; ok {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			a.fail(key, "%q is not a number", s)
			a.resolved[key] = s
			return def
		}
		v = f
	}
	if v < min || v > max {
		a.fail(key, "%s outside the allowed range [%s, %s]", FormatFloat(v), FormatFloat(min), FormatFloat(max))
	}
	a.resolved[key] = FormatFloat(v)
	return v
}

// Int reads key as an int in [min, max] with default def.
func (a *Args) Int(key string, def, min, max int) int {
	a.declare(Decl{Key: key, Kind: "int", Default: strconv.Itoa(def), Min: strconv.Itoa(min), Max: strconv.Itoa(max)})
	v := def
	if s, ok := a.spec.Params[key]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			a.fail(key, "%q is not an integer", s)
			a.resolved[key] = s
			return def
		}
		v = n
	}
	if v < min || v > max {
		a.fail(key, "%d outside the allowed range [%d, %d]", v, min, max)
	}
	a.resolved[key] = strconv.Itoa(v)
	return v
}

// Bool reads key as true/false with default def.
func (a *Args) Bool(key string, def bool) bool {
	a.declare(Decl{Key: key, Kind: "bool", Default: strconv.FormatBool(def)})
	v := def
	if s, ok := a.spec.Params[key]; ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			a.fail(key, "%q is not true or false", s)
			a.resolved[key] = s
			return def
		}
		v = b
	}
	a.resolved[key] = strconv.FormatBool(v)
	return v
}

// Enum reads key as one of allowed, default def.
func (a *Args) Enum(key, def string, allowed ...string) string {
	a.declare(Decl{Key: key, Kind: "enum", Default: def, Choices: slices.Clone(allowed)})
	v := def
	if s, ok := a.spec.Params[key]; ok {
		v = s
	}
	if !slices.Contains(allowed, v) {
		a.fail(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	a.resolved[key] = v
	return v
}

// Canonical returns the canonical form (every key read, sorted) or the
// first error: a bad value, or a key no reader asked for.
func (a *Args) Canonical() (string, error) {
	var unknown []string
	for k := range a.spec.Params {
		if _, ok := a.resolved[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		valid := make([]string, 0, len(a.resolved))
		for k := range a.resolved {
			valid = append(valid, k)
		}
		slices.Sort(valid)
		msg := "none"
		if len(valid) > 0 {
			msg = strings.Join(valid, ", ")
		}
		hint := ""
		if len(unknown) == 1 {
			hint = suggest.DidYouMean(unknown[0], valid)
		}
		return "", fmt.Errorf("%s: unknown parameter %s (valid: %s)%s", a.spec.Name, strings.Join(unknown, ", "), msg, hint)
	}
	if len(a.errs) > 0 {
		return "", a.errs[0]
	}
	return Spec{Name: a.spec.Name, Params: a.resolved}.String(), nil
}

// FormatFloat is the canonical float spelling: shortest round-trip form,
// with a positive exponent written without its '+' and leading zero
// ("1e9", not "1e+09"), since '+' separates a scenario's router from its
// policy and Parse refuses it in a value: a canonical string must parse
// again. (Negative exponents keep Go's spelling, "1e-05".)
func FormatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if i := strings.Index(s, "e+"); i >= 0 {
		s = s[:i+1] + strings.TrimLeft(s[i+2:], "0")
	}
	return s
}

// DidYouMean is the "; did you mean …?" for an unknown name among valid
// (internal/suggest), for the registries built on this package.
func DidYouMean(got string, valid []string) string { return suggest.DidYouMean(got, valid) }
