// Package bounds is SPEC §6's competitive-ratio arithmetic: for capacity B
// and the longest request L of a sequence, k = B − L + 1, lru_bound = k,
// rlt_bound = 2·H_k and the harmonic number H_k that bounds any randomized
// policy. It is theory, not replay: it knows no cache, trace or policy.
//
// It is a package of its own rather than part of analysis because the
// hit-only replay's result (replay/seq, printed as JSON by `kvscope
// replay`) carries the bounds beside its ratios, and replay must not import
// analysis; analysis, cmd and tui read the same type.
//
// bounds imports only kvcache (for the capacity unit); nothing of this
// module may be imported by it beyond that.
package bounds
