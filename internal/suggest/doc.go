// Package suggest finds the valid names closest to a misspelt one, by edit
// distance, for the "did you mean" of the registries' unknown-name errors
// (routers, eviction policies, trace formats, profiles) and of kvscope's
// flags. It imports nothing of this module, so gpuprofile may use it too.
package suggest
