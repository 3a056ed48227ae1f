// Package rng derives the independent random streams of a scenario from its
// one seed (DESIGN: seeds per subsystem). Each subsystem (the workload's
// re-timing, the router, each worker's eviction) gets its own PCG stream,
// so side-by-side scenarios share the workload's draws and a difference
// between them is the policy's, not the dice's.
//
// rng imports only the standard library.
package rng

import (
	"hash/fnv"
	"math/rand/v2"
)

// Stream returns the stream named name (and index i, e.g. a worker) of the
// scenario seed. The same (seed, name, i) always gives the same sequence.
func Stream(seed uint64, name string, i int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()^(uint64(i)*0x9e3779b97f4a7c15)))
}

// Names of the streams kvscope draws from: every Stream call names one of
// these (a test checks the module's source), so no two subsystems share a
// stream by accident and the list of streams is here.
const (
	Workload = "workload"
	Router   = "router"
	Evict    = "evict"
	// EvictSeq is a randomized policy's own stream in the sequential
	// replay of the competitive ratios (analysis.Ratios), so asking for
	// ratios never changes a timed run's draws.
	EvictSeq = "evict-seq"
)
