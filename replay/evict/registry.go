package evict

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/rng"
	"github.com/kvscope/kvscope/replay/trace"
)

type paramArgs = param.Args

// Env is what a policy's constructor gets besides its parameters.
type Env struct {
	Unit kvcache.Unit
	// Capacity B in Unit.
	Capacity int64
	// Rand is the worker's eviction stream (seeded per worker; see
	// WorkerRand). Randomized policies require it.
	Rand *rand.Rand
	// Future is the worker's request sequence in service order (block
	// chains), for offline policies (opt).
	Future [][]trace.BlockID
}

// Constructor builds a policy from its parameters and environment. It
// reads every parameter through args (so args.Canonical spells defaults).
type Constructor func(args *param.Args, env Env) (Policy, error)

// Info describes a registered policy: everything other code asks about it
// (help, the explorer's form, scenario, the simulator), so nothing outside
// its file asks by name.
type Info struct {
	New Constructor
	// Offline policies need Env.Future (sequential replay only): a timed
	// run refuses them.
	Offline bool
	// Randomized policies draw from Env.Rand.
	Randomized bool
	// IDFree policies never let a block's dense id decide a choice (no tie
	// or draw by id order): a streamed replay that recycles ids
	// (trace.Table.SetLimit) gives them exactly the whole-trace results, so
	// it may recycle early and hold small arrays (seq.IDLimit).
	// TestStreamRecyclesIDs checks every policy that declares it.
	IDFree bool
	// TraceOrder policies let ids decide choices only through the order of
	// the blocks' trace ids, which they ask the cache for (Cache.TraceID),
	// never through the numbers the cache gives the blocks: rlt's and
	// random_leaf's draws over their candidates in trace id order. Under
	// kvcache.Config.LocalSlots they make exactly the choices they make by
	// trace id. They are not IDFree: a recycled id's place in that order is
	// not its first appearance's, so recycling ids changes their draws.
	TraceOrder bool
	// Doc is one line for --help and the explorer's what-if form.
	Doc string
	// ParamDocs gives each parameter the constructor reads a one-line doc,
	// for `kvscope list evictions --long`, completion and the explorer's
	// form (a test checks every built-in policy documents exactly what it
	// reads).
	ParamDocs map[string]string
}

// LocalSlots reports whether the policy makes the same choices under
// kvcache.Config.LocalSlots as by trace id (IDFree or TraceOrder), so a
// caller may give its cache local slots; TestLocalSlotsMatchGlobal checks
// every policy for which it is true.
func (in Info) LocalSlots() bool { return in.IDFree || in.TraceOrder }

// registry is the table of policies: name → constructor. No init tricks
// (Register adds one from outside, for tests and extensions).
var registry = param.NewRegistry(map[string]Info{
	"lru":         {New: newLRU, IDFree: true, Doc: "leaf-LRU (sglang RadixCache): oldest stamp among unpinned leaves"},
	"rlt":         {New: newRLT, Randomized: true, TraceOrder: true, Doc: "Randomized Leaf Token: marking with uniform draws over unmarked leaves"},
	"opt":         {New: newOpt, Offline: true, Doc: "offline optimum: farthest next use among unpinned leaves"},
	"fifo":        {New: newFIFO, IDFree: true, Doc: "insertion order, leaves only"},
	"lfu":         {New: newLFU, IDFree: true, Doc: "fewest uses, ties by stamp, leaves only"},
	"random_leaf": {New: newRandomLeaf, Randomized: true, TraceOrder: true, Doc: "uniform unpinned leaf, no marks"},
	"sieve":       {New: newSieve, IDFree: true, Doc: "SIEVE hand over insertion order, leaves only"},
	"s3fifo":      {New: newS3FIFO, IDFree: true, ParamDocs: s3fifoParamDocs, Doc: "S3-FIFO small/main/ghost queues, leaves only (small_ratio=0.1)"},
	"server_lru":  {New: newServerLRU, IDFree: true, Doc: "llm-d-inference-sim's cache: LRU over unreferenced blocks, one time per finished request"},
})

// Register adds a policy under name, for tests and extensions that cannot
// edit the table; it returns the function that removes it again (a test
// passes it to t.Cleanup). The name must be a plain spec name not yet
// registered; info needs New and Doc.
func Register(name string, info Info) (remove func(), err error) {
	if info.New == nil || info.Doc == "" {
		return nil, fmt.Errorf("eviction policy %s: New and Doc are required", name)
	}
	remove, err = registry.Add(name, info)
	if err != nil {
		return nil, fmt.Errorf("eviction policy: %w", err)
	}
	return remove, nil
}

// Names returns the registered policy names, sorted.
func Names() []string { return registry.Names() }

// Lookup returns a policy's registry entry, or an error listing the names.
func Lookup(name string) (Info, error) {
	in, ok := registry.Get(name)
	if !ok {
		return Info{}, fmt.Errorf("unknown eviction policy %q (valid: %s)%s", name, strings.Join(Names(), ", "), param.DidYouMean(name, Names()))
	}
	return in, nil
}

// New builds the policy spec names for env and returns it with its
// canonical spec string.
func New(spec param.Spec, env Env) (Policy, string, error) {
	in, err := Lookup(spec.Name)
	if err != nil {
		return nil, "", err
	}
	if in.Randomized && env.Rand == nil {
		return nil, "", fmt.Errorf("%s: needs a random stream", spec.Name)
	}
	if env.Capacity < 1 {
		return nil, "", fmt.Errorf("%s: capacity %d: need at least 1", spec.Name, env.Capacity)
	}
	a := param.NewArgs(spec)
	p, err := in.New(a, env)
	if err != nil {
		return nil, "", err
	}
	canon, err := a.Canonical()
	if err != nil {
		return nil, "", err
	}
	return p, canon, nil
}

// Resolve checks spec against the registry and returns its canonical form
// (a scenario.Resolver).
func Resolve(spec param.Spec) (string, error) {
	_, canon, err := New(spec, resolveEnv())
	return canon, err
}

// Params returns the parameters the policy sp names accepts, with their
// defaults and ranges, as its constructor reads them.
func Params(sp param.Spec) ([]param.Decl, error) {
	in, err := Lookup(sp.Name)
	if err != nil {
		return nil, err
	}
	a := param.NewArgs(sp)
	if _, err := in.New(a, resolveEnv()); err != nil {
		return nil, err
	}
	return a.Decls(), nil
}

// resolveEnv is the environment Resolve and Params build a policy in: one
// block, a random stream, no future.
func resolveEnv() Env {
	return Env{Unit: kvcache.Blocks, Capacity: 1, Rand: rand.New(rand.NewPCG(0, 0))}
}

// WorkerRand returns worker w's eviction stream for a scenario seed:
// independent of the router's and the workload's streams (DESIGN: seeds per
// subsystem).
func WorkerRand(seed uint64, worker int) *rand.Rand {
	return rng.Stream(seed, rng.Evict, worker)
}
