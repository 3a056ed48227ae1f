package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// scenarioFlags build SPEC §1's scenario string from flags: `-s` gives
// whole scenarios (or just router+evict) and the other flags fill the keys
// a scenario leaves out.
type scenarioFlags struct {
	specs         []string
	router, evict string
	workers       int
	cacheTokens   int
	cacheBlocks   int
	profile       string
	latency       string
	seed          uint64
	rate          string
	timeScale     float64
	oversize      string
	keepOutputs   bool
	sessionTiming string
	// multi: several -s (compare, open), where the flags are defaults every
	// scenario may override; with one scenario (run) a key set both ways is
	// refused.
	multi bool
}

// add registers the flags; multi says whether -s may repeat.
func (f *scenarioFlags) add(cmd *cobra.Command, multi bool, defRouter string) {
	f.multi = multi
	cmd.Long = withComponents(cmd.Long, true)
	fl := cmd.Flags()
	if multi {
		fl.StringArrayVarP(&f.specs, "scenario", "s", nil, "scenario (kvscope help scenario: router[:k=v,...]+evict[:k=v,...][;key=value...]); repeat to compare")
	} else {
		fl.StringArrayVarP(&f.specs, "scenario", "s", nil, "scenario (kvscope help scenario: router[:k=v,...]+evict[:k=v,...][;key=value...])")
	}
	fl.StringVar(&f.router, "router", defRouter, "router[:k=v,...] when no -s is given")
	fl.StringVar(&f.evict, "evict", "lru", "eviction policy[:k=v,...] when no -s is given")
	// Defaults are scenario.Default's, shared by every command.
	def := scenario.Default(param.Spec{}, param.Spec{})
	fl.IntVar(&f.workers, "workers", def.Workers, "number of workers")
	fl.IntVar(&f.cacheTokens, "cache-tokens", 0, "cache capacity per worker in tokens (sglang's token pool)")
	fl.IntVar(&f.cacheBlocks, "cache-blocks", 0, fmt.Sprintf("cache capacity per worker in trace blocks (paged engines); with no --cache-* or --profile: %d tokens in whole trace blocks (2000 blocks of 512 tokens)", scenario.DefaultCacheTokens))
	fl.StringVar(&f.profile, "profile", "", "GPU profile name or file: the capacity when no --cache-* is given, and the iteration times of --latency engine or vllm")
	fl.StringVar(&f.latency, "latency", "linear", "latency model[:k=v,...]: "+strings.Join(sim.LatencyNames(), ", ")+" (kvscope list latency --long)")
	fl.Uint64Var(&f.seed, "seed", 1, "scenario seed")
	fl.StringVar(&f.rate, "rate", "trace", "re-time arrivals as Poisson at this rate (requests/s), or trace")
	fl.Float64Var(&f.timeScale, "time-scale", 1, "multiply the trace's arrival times")
	fl.StringVar(&f.oversize, "oversize", "error", "requests larger than the cache: error, fail or bypass")
	fl.BoolVar(&f.keepOutputs, "keep-outputs", false, "insert output tokens as blocks after the input")
	fl.StringVar(&f.sessionTiming, "session-timing", "open", "open (trace timestamps) or closed (a turn starts think_s after its parent completes)")
}

// base is the scenario the flags describe, used to fill keys a -s leaves
// out.
func (f *scenarioFlags) base(cmd *cobra.Command) (scenario.Scenario, error) {
	sc := scenario.Default(param.Spec{}, param.Spec{})
	set := func(k, v string) error {
		if err := sc.Set(k, v); err != nil {
			return usageError{fmt.Errorf("--%s: %w", flagOf(k), err)}
		}
		return nil
	}
	if f.cacheTokens != 0 && f.cacheBlocks != 0 {
		return sc, usagef("give --cache-tokens or --cache-blocks, not both")
	}
	for _, c := range []struct {
		flag string
		n    int
	}{{"cache-tokens", f.cacheTokens}, {"cache-blocks", f.cacheBlocks}} {
		if changed(cmd.Flags(), c.flag) && c.n < 1 {
			return sc, usagef("--%s %d: want a positive size (leave it out for the default, %d tokens per worker in whole trace blocks)", c.flag, c.n, scenario.DefaultCacheTokens)
		}
	}
	pairs := [][2]string{
		{"workers", strconv.Itoa(f.workers)},
		{"latency", f.latency},
		{"seed", strconv.FormatUint(f.seed, 10)},
		{"rate", f.rate},
		{"time_scale", strconv.FormatFloat(f.timeScale, 'g', -1, 64)},
		{"oversize", f.oversize},
		{"keep_outputs", strconv.FormatBool(f.keepOutputs)},
		{"session_timing", f.sessionTiming},
	}
	if f.profile != "" {
		pairs = append(pairs, [2]string{"profile", f.profile})
	}
	if f.cacheTokens != 0 {
		pairs = append(pairs, [2]string{"cache_tokens", strconv.Itoa(f.cacheTokens)})
	}
	if f.cacheBlocks != 0 {
		pairs = append(pairs, [2]string{"cache_blocks", strconv.Itoa(f.cacheBlocks)})
	}
	for _, p := range pairs {
		if err := set(p[0], p[1]); err != nil {
			return sc, err
		}
	}
	return sc, nil
}

func flagOf(key string) string {
	b := []byte(key)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// scenarios returns the scenarios asked for: each -s over the flags' base,
// or router+evict from --router/--evict.
func (f *scenarioFlags) scenarios(cmd *cobra.Command) ([]scenario.Scenario, error) {
	base, err := f.base(cmd)
	if err != nil {
		return nil, err
	}
	specs := f.specs
	if len(specs) == 0 {
		specs = []string{f.router + "+" + f.evict}
	} else if changed(cmd.Flags(), "router", "evict") {
		return nil, usagef("--router/--evict and -s both name components: use one")
	}
	var out []scenario.Scenario
	for _, s := range specs {
		if !f.multi {
			if err := conflicts(cmd.Flags(), s); err != nil {
				return nil, err
			}
		}
		sc, err := scenario.Parse(s, base)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, sc)
	}
	return out, nil
}

// conflicts refuses a flag given explicitly for a key the one scenario
// string also sets: one of them would be silently ignored.
func conflicts(fs *pflag.FlagSet, spec string) error {
	parts := strings.Split(spec, ";")
	for _, kv := range parts[1:] {
		k, _, _ := strings.Cut(strings.TrimSpace(kv), "=")
		flags := []string{flagOf(k)}
		if k == "cache_tokens" || k == "cache_blocks" {
			flags = []string{"cache-tokens", "cache-blocks"}
		}
		for _, f := range flags {
			if changed(fs, f) {
				return usagef("--%s and the scenario %q both set %s: give it once", f, spec, k)
			}
		}
	}
	return nil
}

func changed(fs *pflag.FlagSet, names ...string) bool {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Changed {
			return true
		}
	}
	return false
}
