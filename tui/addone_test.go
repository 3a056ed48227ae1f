package tui

// The explorer's half of DESIGN's "one file plus one table line" promise
// (cmd/kvscope's addone_test.go does help, scenarios, runs and reports): a
// component defined in this test file only and added with its registry's
// Register shows in the what-if form's choices with its Doc, and the form
// accepts it; an offline policy, which a timed run refuses, is not offered.

import (
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
)

// registrar returns a function taking a Register's results: the component
// stays for the length of the test.
func registrar(t *testing.T) func(remove func(), err error) {
	return func(remove func(), err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(remove)
	}
}

// formOffers checks the form's choices and Doc line for field f when its
// value is name.
func formOffers(t *testing.T, f int, name, doc string, want bool) {
	t.Helper()
	listed := strings.Contains(fieldChoices(f)+",", " "+name+",")
	shown := fieldDoc(f, name+":k=v") == name+": "+doc
	if listed != want || shown != want {
		t.Errorf("field %s: %s listed %v, its Doc shown %v; want %v (choices %q)", fieldLabels[f], name, listed, shown, want, fieldChoices(f))
	}
}

func TestAddOnePolicyForm(t *testing.T) {
	const doc = "test-only: lru under another name"
	register := registrar(t)
	register(evict.Register("addone_lru", evict.Info{Doc: doc,
		New: func(a *param.Args, env evict.Env) (evict.Policy, error) {
			p, _, err := evict.New(param.Spec{Name: "lru"}, env)
			return p, err
		}}))
	register(evict.Register("addone_offline", evict.Info{Offline: true, Doc: "test-only: offline",
		New: func(a *param.Args, env evict.Env) (evict.Policy, error) {
			p, _, err := evict.New(param.Spec{Name: "lru"}, env)
			return p, err
		}}))
	formOffers(t, fEvict, "addone_lru", doc, true)
	formOffers(t, fEvict, "addone_offline", "test-only: offline", false)
	formOffers(t, fEvict, "opt", "", false)

	base := DefaultBase()
	v := fieldsOf(base)
	v[fRouter], v[fEvict] = "round_robin", "addone_lru"
	label, sc, err := buildScenario(v, base)
	if err != nil || sc.Evict.Name != "addone_lru" || !strings.HasPrefix(label, "round_robin+addone_lru") {
		t.Fatalf("form with addone_lru: %q %v", label, err)
	}
	v[fEvict] = "addone_offline"
	if _, _, err := buildScenario(v, base); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("form with an offline policy: %v, want it refused", err)
	}
}

func TestAddOneRouterForm(t *testing.T) {
	const doc = "test-only: round_robin under another name"
	register := registrar(t)
	rr, _ := route.Lookup("round_robin")
	register(route.Register("addone_rr", route.Info{Doc: doc, Rules: rr.Rules,
		Parse: func(*param.Args) route.Builder {
			return func(env route.Env) (route.Router, error) {
				r, _, err := route.NewSpec(param.Spec{Name: "round_robin"}, env)
				return r, err
			}
		}}))
	formOffers(t, fRouter, "addone_rr", doc, true)

	base := DefaultBase()
	v := fieldsOf(base)
	v[fRouter], v[fEvict] = "addone_rr", "lru"
	label, sc, err := buildScenario(v, base)
	if err != nil || sc.Router.Name != "addone_rr" || !strings.HasPrefix(label, "addone_rr+lru") {
		t.Fatalf("form with addone_rr: %q %v", label, err)
	}
	v[fRouter] = "addone_rr:x=1"
	if _, _, err := buildScenario(v, base); err == nil || !strings.Contains(err.Error(), "unknown parameter x") {
		t.Errorf("form with a parameter addone_rr does not read: %v", err)
	}
}

// TestFormParams: the what-if form shows the focused component's
// parameters with defaults and ranges, as its constructor declares them.
func TestFormParams(t *testing.T) {
	for _, tc := range []struct {
		f           int
		value, want string
	}{
		{fEvict, "s3fifo", "parameters (s3fifo:key=value,…): small_ratio=0.1 [0.01, 0.9]"},
		{fEvict, "s3fifo:small_ratio=0.2", "parameters (s3fifo:key=value,…): small_ratio=0.1 [0.01, 0.9]"},
		{fRouter, "lbgr", "parameters (lbgr:key=value,…): precise=false (true|false), preset=code (code|paper)"},
		{fEvict, "lru", ""},
		{fEvict, "opt", ""},
		{fRouter, "nope", ""},
	} {
		if got := fieldParams(tc.f, tc.value); got != tc.want {
			t.Errorf("fieldParams(%s, %q) = %q, want %q", fieldLabels[tc.f], tc.value, got, tc.want)
		}
	}
}
