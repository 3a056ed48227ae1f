package route

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/trace"
)

// FNV-1a 64-bit constants.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// virtualNodes is SPEC §7's number of ring points per worker.
const virtualNodes = 160

// fnv1a64 hashes b with FNV-1a-64.
func fnv1a64(b []byte) uint64 {
	h := uint64(fnvOffset64)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}

// HashKey is consistent_hash's key for req: FNV-1a-64 over its first n block
// ids, each written as 8 bytes little-endian. The ids are the trace's own
// (orig maps the request's dense ids to them: trace.Table.OrigFunc; for a
// kv-cache-tester trace with local ids, the namespaced rank<<32 | id); with
// orig nil, the dense ids widened to uint64. A request with fewer than n ids
// hashes those it has; one with none hashes nothing (the FNV offset basis).
func HashKey(req *trace.Request, n int, orig func(trace.BlockID) uint64) uint64 {
	h := uint64(fnvOffset64)
	for _, id := range req.Blocks[:min(n, len(req.Blocks))] {
		v := uint64(id)
		if orig != nil {
			v = orig(id)
		}
		for range 8 {
			h ^= v & 0xff
			h *= fnvPrime64
			v >>= 8
		}
	}
	return h
}

type ringPoint struct {
	hash   uint64
	worker int32
}

// consistentHash places virtualNodes points per worker on a 64-bit ring at
// FNV-1a-64 of "w{i}#{j}" and sends a request to the worker owning the first
// point clockwise at or after its key (wrapping past 2^64−1 to the first
// point). Points with equal hashes are ordered by worker index, so a tie
// goes to the lower index.
type consistentHash struct {
	base
	nIDs int
	orig func(trace.BlockID) uint64
	ring []ringPoint
	// next[i*n+w] is the index of worker w's first point at or after ring
	// index i (cyclic), so the scores cost O(workers); built for up to
	// maxNextTable workers, beyond which Route walks the ring.
	next []int32
}

const maxNextTable = 64

// ruleHash: Scores = clockwise ring distance from the key to each worker's
// nearest virtual node; Key = the key, B = n ids hashed (as float64).
var ruleHash = &Rule{Name: "consistent_hash", Unit: "ring distance", Prefer: PreferLow,
	Format: func(y Why, w int) string {
		return fmt.Sprintf("consistent hash: key %#016x (FNV-1a-64 of %d leading block ids) → its clockwise successor is a virtual node of worker %d", y.Key, int(y.B), w)
	}}

func parseConsistentHash(a *param.Args) Builder {
	n := a.Int("n", 1, 1, 1<<20)
	return func(env Env) (Router, error) {
		r := &consistentHash{base: newBase(env.Workers), nIDs: n, orig: env.Orig, ring: buildRing(env.Workers)}
		r.timeless = true
		if env.Workers <= maxNextTable {
			r.next = nextTable(r.ring, env.Workers)
		}
		return r, nil
	}
}

func buildRing(workers int) []ringPoint {
	ring := make([]ringPoint, 0, workers*virtualNodes)
	buf := make([]byte, 0, 32)
	for i := range workers {
		for j := range virtualNodes {
			buf = append(buf[:0], 'w')
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, '#')
			buf = strconv.AppendInt(buf, int64(j), 10)
			ring = append(ring, ringPoint{hash: fnv1a64(buf), worker: int32(i)})
		}
	}
	slices.SortFunc(ring, func(a, b ringPoint) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return cmp.Compare(a.worker, b.worker)
	})
	return ring
}

func nextTable(ring []ringPoint, n int) []int32 {
	next := make([]int32, len(ring)*n)
	last := make([]int32, n)
	for w := range last {
		last[w] = -1
	}
	// Two laps backwards: the second fills the wrap-around.
	for k := 2*len(ring) - 1; k >= 0; k-- {
		i := k % len(ring)
		last[ring[i].worker] = int32(i)
		if k < len(ring) {
			copy(next[i*n:(i+1)*n], last)
		}
	}
	return next
}

// successor is the index of the first ring point with hash ≥ key, wrapping.
func (r *consistentHash) successor(key uint64) int {
	i, _ := slices.BinarySearchFunc(r.ring, key, func(p ringPoint, k uint64) int { return cmp.Compare(p.hash, k) })
	if i == len(r.ring) {
		i = 0
	}
	return i
}

func (r *consistentHash) Route(now time.Duration, req *trace.Request) Decision {
	r.at(now)
	key := HashKey(req, r.nIDs, r.orig)
	start := r.successor(key)
	w := int(r.ring[start].worker)
	// Scores: clockwise distance from the key to each worker's nearest
	// point, from the table or by walking the ring until every worker has
	// been seen.
	if r.next != nil {
		for i, j := range r.next[start*r.n : (start+1)*r.n] {
			r.scores[i] = float64(r.ring[j].hash - key) // mod 2^64
		}
	} else {
		for i := range r.scores {
			r.scores[i] = -1
		}
		seen := 0
		for k := 0; k < len(r.ring) && seen < r.n; k++ {
			p := r.ring[(start+k)%len(r.ring)]
			if r.scores[p.worker] < 0 {
				r.scores[p.worker] = float64(p.hash - key) // mod 2^64
				seen++
			}
		}
	}
	r.reqs[w]++
	return Decision{Worker: w, Scores: r.scores, Why: Why{Rule: ruleHash, Alt: -1, Key: key, B: float64(min(r.nIDs, len(req.Blocks)))}}
}

func (r *consistentHash) Complete(c Completion) error { return r.complete(c) }

func (r *consistentHash) Loads(now time.Duration, dst []float64) []float64 {
	return r.requestLoads(now, dst)
}

func (r *consistentHash) LoadUnit() string { return "requests" }

// consistentHashParamDocs documents parseConsistentHash's parameters.
var consistentHashParamDocs = map[string]string{
	"n": "leading block ids hashed into the request's key",
}
