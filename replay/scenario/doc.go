// Package scenario parses, defaults, validates and writes back the scenario
// grammar of SPEC §1:
//
//	scenario := router [':' params] '+' evict [':' params] { ';' key '=' value }
//
// with keys workers, cache_tokens | cache_blocks, profile, latency, seed,
// rate, time_scale, oversize, keep_outputs, session_timing.
//
// The canonical form spells every default and sorts keys, component
// parameters included (each component's registry resolves its own defaults
// through a Resolver), so any result can be rerun from the string it
// carries. Choices where SPEC is silent:
//
//   - rate=trace (the default) keeps the trace's timestamps; a positive rate
//     re-times arrivals as a Poisson process from the scenario seed.
//   - profile=none (the default) means no GPU profile; the linear latency
//     model needs none. latency defaults to linear with SPEC §8's defaults.
//   - A scenario that gives neither cache_tokens nor cache_blocks takes its
//     capacity from the profile; without a profile that is an error.
//   - seed defaults to 1; workers to 1.
//   - time_scale and rate take values in (0, 1e9]. Whether a trace fits at
//     that scale (time_scale × its span, rate re-timing, think times along
//     closed sessions, service times) is the simulator's check against its
//     limit of 4e9 s of simulated time (replay/sim, MaxTime), made before a
//     run starts and reported naming the key.
//
// Whether a scenario is randomized is the components' own answer: Randomized
// asks the eviction and router registries' descriptors, never their names.
//
// scenario imports replay/param and the component registries (replay/evict,
// replay/route); it must not import terminal code.
package scenario
