package liverun

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// Token ids of generated prompts lie in [TokenBase, TokenBase+TokenRange):
// inside the vocabulary of every common model (Llama 2's is 32000) and clear
// of the special tokens at the bottom.
const (
	TokenBase  = 1000
	TokenRange = 30000
)

// Plan is a trace turned into what is sent: per request the prompt's token
// ids (whole trace blocks only) and the same prompt as chains of server
// blocks, which is what the model of the worker caches and the comparison
// simulation see.
type Plan struct {
	// TraceBlockSize is the trace's tokens per block; ServerBlockSize the
	// workers' (the unit of their cache and of their cached-token counts).
	TraceBlockSize, ServerBlockSize int
	// Requests are the requests planned, in order: every request of a
	// plan made by NewPlan; in a live run's Result, the requests it
	// reached, and only when the run kept them (live.Config.KeepPlan):
	// a streamed run holds the requests in flight only.
	Requests []PlannedRequest
	// Model is the sent workload as a trace at ServerBlockSize: request i
	// of Model is Requests[i], with Input = the prompt's tokens, its chain
	// of server blocks (dense ids of Model.Blocks; built by Chain when the
	// request is sent, nil before), and the trace's Output. Its Requests
	// are held as Requests are.
	Model *trace.Trace
	// DistinctBlocks is the number of distinct trace blocks planned (the
	// dense per-run indices 0..DistinctBlocks-1).
	DistinctBlocks int
	// DroppedPartial counts partial last blocks dropped (servers cache whole
	// pages only) and DroppedTokens the tokens not sent (those blocks plus
	// tokens past the chain).
	DroppedPartial int
	DroppedTokens  int64
	// FirstTokenClashes counts pairs of sibling blocks whose first tokens
	// are equal (indices congruent mod TokenRange); they still differ at
	// the second token. 0 for runs under TokenRange distinct blocks.
	FirstTokenClashes int

	// index maps a trace block to its per-run index; firstTok records the
	// (parent index, first token) pairs seen, for FirstTokenClashes.
	index    map[trace.BlockID]uint32
	firstTok map[[2]int64]bool
}

// PlannedRequest is one trace request as sent.
type PlannedRequest struct {
	// Index is the request's index in the trace.
	Index int
	// Arrival is the trace's arrival time (before --time-scale).
	Arrival time.Duration
	// Blocks are the dense per-run indices of the whole trace blocks sent;
	// the prompt is built from them when sent (Plan.Tokens), so a run holds
	// 4 bytes per block instead of 4 per token (965 MB of prompts for the
	// 12k-request Mooncake trace otherwise).
	Blocks []uint32
	// Len is the prompt's length in tokens, TraceBlocks × TraceBlockSize.
	Len int
	// Output is the trace's output length (the max_tokens sent, at least 1).
	Output int
	// TraceBlocks is the number of whole trace blocks sent.
	TraceBlocks int
}

// NewPlan builds the prompts of reqs (already limited) from their block ids
// (SPEC §11): each distinct id gets a dense per-run index in order of first
// appearance; the first two tokens of a block encode that index (low digit
// first, so siblings, whose indices differ, differ from their first token),
// the rest are derived from it. Distinct indices give distinct blocks, so
// two prompts share exactly the whole blocks their chains share. Partial
// last blocks and tokens past the chain are dropped and counted. The plan
// holds every request (Requests, Model.Requests); a live run reading a
// streamed trace plans request by request instead (NewStreamPlan, Add).
func NewPlan(tr *trace.Trace, reqs []trace.Request, serverBlockSize int) (*Plan, error) {
	p, err := NewStreamPlan(tr.Info, serverBlockSize)
	if err != nil {
		return nil, err
	}
	for k := range reqs {
		pr, mr, err := p.Add(&reqs[k], len(p.Requests))
		if err != nil {
			return nil, err
		}
		p.Requests = append(p.Requests, pr)
		p.Model.Requests = append(p.Model.Requests, mr)
	}
	return p, nil
}

// NewStreamPlan starts an empty plan for a trace described by info (its
// block size), to which Add adds requests one at a time in arrival order:
// it holds the blocks' per-run indices (DistinctBlocks of them) and the
// model's block table, but no request unless its caller appends them to
// Requests and Model.Requests.
func NewStreamPlan(info trace.Info, serverBlockSize int) (*Plan, error) {
	bs := info.BlockSize
	if bs < 1 {
		return nil, fmt.Errorf("live: trace block size %d", bs)
	}
	if serverBlockSize < 1 {
		return nil, fmt.Errorf("live: server block size %d", serverBlockSize)
	}
	p := &Plan{TraceBlockSize: bs, ServerBlockSize: serverBlockSize,
		index: map[trace.BlockID]uint32{}, firstTok: map[[2]int64]bool{}}
	model := &trace.Trace{Blocks: trace.NewTable(false), Info: info}
	model.Info.BlockSize = serverBlockSize
	model.Info.Source = info.Source + " (live: whole blocks, server pages)"
	p.Model = model
	return p, nil
}

// Add plans trace request r as request k of the run (k counts from 0 in
// the order of Add): the per-run indices of its whole blocks (new ones
// numbered in order of first appearance) and its request in the model,
// Index k, without blocks until Chain. It returns an error, changing
// nothing, when r's new blocks would take the run past what the prompt
// encoding keeps apart. r is not kept.
func (p *Plan) Add(r *trace.Request, k int) (PlannedRequest, trace.Request, error) {
	bs := p.TraceBlockSize
	full := len(r.Blocks)
	partial := full > 0 && r.LastBlockTokens < bs
	if partial {
		full--
	}
	// Two encoded tokens name TokenRange² indices; one (block size 1) only
	// TokenRange.
	limit := uint64(TokenRange) * TokenRange
	if bs == 1 {
		limit = TokenRange
	}
	if n := uint64(len(p.index)); n+uint64(full) > limit && n+p.countNew(r.Blocks[:full]) > limit {
		return PlannedRequest{}, trace.Request{}, fmt.Errorf("live: request %d: more than %d distinct blocks of %d tokens: more than the prompt encoding can keep apart", r.Index, limit, bs)
	}
	if partial {
		p.DroppedPartial++
	}
	p.DroppedTokens += int64(r.Input - full*bs)
	pr := PlannedRequest{Index: r.Index, Arrival: r.Arrival, Output: max(1, r.Output), TraceBlocks: full, Len: full * bs}
	pr.Blocks = make([]uint32, 0, full)
	parent := int64(-1)
	for _, b := range r.Blocks[:full] {
		x, ok := p.index[b]
		if !ok {
			x = uint32(len(p.index))
			p.index[b] = x
			t0 := int64(TokenBase + x%TokenRange)
			if p.firstTok[[2]int64{parent, t0}] {
				p.FirstTokenClashes++
			}
			p.firstTok[[2]int64{parent, t0}] = true
		}
		pr.Blocks = append(pr.Blocks, x)
		parent = int64(x)
	}
	p.DistinctBlocks = len(p.index)
	// The chain of server blocks is built when the request is sent
	// (Chain), so the model holds the blocks of what was sent.
	mr := trace.Request{Index: k, Source: r.Source, Arrival: r.Arrival,
		Input: pr.Len, Output: r.Output, Session: r.Session, ID: r.ID,
		Parent: r.Parent, Turn: r.Turn, ThinkS: r.ThinkS, Type: r.Type}
	return pr, mr, nil
}

// countNew counts the distinct blocks of chain the plan has not indexed.
func (p *Plan) countNew(chain []trace.BlockID) uint64 {
	seen := map[trace.BlockID]bool{}
	for _, b := range chain {
		if _, ok := p.index[b]; !ok {
			seen[b] = true
		}
	}
	return uint64(len(seen))
}

// Chain builds request i's chain of server blocks in Model (ChainOf on
// Requests[i] and Model.Requests[i]).
func (p *Plan) Chain(i int) error { return p.ChainOf(&p.Requests[i], &p.Model.Requests[i]) }

// ChainOf builds a planned request's chain of server blocks in its model
// request mr (Blocks, LastBlockTokens) once, interning its blocks in
// Model.Blocks: server block j covers tokens [j·sb, (j+1)·sb) and is named
// by the trace block holding its last token and that token's offset in it
// (over sb), since a trace id names its whole prefix. The driver calls it as it sends,
// in request order, so the dense ids, and everything that breaks ties by
// them, do not depend on timing, and the model's blocks follow what was
// sent, not the trace.
func (p *Plan) ChainOf(pr *PlannedRequest, mr *trace.Request) error {
	sb, bs := p.ServerBlockSize, p.TraceBlockSize
	nsb := pr.Len / sb
	if mr.Blocks != nil || nsb == 0 {
		return nil
	}
	// The name is (trace block, offset / sb) packed densely: a trace block
	// sits at the same depth in every chain, so the server blocks ending
	// in it end at the same offsets, each sb apart (distinct offset / sb,
	// at most bs/sb + 1 of them). Dense names keep the table's lookup a
	// flat slice (4 bytes a block) rather than a map.
	per := uint64(bs/sb + 1)
	ids := make([]uint64, nsb)
	for j := range nsb {
		end := (j+1)*sb - 1
		ids[j] = uint64(pr.Blocks[end/bs])*per + uint64(end%bs/sb)
	}
	chain, err := p.Model.Blocks.Intern(nil, ids)
	if err != nil {
		return fmt.Errorf("live: request %d: %w", pr.Index, err)
	}
	mr.Blocks, mr.LastBlockTokens = chain, sb
	return nil
}

// Tokens appends request i's prompt to dst (reused, returned): TokensOf
// Requests[i].
func (p *Plan) Tokens(i int, dst []uint32) []uint32 { return p.TokensOf(&p.Requests[i], dst) }

// TokensOf appends a planned request's prompt to dst (reused, returned):
// its blocks' tokens in order. It is built when the request is sent and
// dropped after, so prompts in memory follow the requests in flight, not
// the trace.
func (p *Plan) TokensOf(pr *PlannedRequest, dst []uint32) []uint32 {
	dst = dst[:0]
	dst = slices.Grow(dst, pr.Len)
	for _, x := range pr.Blocks {
		dst = appendBlock(dst, x, p.TraceBlockSize)
	}
	return dst
}

// appendBlock appends the bs tokens of the block with dense index x.
func appendBlock(dst []uint32, x uint32, bs int) []uint32 {
	dst = append(dst, TokenBase+x%TokenRange)
	if bs > 1 {
		dst = append(dst, TokenBase+x/TokenRange%TokenRange)
	}
	// The rest: a SplitMix64 sequence seeded by the index.
	s := uint64(x)*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	for j := 2; j < bs; j++ {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		dst = append(dst, TokenBase+uint32(z%TokenRange))
	}
	return dst
}

// Words renders token ids as a prompt of words for servers that count
// words (llm-d-inference-sim's --force-dummy-tokenizer splits on words and
// keeps each word's trailing whitespace): one lower-case [a-z0-9]+ word per
// token, each followed by exactly one space. Distinct ids give distinct
// words, so a word prompt shares exactly the prefix its tokens share.
func Words(tokens []uint32) string {
	var b strings.Builder
	b.Grow(len(tokens) * 5)
	var buf [16]byte
	for _, t := range tokens {
		b.WriteByte('w')
		b.Write(strconv.AppendUint(buf[:0], uint64(t), 36))
		b.WriteByte(' ')
	}
	return b.String()
}
