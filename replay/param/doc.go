// Package param parses and canonicalises the typed parameters of eviction
// policies and routers: the `name:key=value,key=value` spec of SPEC §1.
//
// A component's constructor reads its parameters through Args, giving for
// each key its default and allowed range; Args records the resolved value of
// every key, so Canonical spells every default with keys sorted and any
// result can be rerun from it. Unknown keys and out-of-range values are
// errors naming the key, the allowed range and the valid keys.
//
// Registry is the table those components are registered in (one per
// kind, in replay/evict and replay/route), by the same spec names.
//
// Each reader also declares its parameter (Decl: key, type, default,
// range or choices), so Args.Decls after a constructor read an empty spec
// is the component's parameter list for help and listings, which cannot
// drift from parsing; paramtest checks the two agree for every registered
// component. DidYouMean adds the nearest valid names to an unknown-name
// error.
//
// param imports nothing of kvscope but internal/suggest; it must not
// import terminal code.
package param
