package gen

import (
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// sharedPrefix is the engine behind gsp and longdoc: groups of prompts, the
// prompts of group g sharing a prefix of prefix(g) tokens and each adding a
// unique suffix up to total(g) tokens.
//
// Blocks: a prompt's token stream is cut every bs tokens. Block j covers
// tokens [j·bs, min((j+1)·bs, L)); it is shared by the group exactly when it
// ends inside the prefix ((j+1)·bs ≤ S), since only then is everything up to
// its end identical. The block holding the prefix/suffix boundary, and every
// block after it, is unique to the prompt. Groups never share blocks
// (different prefixes from their first token).
type sharedPrefix struct {
	groups   int
	perGroup int
	shape    func(g int) (prefix, total int)
	order    Order
	rate     float64
	output   int
	bs       int
	seed     uint64
}

// noBase marks a group whose prefix blocks have not been allocated yet.
const noBase = ^uint64(0)

// run streams the requests. emit also receives the group and the prompt's
// index within it (tests check the sharing structure with them).
func (s *sharedPrefix) run(ids *alloc, emit func(r *trace.Request, group, prompt int) error) error {
	n := s.groups * s.perGroup
	var perm []uint32
	if s.order == OrderRandom {
		// The one O(requests) structure: 4 bytes per request.
		perm = make([]uint32, n)
		for i := range perm {
			perm[i] = uint32(i)
		}
		newStream(s.seed, streamOrder).shuffle(perm)
	}
	// base[g] is the first id of group g's shared blocks, allocated (as one
	// consecutive run) when its first prompt is emitted.
	base := make([]uint64, s.groups)
	for i := range base {
		base[i] = noBase
	}
	arr := newPoisson(s.seed, s.rate)
	var r trace.Request
	var chain []trace.BlockID
	for k := 0; k < n; k++ {
		var g, i int
		switch s.order {
		case OrderRandom:
			g, i = int(perm[k])/s.perGroup, int(perm[k])%s.perGroup
		case OrderGrouped:
			g, i = k/s.perGroup, k%s.perGroup
		default: // OrderRoundRobin
			g, i = k%s.groups, k/s.groups
		}
		prefix, total := s.shape(g)
		shared := prefix / s.bs
		nb := ceilDiv(total, s.bs)
		if base[g] == noBase && shared > 0 {
			b, err := ids.take(shared, int64(k), nil)
			if err != nil {
				return err
			}
			base[g] = b
		}
		chain = chain[:0]
		for j := 0; j < shared; j++ {
			chain = append(chain, dense(base[g]+uint64(j)))
		}
		first, err := ids.take(nb-shared, int64(k), nil)
		if err != nil {
			return err
		}
		for j := 0; j < nb-shared; j++ {
			chain = append(chain, dense(first+uint64(j)))
		}
		r = trace.Request{
			Index:           k,
			Arrival:         time.Duration(arr.next()),
			Input:           total,
			Output:          s.output,
			Blocks:          chain,
			LastBlockTokens: total - (nb-1)*s.bs,
			Session:         -1,
			ID:              int64(k),
			Parent:          trace.NoParent,
		}
		if err := emit(&r, g, i); err != nil {
			return err
		}
	}
	return nil
}
