package route

import (
	"fmt"
	"strings"

	"github.com/kvscope/kvscope/replay/param"
)

// Builder makes a router from an environment once its parameters are read.
type Builder func(env Env) (Router, error)

// Info describes one registered router: everything other code asks about
// it (help, the explorer's form, scenario, hit-only replay), so nothing
// outside its file asks by name.
type Info struct {
	// Doc is one line for --help and the explorer's what-if form.
	Doc string
	// NeedsTiming is true for routers that need simulated time and
	// completion feedback (everything but round_robin, random and
	// consistent_hash); hit-only replay accepts only routers without it.
	NeedsTiming bool
	// TraceIDs is true for routers that key on the trace's own block ids
	// (Env.Orig: consistent_hash); a caller need record them (8 bytes per
	// block id, trace.ReadOptions.KeepIDs) only for those.
	TraceIDs bool
	// Randomized reports whether the router, with the parameters in a
	// (already read by Parse), draws from Env.Rand; nil means never. It
	// reads parameters through a as Parse does, so defaults and ranges
	// live in one place (see dynamo).
	Randomized func(a *param.Args) bool
	// Rules are the rules its decisions can carry in Why.Rule: their names,
	// units and formatting are the router's own.
	Rules []*Rule
	// ParamDocs gives each parameter Parse reads a one-line doc, for
	// `kvscope list routers --long`, completion and the explorer's form
	// (a test checks every built-in router documents exactly what it reads).
	ParamDocs map[string]string
	// Parse reads the router's parameters (defaults and ranges) and
	// returns the builder; it must read every key it accepts whatever
	// their values, so that Canonical spells every default.
	Parse func(a *param.Args) Builder
}

// always is Info.Randomized for routers that draw on every decision.
func always(*param.Args) bool { return true }

// registry is the table of routers, name → description. No init() tricks:
// adding a router is one line here and one file (Register adds one from
// outside, for tests and extensions).
var registry = param.NewRegistry(map[string]Info{
	"cache_aware":     {ParamDocs: cacheAwareParamDocs, NeedsTiming: true, Doc: "sglang's cache-aware router: balance by requests in flight, else the longest routing-history match, else the smallest tree", Rules: cacheAwareRules, Parse: parseCacheAware},
	"consistent_hash": {ParamDocs: consistentHashParamDocs, TraceIDs: true, Doc: "FNV-1a-64 of the first n block ids on a ring of 160 virtual nodes per worker", Rules: []*Rule{ruleHash}, Parse: parseConsistentHash},
	"dynamo":          {ParamDocs: dynamoParamDocs, NeedsTiming: true, Randomized: dynamoRandomized, Doc: "NVIDIA Dynamo's KV router: overlap_weight·prefill blocks + decode blocks, softmax at a temperature", Rules: dynamoRules, Parse: parseDynamo},
	"lbgr":            {ParamDocs: lbgrParamDocs, NeedsTiming: true, Doc: "the paper's learning-based greedy routing: predicted latency E_i with a per-worker RLS correction", Rules: []*Rule{ruleLBGR}, Parse: parseLBGR},
	"least_load":      {NeedsTiming: true, Doc: "fewest input+output tokens in flight", Rules: []*Rule{ruleLeastLoad}, Parse: parseLeastLoad},
	"llmd":            {ParamDocs: llmdParamDocs, NeedsTiming: true, Randomized: always, Doc: "llm-d's scorers: 3·prefix + 2·queue + 2·kv, queue and usage scraped every 50 ms", Rules: []*Rule{ruleLLMD}, Parse: parseLLMD},
	"p2c":             {NeedsTiming: true, Randomized: always, Doc: "power of two choices over tokens in flight", Rules: []*Rule{ruleP2C}, Parse: parseP2C},
	"random":          {Randomized: always, Doc: "uniform random worker", Rules: []*Rule{ruleRandom}, Parse: parseRandom},
	"round_robin":     {Doc: "workers in turn", Rules: []*Rule{ruleRoundRobin}, Parse: parseRoundRobin},
})

// Register adds a router under name, for tests and extensions that cannot
// edit the table; it returns the function that removes it again (a test
// passes it to t.Cleanup). The name must be a plain spec name not yet
// registered; info needs Parse, Doc and at least one Rule with a Name and
// a Format.
func Register(name string, info Info) (remove func(), err error) {
	if info.Parse == nil || info.Doc == "" || len(info.Rules) == 0 {
		return nil, fmt.Errorf("router %s: Parse, Doc and Rules are required", name)
	}
	for _, r := range info.Rules {
		if r == nil || r.Name == "" || r.Format == nil || (r.Prefer != PreferLow && r.Prefer != PreferHigh) {
			return nil, fmt.Errorf("router %s: every rule needs a Name, a Format and a Prefer direction", name)
		}
	}
	remove, err = registry.Add(name, info)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	return remove, nil
}

func lookup(name string) (Info, error) {
	r, ok := registry.Get(name)
	if !ok {
		return Info{}, fmt.Errorf("unknown name %q (valid: %s)%s", name, strings.Join(Names(), ", "), param.DidYouMean(name, Names()))
	}
	return r, nil
}

// Names returns the registered router names, sorted.
func Names() []string { return registry.Names() }

// Lookup returns the description of a registered router.
func Lookup(name string) (Info, bool) {
	r, err := lookup(name)
	return r, err == nil
}

// TraceIDs reports whether the named router keys on the trace's own block
// ids (Info.TraceIDs; false for unknown names).
func TraceIDs(name string) bool {
	r, ok := Lookup(name)
	return ok && r.TraceIDs
}

// NeedsTiming reports whether the named router needs simulated time and
// completion feedback (false for unknown names).
func NeedsTiming(name string) bool {
	r, ok := Lookup(name)
	return ok && r.NeedsTiming
}

// TimingFree lists the routers that need no timing (NeedsTiming false),
// sorted: those hit-only replay and the capacity curve take.
func TimingFree() []string {
	var out []string
	for _, n := range Names() {
		if !NeedsTiming(n) {
			out = append(out, n)
		}
	}
	return out
}

// Randomized reports whether the router sp names, with its parameters,
// draws from its random stream (so a scenario using it is worth several
// seeds). An unknown name or bad parameters give false and the error.
func Randomized(sp param.Spec) (bool, error) {
	r, err := lookup(sp.Name)
	if err != nil {
		return false, err
	}
	a := param.NewArgs(sp)
	r.Parse(a)
	if _, err := a.Canonical(); err != nil {
		return false, err
	}
	return r.Randomized != nil && r.Randomized(a), nil
}

// Params returns the parameters the router sp names accepts, with their
// defaults and ranges, as its Parse reads them.
func Params(sp param.Spec) ([]param.Decl, error) {
	r, err := lookup(sp.Name)
	if err != nil {
		return nil, err
	}
	a := param.NewArgs(sp)
	r.Parse(a)
	return a.Decls(), nil
}

// Resolve checks a router spec against the registry and returns its
// canonical form (every default spelled, keys sorted). It has the shape of
// scenario.Resolver and needs no environment.
func Resolve(sp param.Spec) (string, error) {
	_, canon, err := resolve(sp)
	return canon, err
}

func resolve(sp param.Spec) (Builder, string, error) {
	r, err := lookup(sp.Name)
	if err != nil {
		return nil, "", err
	}
	a := param.NewArgs(sp)
	b := r.Parse(a)
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
