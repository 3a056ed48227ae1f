// Package paramtest checks that a component's declared parameters (what
// its constructor reads, param.Args.Decls) agree with its parsing and are
// documented (Docs): the tests of the registries (replay/evict,
// replay/route) run both over every name (Registry).
package paramtest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/param"
)

// RoundTrip checks, for component name with declared parameters decls and
// the registry's resolve (spec to canonical string):
//   - the spec without parameters resolves to name and every declared
//     default, and to nothing else, so no parameter the constructor reads
//     is left undeclared;
//   - each declared parameter set to its default and to another allowed
//     value resolves with exactly that value spelled, and with the same
//     set of declared keys (every key is read whatever the values);
//   - a value outside a numeric range is refused.
func RoundTrip(name string, decls []param.Decl, resolve func(param.Spec) (string, error), params func(param.Spec) ([]param.Decl, error)) error {
	want := param.Spec{Name: name, Params: map[string]string{}}
	for _, d := range decls {
		want.Params[d.Key] = d.Default
	}
	canon, err := resolve(param.Spec{Name: name})
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if canon != want.String() {
		return fmt.Errorf("%s: canonical %q, declared parameters spell %q", name, canon, want.String())
	}
	keys := func(ds []param.Decl) []string {
		var k []string
		for _, d := range ds {
			k = append(k, d.Key)
		}
		return k
	}
	for _, d := range decls {
		for _, v := range values(d) {
			sp, err := param.Parse(name + ":" + d.Key + "=" + v)
			if err != nil {
				return fmt.Errorf("%s: %s=%s: %v", name, d.Key, v, err)
			}
			canon, err := resolve(sp)
			if err != nil {
				return fmt.Errorf("%s: declared value %s=%s refused: %v", name, d.Key, v, err)
			}
			back, err := param.Parse(canon)
			if err != nil || back.Params[d.Key] != v {
				return fmt.Errorf("%s: %s=%s canonicalises to %q", name, d.Key, v, canon)
			}
			got, err := params(sp)
			if err != nil {
				return fmt.Errorf("%s: %s=%s: %v", name, d.Key, v, err)
			}
			if !slices.Equal(keys(got), keys(decls)) {
				return fmt.Errorf("%s: with %s=%s reads %v, declared %v", name, d.Key, v, keys(got), keys(decls))
			}
		}
		if bad, ok := outside(d); ok {
			if _, err := resolve(param.Spec{Name: name, Params: map[string]string{d.Key: bad}}); err == nil {
				return fmt.Errorf("%s: %s=%s is outside the declared range %s but was accepted", name, d.Key, bad, d.Range())
			}
		}
	}
	return nil
}

// values are the default and the other allowed values worth trying: both
// ends of a range, every choice, both booleans.
func values(d param.Decl) []string {
	switch d.Kind {
	case "bool":
		return []string{"false", "true"}
	case "enum":
		return d.Choices
	}
	return []string{d.Default, d.Min, d.Max}
}

// outside is a value just below a numeric range, when one is spellable.
func outside(d param.Decl) (string, bool) {
	switch d.Kind {
	case "int":
		n, err := strconv.Atoi(d.Min)
		return strconv.Itoa(n - 1), err == nil
	case "float":
		f, err := strconv.ParseFloat(d.Min, 64)
		return param.FormatFloat(f - 1), err == nil
	}
	return "", false
}

// Docs checks that docs documents exactly the declared parameters, each
// in one non-empty line.
func Docs(name string, decls []param.Decl, docs map[string]string) error {
	read := map[string]bool{}
	for _, d := range decls {
		read[d.Key] = true
		if doc := docs[d.Key]; doc == "" || strings.Contains(doc, "\n") {
			return fmt.Errorf("%s: parameter %s has no one-line doc", name, d.Key)
		}
	}
	for k := range docs {
		if !read[k] {
			return fmt.Errorf("%s: a doc for %s, which the constructor does not read", name, k)
		}
	}
	return nil
}

// Registry runs RoundTrip and Docs over every name of a registry, with
// docs(name) its entry's parameter docs, and returns what failed.
func Registry(names []string, docs func(name string) (map[string]string, error),
	resolve func(param.Spec) (string, error), params func(param.Spec) ([]param.Decl, error)) []error {
	var errs []error
	for _, n := range names {
		d, err := docs(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		decls, err := params(param.Spec{Name: n})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		if err := RoundTrip(n, decls, resolve, params); err != nil {
			errs = append(errs, err)
		}
		if err := Docs(n, decls, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
