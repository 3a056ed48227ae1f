package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
)

// Unit is the capacity unit of the caches.
type Unit string

const (
	Tokens Unit = "tokens"
	Blocks Unit = "blocks"
)

// Oversize policies (SPEC §1).
const (
	OversizeError  = "error"
	OversizeFail   = "fail"
	OversizeBypass = "bypass"
)

// Scenario is everything that decides a run.
type Scenario struct {
	Router param.Spec
	Evict  param.Spec
	// Workers is the number of modeled workers.
	Workers int
	// Capacity per worker in Unit; 0 with a profile means "from the profile",
	// 0 without one the default (DefaultCacheTokens, see Sized).
	Capacity int
	Unit     Unit
	// Profile is a gpuprofile name or file path; "" for none.
	Profile string
	// Latency is the latency model spec (sim's latency registry checks
	// it: linear, engine, vllm).
	Latency param.Spec
	Seed    uint64
	// Rate re-times arrivals as Poisson at this rate (requests/s); 0 keeps
	// the trace's timestamps.
	Rate float64
	// TimeScale multiplies the trace's inter-arrival times (1 = as recorded).
	TimeScale float64
	// Oversize is error, fail or bypass.
	Oversize string
	// KeepOutputs inserts output tokens as blocks after the input.
	KeepOutputs bool
	// SessionTiming is open (trace timestamps) or closed (a turn is released
	// think_s after its parent completes).
	SessionTiming string
}

// Keys lists the scenario keys in canonical (sorted) order.
var Keys = []string{"cache_blocks", "cache_tokens", "keep_outputs", "latency", "oversize", "profile", "rate", "seed", "session_timing", "time_scale", "workers"}

// The defaults every command shares (run, compare, replay, open, the
// explorer's what-if form and its zero-argument demo; curve takes the
// workers): one node of DefaultWorkers replicas, each with a KV pool of
// DefaultCacheTokens. doc.go says where the figures come from.
const (
	// DefaultWorkers is the number of modeled workers when none is given.
	DefaultWorkers = 8
	// DefaultCacheTokens is the per-worker cache when a scenario gives no
	// cache_tokens, cache_blocks or profile. Sized converts it to whole
	// blocks of the trace's block size.
	DefaultCacheTokens = 1_024_000
)

// Default returns a scenario with every key at its default and the given
// router and eviction. Its capacity is unset (0, no profile): Sized gives
// it DefaultCacheTokens in blocks once the trace's block size is known.
func Default(router, evict param.Spec) Scenario {
	return Scenario{
		Router: router, Evict: evict,
		Workers: DefaultWorkers, Unit: Blocks,
		Latency:   param.Spec{Name: "linear"},
		Seed:      1,
		TimeScale: 1,
		Oversize:  OversizeError, SessionTiming: "open",
	}
}

// Parse parses a scenario string. Keys it does not give keep the values of
// base (pass Default's result, or flags' values), so CLI flags can fill what a
// `-s router+evict` leaves out. Component names are not checked here: see
// Resolve.
func Parse(s string, base Scenario) (Scenario, error) {
	parts := strings.Split(strings.TrimSpace(s), ";")
	head := parts[0]
	r, e, ok := strings.Cut(head, "+")
	if !ok {
		return Scenario{}, fmt.Errorf("scenario %q: want router+evict before any ';' (e.g. lbgr+rlt)", s)
	}
	sc := base
	var err error
	if sc.Router, err = param.Parse(r); err != nil {
		return Scenario{}, fmt.Errorf("scenario %q: router: %w", s, err)
	}
	if sc.Evict, err = param.Parse(e); err != nil {
		return Scenario{}, fmt.Errorf("scenario %q: evict: %w", s, err)
	}
	seen := map[string]bool{}
	for _, kv := range parts[1:] {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return Scenario{}, fmt.Errorf("scenario %q: %q is not key=value", s, kv)
		}
		if seen[k] {
			return Scenario{}, fmt.Errorf("scenario %q: key %s given twice", s, k)
		}
		seen[k] = true
		if err := sc.Set(k, v); err != nil {
			return Scenario{}, fmt.Errorf("scenario %q: %w", s, err)
		}
	}
	if seen["cache_tokens"] && seen["cache_blocks"] {
		return Scenario{}, fmt.Errorf("scenario %q: give cache_tokens or cache_blocks, not both", s)
	}
	return sc, sc.Validate()
}

// Set sets one key from its string value (used by Parse, flags and sweeps).
func (sc *Scenario) Set(k, v string) error {
	bad := func(want string) error { return fmt.Errorf("key %s: %q is not %s", k, v, want) }
	switch k {
	case "workers":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4096 {
			return bad("an integer in [1, 4096]")
		}
		sc.Workers = n
	case "cache_tokens", "cache_blocks":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return bad("a positive integer")
		}
		sc.Capacity = n
		sc.Unit = Tokens
		if k == "cache_blocks" {
			sc.Unit = Blocks
		}
	case "profile":
		if v == "none" {
			v = ""
		}
		sc.Profile = v
	case "latency":
		sp, err := param.Parse(v)
		if err != nil {
			return fmt.Errorf("key latency: %w", err)
		}
		sc.Latency = sp
	case "seed":
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return bad("a non-negative integer")
		}
		sc.Seed = n
	case "rate":
		if v == "trace" {
			sc.Rate = 0
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) || f > 1e9 {
			return bad("trace or a positive rate in requests/s")
		}
		sc.Rate = f
	case "time_scale":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) || f > 1e9 {
			return bad("a positive number")
		}
		sc.TimeScale = f
	case "oversize":
		if !slices.Contains([]string{OversizeError, OversizeFail, OversizeBypass}, v) {
			return bad("error, fail or bypass")
		}
		sc.Oversize = v
	case "keep_outputs":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return bad("true or false")
		}
		sc.KeepOutputs = b
	case "session_timing":
		if v != "open" && v != "closed" {
			return bad("open or closed")
		}
		sc.SessionTiming = v
	default:
		return fmt.Errorf("unknown key %q (valid: %s)", k, strings.Join(Keys, ", "))
	}
	return nil
}

// DefaultSize reports whether the scenario leaves its cache size to the
// default: no cache_tokens, cache_blocks or profile.
func (sc *Scenario) DefaultSize() bool { return sc.Capacity == 0 && sc.Profile == "" }

// Sized returns the scenario with a default size made explicit for a trace
// of blockSize tokens per block: DefaultCacheTokens rounded down to whole
// blocks (at least one), in block mode, so opt and the Belady bound keep
// their block-mode meaning and the canonical string names the size used.
// A scenario with a size or a profile is returned unchanged.
func (sc Scenario) Sized(blockSize int) Scenario {
	if !sc.DefaultSize() || blockSize < 1 {
		return sc
	}
	sc.Capacity = max(1, DefaultCacheTokens/blockSize)
	sc.Unit = Blocks
	return sc
}

// Validate checks cross-key rules that do not need the registries.
func (sc *Scenario) Validate() error {
	// No cross-key rule needs checking without the registries any more:
	// a scenario without a size takes the default (Sized), and each latency
	// model checks what it needs (a profile) when sim resolves it.
	return nil
}

func (sc *Scenario) head() string { return sc.Router.String() + "+" + sc.Evict.String() }

// Resolver canonicalises one component spec (router, eviction or latency
// model): it checks the name against its registry and spells every default.
type Resolver func(param.Spec) (string, error)

// Canonical returns the canonical string, with each component resolved by
// its registry. The capacity key is omitted when it comes from the profile
// (the run result then records the capacity it used).
func (sc *Scenario) Canonical(router, evict, latency Resolver) (string, error) {
	r, err := router(sc.Router)
	if err != nil {
		return "", fmt.Errorf("router: %w", err)
	}
	e, err := evict(sc.Evict)
	if err != nil {
		return "", fmt.Errorf("evict: %w", err)
	}
	l, err := latency(sc.Latency)
	if err != nil {
		return "", fmt.Errorf("latency: %w", err)
	}
	return sc.format(r, e, l), nil
}

// String writes the scenario with component specs as given (keys sorted, no
// registry defaults): for labels before resolution.
func (sc *Scenario) String() string {
	return sc.format(sc.Router.String(), sc.Evict.String(), sc.Latency.String())
}

func (sc *Scenario) format(r, e, l string) string {
	var b strings.Builder
	b.WriteString(r + "+" + e)
	kv := func(k, v string) { b.WriteString(";" + k + "=" + v) }
	if sc.Capacity > 0 {
		if sc.Unit == Tokens {
			kv("cache_tokens", strconv.Itoa(sc.Capacity))
		} else {
			kv("cache_blocks", strconv.Itoa(sc.Capacity))
		}
	}
	kv("keep_outputs", strconv.FormatBool(sc.KeepOutputs))
	kv("latency", l)
	kv("oversize", sc.Oversize)
	if sc.Profile == "" {
		kv("profile", "none")
	} else {
		kv("profile", sc.Profile)
	}
	if sc.Rate == 0 {
		kv("rate", "trace")
	} else {
		kv("rate", param.FormatFloat(sc.Rate))
	}
	kv("seed", strconv.FormatUint(sc.Seed, 10))
	kv("session_timing", sc.SessionTiming)
	kv("time_scale", param.FormatFloat(sc.TimeScale))
	kv("workers", strconv.Itoa(sc.Workers))
	return b.String()
}

// Randomized reports whether the scenario draws random numbers, so --seeds
// N runs it N times (SPEC §1): its eviction policy or its router says so in
// its registry descriptor (rlt, random_leaf; random, p2c, dynamo with
// temperature > 0), or rate re-timing draws arrivals. A component the
// registries do not know counts as not randomized (Resolve reports it).
func (sc *Scenario) Randomized() bool {
	if in, err := evict.Lookup(sc.Evict.Name); err == nil && in.Randomized {
		return true
	}
	if r, err := route.Randomized(sc.Router); err == nil && r {
		return true
	}
	return sc.Rate > 0
}
