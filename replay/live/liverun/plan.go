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
	Requests                        []PlannedRequest
	// Model is the sent workload as a trace at ServerBlockSize: request i
	// of Model is Requests[i], with Input = the prompt's tokens, its chain
	// of server blocks (dense ids of Model.Blocks; built by Chain when the
	// request is sent, nil before), and the trace's Output.
	Model *trace.Trace
	// DistinctBlocks is the number of distinct trace blocks sent (the dense
	// per-run indices 0..DistinctBlocks-1).
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
// last blocks and tokens past the chain are dropped and counted.
func NewPlan(tr *trace.Trace, reqs []trace.Request, serverBlockSize int) (*Plan, error) {
	bs := tr.Info.BlockSize
	if bs < 1 {
		return nil, fmt.Errorf("live: trace block size %d", bs)
	}
	if serverBlockSize < 1 {
		return nil, fmt.Errorf("live: server block size %d", serverBlockSize)
	}
	p := &Plan{TraceBlockSize: bs, ServerBlockSize: serverBlockSize}
	index := map[trace.BlockID]uint32{}
	firstTok := map[[2]int64]bool{} // (parent index or -1, first token) seen
	model := &trace.Trace{Blocks: trace.NewTable(false), Info: tr.Info}
	model.Info.BlockSize = serverBlockSize
	model.Info.Source = tr.Info.Source + " (live: whole blocks, server pages)"
	for _, r := range reqs {
		full := len(r.Blocks)
		if full > 0 && r.LastBlockTokens < bs {
			full--
			p.DroppedPartial++
		}
		p.DroppedTokens += int64(r.Input - full*bs)
		pr := PlannedRequest{Index: r.Index, Arrival: r.Arrival, Output: max(1, r.Output), TraceBlocks: full, Len: full * bs}
		pr.Blocks = make([]uint32, 0, full)
		parent := int64(-1)
		for _, b := range r.Blocks[:full] {
			x, ok := index[b]
			if !ok {
				x = uint32(len(index))
				index[b] = x
				t0 := int64(TokenBase + x%TokenRange)
				if firstTok[[2]int64{parent, t0}] {
					p.FirstTokenClashes++
				}
				firstTok[[2]int64{parent, t0}] = true
			}
			pr.Blocks = append(pr.Blocks, x)
			parent = int64(x)
		}
		// The chain of server blocks is built when the request is sent
		// (Chain), so the model holds the blocks of what was sent.
		mr := trace.Request{Index: len(model.Requests), Source: r.Source, Arrival: r.Arrival,
			Input: pr.Len, Output: r.Output, Session: r.Session, ID: r.ID,
			Parent: r.Parent, Turn: r.Turn, ThinkS: r.ThinkS, Type: r.Type}
		model.Requests = append(model.Requests, mr)
		p.Requests = append(p.Requests, pr)
	}
	p.DistinctBlocks = len(index)
	// Two encoded tokens name TokenRange² indices; one (block size 1) only
	// TokenRange.
	if limit := uint64(TokenRange) * TokenRange; bs == 1 && len(index) > TokenRange || uint64(len(index)) > limit {
		return nil, fmt.Errorf("live: %d distinct blocks of %d tokens: more than the prompt encoding can keep apart", len(index), bs)
	}
	p.Model = model
	return p, nil
}

// Chain builds request i's chain of server blocks in Model (Blocks,
// LastBlockTokens) once, interning its blocks in Model.Blocks: server block
// j covers tokens [j·sb, (j+1)·sb) and is named by the trace block holding
// its last token and that token's offset in it, since a trace id names its
// whole prefix. The driver calls it as it sends, in request order, so the
// dense ids, and everything that breaks ties by them, do not depend on
// timing, and the model's blocks follow what was sent, not the trace.
func (p *Plan) Chain(i int) error {
	mr := &p.Model.Requests[i]
	pr := &p.Requests[i]
	sb, bs := p.ServerBlockSize, p.TraceBlockSize
	nsb := pr.Len / sb
	if mr.Blocks != nil || nsb == 0 {
		return nil
	}
	ids := make([]uint64, nsb)
	for j := range nsb {
		end := (j+1)*sb - 1
		ids[j] = uint64(pr.Blocks[end/bs])*uint64(bs) + uint64(end%bs)
	}
	chain, err := p.Model.Blocks.Intern(nil, ids)
	if err != nil {
		return fmt.Errorf("live: request %d: %w", pr.Index, err)
	}
	mr.Blocks, mr.LastBlockTokens = chain, sb
	return nil
}

// Tokens appends request i's prompt to dst (reused, returned): its blocks'
// tokens in order. It is built when the request is sent and dropped after,
// so prompts in memory follow the requests in flight, not the trace.
func (p *Plan) Tokens(i int, dst []uint32) []uint32 {
	pr := &p.Requests[i]
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
