package main

// DESIGN promises that adding an eviction policy or a router is one file
// plus one table line. These tests hold it to that: a trivial component
// defined here, in a test file only, and added with the registry's
// Register, must show everywhere a built-in one does: --help, scenario
// parsing and canonicalisation, Randomized (from its descriptor), a run
// (its own explanation of each decision) and a report. tui's addone_test.go
// does the same for the explorer's what-if form.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// addoneLeaf evicts a uniformly drawn evictable leaf (random_leaf's rule,
// written again from the kvcache.Policy hooks alone).
type addoneLeaf struct {
	env   evict.Env
	cand  []kvcache.BlockID
	where map[kvcache.BlockID]int
}

const addoneLeafDoc = "test-only: a uniformly drawn evictable leaf"

func (p *addoneLeaf) Attach(*kvcache.Cache)                   {}
func (p *addoneLeaf) Inserted(kvcache.BlockID)                {}
func (p *addoneLeaf) Removed(kvcache.BlockID)                 {}
func (p *addoneLeaf) Access([]kvcache.BlockID, kvcache.Event) {}
func (p *addoneLeaf) BeginEvict(int64)                        {}

func (p *addoneLeaf) Evictable(b kvcache.BlockID, yes bool) {
	i, in := p.where[b]
	switch {
	case yes && !in:
		p.where[b] = len(p.cand)
		p.cand = append(p.cand, b)
	case !yes && in:
		last := p.cand[len(p.cand)-1]
		p.cand[i], p.where[last] = last, i
		p.cand = p.cand[:len(p.cand)-1]
		delete(p.where, b)
	}
}

func (p *addoneLeaf) Victim(int64) (kvcache.BlockID, bool) {
	if len(p.cand) == 0 {
		return 0, false
	}
	return p.cand[p.env.Rand.IntN(len(p.cand))], true
}

func registerAddoneLeaf(t *testing.T) {
	t.Helper()
	remove, err := evict.Register("addone_leaf", evict.Info{
		Randomized: true,
		Doc:        addoneLeafDoc,
		New: func(_ *param.Args, env evict.Env) (evict.Policy, error) {
			return &addoneLeaf{env: env, where: map[kvcache.BlockID]int{}}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
	if _, err := evict.Register("addone_leaf", evict.Info{Doc: "again", New: func(*param.Args, evict.Env) (evict.Policy, error) { return nil, nil }}); err == nil {
		t.Fatal("registering a name twice must fail")
	}
}

// addoneFixed sends every request to worker `worker` (mod the workers),
// or with draw=true to a worker drawn from the router stream: Randomized
// depends on a parameter, as dynamo's temperature does.
type addoneFixed struct {
	worker int
	draw   bool
	env    route.Env
	reqs   []float64
}

const addoneFixedDoc = "test-only: every request to one worker, or a drawn one"

var addoneRule = &route.Rule{Name: "fixed", Unit: "requests in flight", Prefer: route.PreferLow,
	Format: func(y route.Why, w int) string {
		if y.A == 1 {
			return fmt.Sprintf("addone: drew worker %d", w)
		}
		return fmt.Sprintf("addone: worker %d, as configured", w)
	}}

func (r *addoneFixed) Route(_ time.Duration, _ *trace.Request) route.Decision {
	w, y := r.worker%len(r.reqs), route.Why{Rule: addoneRule, Alt: -1}
	if r.draw {
		w, y.A = r.env.Rand.IntN(len(r.reqs)), 1
	}
	r.reqs[w]++
	return route.Decision{Worker: w, Scores: r.reqs, Why: y}
}

func (r *addoneFixed) Complete(c route.Completion) error {
	if c.Worker < 0 || c.Worker >= len(r.reqs) || r.reqs[c.Worker] == 0 {
		return fmt.Errorf("addone: completion on worker %d with none in flight", c.Worker)
	}
	r.reqs[c.Worker]--
	return nil
}

func (r *addoneFixed) NextObserve() (time.Duration, bool) { return 0, false }
func (r *addoneFixed) Observe(time.Duration)              {}
func (r *addoneFixed) Loads(_ time.Duration, dst []float64) []float64 {
	return append(dst, r.reqs...)
}
func (r *addoneFixed) LoadUnit() string { return "requests" }

func addoneFixedParams(a *param.Args) (worker int, draw bool) {
	return a.Int("worker", 0, 0, 4095), a.Bool("draw", false)
}

func registerAddoneFixed(t *testing.T) {
	t.Helper()
	remove, err := route.Register("addone_fixed", route.Info{
		Doc:        addoneFixedDoc,
		Rules:      []*route.Rule{addoneRule},
		Randomized: func(a *param.Args) bool { _, draw := addoneFixedParams(a); return draw },
		Parse: func(a *param.Args) route.Builder {
			worker, draw := addoneFixedParams(a)
			return func(env route.Env) (route.Router, error) {
				return &addoneFixed{worker: worker, draw: draw, env: env, reqs: make([]float64, env.Workers)}, nil
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
}

// kvscope runs the command in process and returns its stdout.
func kvscope(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("kvscope %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// helpLists checks that cmd's --help lists name with its Doc.
func helpLists(t *testing.T, cmd, name, doc string) {
	t.Helper()
	help := kvscope(t, cmd, "--help")
	found := slices.ContainsFunc(strings.Split(help, "\n"), func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 1 && f[0] == name && strings.Contains(l, doc)
	})
	if !found {
		t.Errorf("%s --help does not list %s with its Doc:\n%s", cmd, name, help)
	}
}

// compareReport writes a markdown report comparing the scenarios on the
// small sample trace and returns it.
func compareReport(t *testing.T, scenarios ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.md")
	args := []string{"compare", "../../samples/gsp_small.jsonl", "--workers", "2", "--cache-blocks", "600", "--seeds", "2", "-o", out}
	for _, s := range scenarios {
		args = append(args, "-s", s)
	}
	kvscope(t, args...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parseScenario(t *testing.T, s string) (scenario.Scenario, string) {
	t.Helper()
	sc, err := scenario.Parse(s, scenario.Default(param.Spec{}, param.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	canon, err := sim.Resolve(sc)
	if err != nil {
		t.Fatal(err)
	}
	return sc, canon
}

// simulate runs sc on the small sample trace.
func simulate(t *testing.T, sc scenario.Scenario) *sim.Run {
	t.Helper()
	tr, err := trace.Load("../../samples/gsp_small.jsonl", trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	run, err := sim.Simulate(context.Background(), tr, sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestAddOnePolicy(t *testing.T) {
	registerAddoneLeaf(t)
	for _, cmd := range []string{"run", "compare", "open", "replay"} {
		helpLists(t, cmd, "addone_leaf", addoneLeafDoc)
	}
	sc, canon := parseScenario(t, "round_robin+addone_leaf;cache_blocks=600;workers=2")
	if !strings.HasPrefix(canon, "round_robin+addone_leaf;cache_blocks=600;") {
		t.Errorf("canonical %q", canon)
	}
	if !sc.Randomized() {
		t.Error("a scenario with a Randomized policy must be Randomized")
	}
	// It runs, and evicts.
	run := simulate(t, sc)
	evicted := int64(0)
	for _, w := range run.Samples {
		evicted += w[len(w)-1].Evicted
	}
	if evicted == 0 {
		t.Fatal("the run evicted nothing: the policy was never asked")
	}
	rep := compareReport(t, "round_robin+addone_leaf", "round_robin+lru")
	want := "round_robin+addone_leaf;cache_blocks=600;keep_outputs=false;latency=linear:"
	if !strings.Contains(rep, want) {
		t.Errorf("the report does not name %q:\n%s", want, rep)
	}
	// Randomized from the descriptor: the report gives the new policy an
	// interval over the seeds, the deterministic lru none.
	if !strings.Contains(rep, "| interval | mean ± 95% t, seeds 1..2 (df 1) | no interval (deterministic) |") {
		t.Errorf("the report's interval row does not follow the descriptors:\n%s", rep)
	}
}

func TestAddOneRouter(t *testing.T) {
	registerAddoneFixed(t)
	for _, cmd := range []string{"run", "compare", "open", "replay"} {
		// It needs no timing, so hit-only replay takes it too.
		helpLists(t, cmd, "addone_fixed", addoneFixedDoc)
	}
	sc, canon := parseScenario(t, "addone_fixed+lru;cache_blocks=600;workers=2")
	if !strings.HasPrefix(canon, "addone_fixed:draw=false,worker=0+lru;") {
		t.Errorf("canonical %q", canon)
	}
	if sc.Randomized() {
		t.Error("addone_fixed with draw=false must not be Randomized")
	}
	if drawn, _ := parseScenario(t, "addone_fixed:draw=true+lru;cache_blocks=600"); !drawn.Randomized() {
		t.Error("addone_fixed with draw=true must be Randomized (its descriptor says so)")
	}
	bad, err := scenario.Parse("addone_fixed:worker=-1+lru;cache_blocks=600", scenario.Default(param.Spec{}, param.Spec{}))
	if err == nil {
		_, err = sim.Resolve(bad)
	}
	if err == nil || !strings.Contains(err.Error(), "worker") {
		t.Errorf("worker=-1: %v, want a range error naming worker", err)
	}

	// A run keeps the router's own explanation of every decision.
	sc.Router.Params = map[string]string{"worker": "1"}
	run := simulate(t, sc)
	for i, rec := range run.Records {
		if rec.Worker != 1 || rec.Why.Reason(int(rec.Worker)) != "addone: worker 1, as configured" || rec.Why.Unit() != "requests in flight" {
			t.Fatalf("request %d: worker %d, why %q (%s)", i, rec.Worker, rec.Why.Reason(int(rec.Worker)), rec.Why.Unit())
		}
	}

	rep := compareReport(t, "addone_fixed:worker=1+lru", "addone_fixed:draw=true+lru")
	for _, want := range []string{
		"addone_fixed:draw=false,worker=1+lru;cache_blocks=600;keep_outputs=false;",
		"addone_fixed:draw=true,worker=0+lru;cache_blocks=600;keep_outputs=false;",
		"| interval | no interval (deterministic) | mean ± 95% t, seeds 1..2 (df 1) |",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("the report lacks %q:\n%s", want, rep)
		}
	}
}
