package gen

import (
	"container/heap"
	"fmt"
	"math"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// LinearMissNs is the service time per missed input token that multiturn
// timestamps assume: the linear latency model's defaults (SPEC §8:
// cached_ms 0, miss_ms 0.15, out_ms 0), in nanoseconds so that a turn's
// arrival is exact integer arithmetic.
const LinearMissNs = 150_000

// Multiturn is the paper's ShareGPT/UltraChat setting (SPEC §3): clients
// holding conversations, each request carrying the whole history.
type Multiturn struct {
	Clients int
	// Turns: client c holds Turns[c % len] turns.
	Turns []int
	// UserLen is the length of every user message; OutputLen that of every
	// reply (and each request's output length).
	UserLen   int
	OutputLen int
	// Rate is the Poisson rate at which clients start (+Inf: all at 0).
	Rate float64
	// ThinkS is the user's think time before every turn after the first.
	ThinkS    float64
	BlockSize int
	Seed      uint64

	ids *alloc // Generate's, for IDNames
}

// DefaultMultiturn returns SPEC §3's defaults: 128 clients.
func DefaultMultiturn() Multiturn {
	return Multiturn{
		Clients:   128,
		Turns:     []int{2, 4, 6, 8},
		UserLen:   1024,
		OutputLen: 4,
		Rate:      12,
		ThinkS:    0,
		BlockSize: 16,
		Seed:      1,
	}
}

func (p *Multiturn) Name() string        { return "multiturn" }
func (p *Multiturn) TraceBlockSize() int { return p.BlockSize }

// maxThinkS bounds --think-s (a year) so turn times stay far from overflow.
const maxThinkS = 365 * 24 * 3600

// Validate checks every parameter; errors name the flag.
func (p *Multiturn) Validate() error {
	if err := checkCount("clients", p.Clients, 1); err != nil {
		return err
	}
	if err := checkLens("turns", p.Turns, 1); err != nil {
		return err
	}
	if p.UserLen < 1 || p.UserLen > MaxTokens {
		return paramErr("user-len", "must be in 1..%d (got %d)", int64(MaxTokens), p.UserLen)
	}
	if err := checkOutput(p.OutputLen); err != nil {
		return err
	}
	for _, t := range p.Turns {
		if in := p.input(t); in > MaxTokens || in < 0 || t > MaxTokens/(p.UserLen+p.OutputLen) {
			return paramErr("turns", "%d turns of %d+%d tokens exceed %d input tokens", t, p.UserLen, p.OutputLen, int64(MaxTokens))
		}
	}
	if err := checkRate(p.Rate); err != nil {
		return err
	}
	if math.IsNaN(p.ThinkS) || p.ThinkS < 0 || p.ThinkS > maxThinkS {
		return paramErr("think-s", "must be in [0, %d] seconds (got %s)", maxThinkS, fmtFloat(p.ThinkS))
	}
	return checkBlockSize(p.BlockSize)
}

// input is the input length of turn t (1-based): t user messages and the
// t-1 replies before the last one.
func (p *Multiturn) input(t int) int { return t*p.UserLen + (t-1)*p.OutputLen }

// Canonical spells every parameter as flags.
func (p *Multiturn) Canonical() string {
	var c canon
	c.int("clients", p.Clients)
	c.ints("turns", p.Turns)
	c.int("user-len", p.UserLen)
	c.int("output-len", p.OutputLen)
	c.float("rate", p.Rate)
	c.float("think-s", p.ThinkS)
	c.int("block-size", p.BlockSize)
	c.uint64("seed", p.Seed)
	return p.Name() + c.String()
}

// client is one conversation in progress.
type client struct {
	at    int64 // arrival of its next turn, ns
	idx   int   // client index (the Session)
	turn  int   // next turn, 1-based
	turns int
	// full holds the ids of the conversation's full blocks allocated so
	// far: block j covers stream tokens [j·bs, (j+1)·bs).
	full   []trace.BlockID
	first  uint64 // the number of full[0] (alloc's 64-bit count)
	parent int64  // ID of the previous turn's request
}

// clientHeap orders clients by next arrival, then by index.
type clientHeap []*client

func (h clientHeap) Len() int { return len(h) }
func (h clientHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].idx < h[j].idx
}
func (h clientHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *clientHeap) Push(x any)   { *h = append(*h, x.(*client)) }
func (h *clientHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return c
}

// Generate streams every turn of every client in arrival order (ties by
// client index). It holds only the clients in conversation plus the next
// one to start.
func (p *Multiturn) Generate(emit Emit) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p.ids = new(alloc)
	if err := p.run(p.ids, emit); err != nil {
		return fmt.Errorf("multiturn: %w", err)
	}
	return nil
}

// IDNames names the trace ids of the dense ids in the requests Generate is
// emitting: past 2^32-1 blocks dense ids are reused and the trace's ids
// are 64-bit (alloc). Writers take it; it is valid during Generate's emit
// calls (and for its last request after).
func (p *Multiturn) IDNames() trace.IDNames { return multiturnNames{p} }

type multiturnNames struct{ p *Multiturn }

func (n multiturnNames) Orig(d trace.BlockID) uint64 {
	if n.p.ids == nil {
		return uint64(d)
	}
	return n.p.ids.Orig(d)
}

func (p *Multiturn) run(ids *alloc, emit Emit) error {
	bs := p.BlockSize
	think := secondsToNs(p.ThinkS)
	starts := newPoisson(p.Seed, p.Rate)
	newClient := func(i int) *client {
		return &client{at: starts.next(), idx: i, turn: 1, turns: p.Turns[i%len(p.Turns)], parent: trace.NoParent}
	}
	h := clientHeap{newClient(0)}
	// oldest is the oldest block number a client in conversation still
	// holds: a wide allocator reuses dense ids only past it.
	oldest := func() (uint64, bool) {
		found := false
		o := uint64(math.MaxUint64)
		for _, c := range h {
			if len(c.full) > 0 {
				o, found = min(o, c.first), true
			}
		}
		return o, found
	}
	var r trace.Request
	var chain []trace.BlockID
	for k := int64(0); h.Len() > 0; k++ {
		c := h[0]
		if c.turn == 1 && c.idx+1 < p.Clients {
			heap.Push(&h, newClient(c.idx+1))
			c = h[0] // a tie at the same instant goes to the lower index
		}
		in := p.input(c.turn)
		nfull := in / bs
		// Allocate the full blocks this turn completes, then, when the
		// input ends inside a block, a fresh id for that partial block: it
		// names a chunk ending at this turn's end, content the next turn
		// (which continues past it) does not have.
		have := len(c.full)
		missed := in - have*bs
		if nfull > have {
			first, err := ids.take(nfull-have, k, oldest)
			if err != nil {
				return err
			}
			if have == 0 {
				c.first = first
			}
			for j := 0; j < nfull-have; j++ {
				c.full = append(c.full, dense(first+uint64(j)))
			}
		}
		chain = append(chain[:0], c.full...)
		last := bs
		if rem := in - nfull*bs; rem > 0 {
			b, err := ids.take(1, k, oldest)
			if err != nil {
				return err
			}
			chain = append(chain, dense(b))
			last = rem
		}
		r = trace.Request{
			Index:           int(k),
			Arrival:         time.Duration(c.at),
			Input:           in,
			Output:          p.OutputLen,
			Blocks:          chain,
			LastBlockTokens: last,
			Session:         int64(c.idx),
			ID:              k,
			Parent:          c.parent,
			Turn:            c.turn,
		}
		if c.turn > 1 {
			r.ThinkS = p.ThinkS
		}
		if err := emit(&r); err != nil {
			return err
		}
		if c.turn == c.turns {
			heap.Pop(&h)
			continue
		}
		// Open loop: the next turn arrives after this one's service time
		// under the linear model (missed tokens only: the tokens not in
		// the full blocks of the previous turn) and the think time.
		c.at += int64(missed)*LinearMissNs + think
		c.turn++
		c.parent = k
		heap.Fix(&h, 0)
	}
	return nil
}
