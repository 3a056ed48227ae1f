package route

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kvscope/kvscope/replay/param"
)

// builder makes a router from an environment once its parameters are read.
type builder func(env Env) (Router, error)

// Info describes one registered router.
type Info struct {
	Name string
	// Timing is true for routers that need simulated time and completion
	// feedback (everything but round_robin, random and consistent_hash);
	// hit-only replay accepts only routers without it.
	Timing bool
	// Summary is one line for --help and the TUI picker.
	Summary string

	// parse reads the router's parameters (defaults and ranges) and returns
	// the builder; it must read every key it accepts whatever their values,
	// so that Canonical spells every default.
	parse func(a *param.Args) builder
}

// registry is the table of routers, name → constructor. No init() tricks:
// adding a router is one line here and one file.
var registry = []Info{
	{Name: "cache_aware", Timing: true, Summary: "sglang's cache-aware router: balance by requests in flight, else the longest routing-history match, else the smallest tree", parse: parseCacheAware},
	{Name: "consistent_hash", Summary: "FNV-1a-64 of the first n block ids on a ring of 160 virtual nodes per worker", parse: parseConsistentHash},
	{Name: "dynamo", Timing: true, Summary: "NVIDIA Dynamo's KV router: overlap_weight·prefill blocks + decode blocks, softmax at a temperature", parse: parseDynamo},
	{Name: "lbgr", Timing: true, Summary: "the paper's learning-based greedy routing: predicted latency E_i with a per-worker RLS correction", parse: parseLBGR},
	{Name: "least_load", Timing: true, Summary: "fewest input+output tokens in flight", parse: parseLeastLoad},
	{Name: "llmd", Timing: true, Summary: "llm-d's scorers: 3·prefix + 2·queue + 2·kv, queue and usage scraped every 50 ms", parse: parseLLMD},
	{Name: "p2c", Timing: true, Summary: "power of two choices over tokens in flight", parse: parseP2C},
	{Name: "random", Summary: "uniform random worker", parse: parseRandom},
	{Name: "round_robin", Summary: "workers in turn", parse: parseRoundRobin},
}

func lookup(name string) (*Info, error) {
	for i := range registry {
		if registry[i].Name == name {
			return &registry[i], nil
		}
	}
	return nil, fmt.Errorf("unknown name %q (valid: %s)", name, strings.Join(Names(), ", "))
}

// Names returns the registered router names, sorted.
func Names() []string {
	names := make([]string, len(registry))
	for i, r := range registry {
		names[i] = r.Name
	}
	slices.Sort(names)
	return names
}

// Infos returns every registered router's description, sorted by name.
func Infos() []Info {
	out := slices.Clone(registry)
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the description of a registered router.
func Lookup(name string) (Info, bool) {
	r, err := lookup(name)
	if err != nil {
		return Info{}, false
	}
	return *r, true
}

// NeedsTiming reports whether the named router needs simulated time and
// completion feedback (false for unknown names).
func NeedsTiming(name string) bool {
	r, ok := Lookup(name)
	return ok && r.Timing
}

// Resolve checks a router spec against the registry and returns its
// canonical form (every default spelled, keys sorted). It has the shape of
// scenario.Resolver and needs no environment.
func Resolve(sp param.Spec) (string, error) {
	_, canon, err := resolve(sp)
	return canon, err
}

func resolve(sp param.Spec) (builder, string, error) {
	r, err := lookup(sp.Name)
	if err != nil {
		return nil, "", err
	}
	a := param.NewArgs(sp)
	b := r.parse(a)
	canon, err := a.Canonical()
	if err != nil {
		return nil, "", err
	}
	return b, canon, nil
}

// New parses spec (`name[:key=value,...]`), builds the router for env and
// returns it with its canonical spec.
func New(spec string, env Env) (Router, string, error) {
	sp, err := param.Parse(spec)
	if err != nil {
		return nil, "", fmt.Errorf("router: %w", err)
	}
	return NewSpec(sp, env)
}

// NewSpec is New for an already parsed spec.
func NewSpec(sp param.Spec, env Env) (Router, string, error) {
	b, canon, err := resolve(sp)
	if err != nil {
		return nil, "", fmt.Errorf("router: %w", err)
	}
	if err := env.check(); err != nil {
		return nil, "", fmt.Errorf("router %s: %w", canon, err)
	}
	r, err := b(env)
	if err != nil {
		return nil, "", fmt.Errorf("router %s: %w", canon, err)
	}
	return r, canon, nil
}
