package infperf

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/gen"
)

// DefaultBlockSize is vLLM's default KV block size on CUDA (tokens).
const DefaultBlockSize = 16

// Params is one inference-perf workload to generate: a configuration, the
// block size of the trace and the seed of kvscope's draws. It implements
// gen.Generator, so `kvscope gen` writes it like its own generators.
type Params struct {
	Config    *Config
	BlockSize int
	Seed      uint64
}

// Name is "inference-perf".
func (p *Params) Name() string { return "inference-perf" }

// TraceBlockSize is the trace's block size.
func (p *Params) TraceBlockSize() int { return p.BlockSize }

// Canonical is the command that reproduces the trace (the configuration's
// path as given, then every flag).
func (p *Params) Canonical() string {
	file := "-"
	if p.Config != nil {
		file = p.Config.File
	}
	return "inference-perf " + file + " --block-size " + strconv.Itoa(p.BlockSize) +
		" --seed " + strconv.FormatUint(p.Seed, 10)
}

// Validate checks the parameters beside the configuration (which
// ParseConfig has checked).
func (p *Params) Validate() error {
	if p.Config == nil {
		return errors.New("no configuration")
	}
	if p.BlockSize < 1 || p.BlockSize > gen.MaxBlockSize {
		return &gen.ParamError{Flag: "block-size", Reason: fmt.Sprintf("must be in [1, %d] (got %d)", gen.MaxBlockSize, p.BlockSize)}
	}
	return nil
}

// Generate streams the requests in arrival order (gen.Generator).
func (p *Params) Generate(emit gen.Emit) error {
	_, err := p.Run(emit)
	return err
}

// StageSummary describes one generated stage.
type StageSummary struct {
	Stage    int
	Rate     float64
	Duration int64
	// Requests is how many requests the stage sent.
	Requests int64
	// Start is when the stage's timer started (its first request comes
	// one gap later); First and Last are its first and last arrivals.
	Start, First, Last time.Duration
}

// Summary describes a generated trace.
type Summary struct {
	Stages []StageSummary
	// Requests, InputTokens and OutputTokens are totals.
	Requests     int64
	InputTokens  int64
	OutputTokens int64
	// Blocks is the number of distinct block ids.
	Blocks uint64
}

// Run generates the trace, streaming requests to emit, and summarises it.
func (p *Params) Run(emit gen.Emit) (*Summary, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	w, err := newWorkload(p)
	if err != nil {
		return nil, err
	}
	sum := &Summary{}
	var start int64 // ns: the current stage's timer start
	var r trace.Request
	tags := make([]string, 0, 2)
	l := &p.Config.Load
	for k := range l.Stages {
		st := StageSummary{Stage: k, Rate: l.Stages[k].Rate, Duration: l.Stages[k].Duration, Start: time.Duration(start)}
		arr := newArrivals(l, k, p.Seed)
		w.startStage(k)
		stageTag := "stage=" + strconv.Itoa(k)
		var last int64
		for i := int64(0); ; i++ {
			t, ok := arr.next()
			if !ok {
				break
			}
			at := start + secondsToNs(t)
			idx := sum.Requests
			tags = append(tags[:0], stageTag)
			r = trace.Request{Index: int(idx), Arrival: time.Duration(at), ID: idx,
				Session: -1, Parent: trace.NoParent, Blocks: r.Blocks[:0]}
			if err := w.fill(&r, i, &tags); err != nil {
				return nil, err
			}
			r.Tags = tags
			if st.Requests == 0 {
				st.First = r.Arrival
			}
			st.Requests++
			last = at
			sum.Requests++
			sum.InputTokens += int64(r.Input)
			sum.OutputTokens += int64(r.Output)
			if err := emit(&r); err != nil {
				return nil, err
			}
		}
		st.Last = time.Duration(last)
		sum.Stages = append(sum.Stages, st)
		// The next stage starts when this one has sent its last request
		// and (in inference-perf, after every request has finished: a
		// trace cannot know when) the interval and the lead have passed.
		end := start + secondsToNs(float64(l.Stages[k].Duration))
		if st.Requests > 0 {
			end = last
		}
		start = end + secondsToNs(max(l.Interval, 0))
		if l.MultiProcess() {
			start += secondsToNs(stageLead)
		}
	}
	sum.Blocks = w.ids.Len()
	return sum, nil
}

// workload holds what the data generator fixed before the first stage.
type workload struct {
	p    *Params
	bs   int
	ids  gen.IDs
	data *Data
	// shared_prefix
	perm     []uint32 // position in the shuffled prompt list → prompt
	sys      []int64  // per group: system prompt tokens
	question []int64  // per prompt (group-major): question tokens
	output   []int64  // per prompt: output tokens
	groupID  []int64  // per group: first id of its shared blocks, -1 none yet
	ownID    []int64  // per prompt: first id of its own blocks, -1 none yet
	sessions []session
	stage    int
	// random, synthetic: the length lists, restarted by every stage
	inLens, outLens gen.Stream
}

// session is one multi-turn conversation (one per prompt and stage).
type session struct {
	extra []trace.BlockID // ids of its full blocks past the prompt's own
	turns int             // requests sent
	last  int64           // ID of its last request
}

func newWorkload(p *Params) (*workload, error) {
	c := p.Config
	w := &workload{p: p, bs: p.BlockSize, data: &c.Data}
	switch c.Data.Type {
	case DataSharedPrefix:
		sp := c.Data.SharedPrefix
		n := sp.Prompts()
		w.perm = make([]uint32, n)
		for i := range w.perm {
			w.perm[i] = uint32(i)
		}
		gen.NewStream(p.Seed, "order").Shuffle(w.perm)
		// Lengths are drawn group by group as inference-perf does: the
		// system prompts, then per group its questions and its outputs,
		// each purpose from its own stream.
		ss, qs, os := gen.NewStream(p.Seed, "lengths.system_prompt"), gen.NewStream(p.Seed, "lengths.question"), gen.NewStream(p.Seed, "lengths.output")
		w.sys = make([]int64, sp.Groups)
		w.groupID = make([]int64, sp.Groups)
		for g := range w.sys {
			w.sys[g] = sp.SystemPromptLen.draw(ss)
			w.groupID[g] = -1
		}
		w.question = make([]int64, n)
		w.output = make([]int64, n)
		for u := range n {
			w.question[u] = sp.QuestionLen.draw(qs)
			w.output[u] = sp.OutputLen.draw(os)
		}
		w.ownID = make([]int64, n)
		for i := range w.ownID {
			w.ownID[i] = -1
		}
		if sp.MultiTurn {
			w.sessions = make([]session, n)
		}
	}
	return w, nil
}

// startStage resets what lives for one stage: inference-perf ends every
// multi-turn conversation with its stage (LocalUserSession.clear_instances).
func (w *workload) startStage(k int) {
	w.stage = k
	for i := range w.sessions {
		w.sessions[i] = session{extra: w.sessions[i].extra[:0]}
	}
}

// fill sets the lengths, blocks and tags of request number i of its stage.
func (w *workload) fill(r *trace.Request, i int64, tags *[]string) error {
	if w.data.Type != DataSharedPrefix {
		return w.fillRandom(r, i)
	}
	sp := w.data.SharedPrefix
	u := int(w.perm[i%int64(len(w.perm))])
	g := u / sp.PromptsPerGroup
	*tags = append(*tags, "group="+strconv.Itoa(g))
	L := w.sys[g] + w.question[u]
	if L > gen.MaxTokens {
		return fmt.Errorf("request %d: %d input tokens, more than %d", r.ID, L, int64(gen.MaxTokens))
	}
	if err := w.promptBlocks(u, g, r.ID); err != nil {
		return err
	}
	if sp.MultiTurn {
		return w.fillTurn(r, u, g)
	}
	r.Input, r.Output = int(L), int(w.output[u])
	r.Blocks = w.appendPrompt(r.Blocks, u, g, int(L)/w.bs)
	r.LastBlockTokens = lastWeight(len(r.Blocks), w.bs)
	return nil
}

// promptBlocks allocates, when first needed, group g's shared blocks (the
// full blocks inside its system prompt) and then prompt u's own full
// blocks, each as one run in chain order, so ids stay in order of first
// appearance.
func (w *workload) promptBlocks(u, g int, req int64) error {
	shared, full := int(w.sys[g])/w.bs, int(w.sys[g]+w.question[u])/w.bs
	if w.groupID[g] < 0 && shared > 0 {
		first, err := w.ids.Take(shared, req)
		if err != nil {
			return err
		}
		w.groupID[g] = int64(first)
	}
	if w.ownID[u] < 0 && full > shared {
		first, err := w.ids.Take(full-shared, req)
		if err != nil {
			return err
		}
		w.ownID[u] = int64(first)
	}
	return nil
}

// appendPrompt appends the first n full blocks of prompt u (n at most its
// full blocks): the group's, then its own.
func (w *workload) appendPrompt(b []trace.BlockID, u, g, n int) []trace.BlockID {
	shared := int(w.sys[g]) / w.bs
	for j := range n {
		if j < shared {
			b = append(b, trace.BlockID(w.groupID[g]+int64(j)))
		} else {
			b = append(b, trace.BlockID(w.ownID[u]+int64(j-shared)))
		}
	}
	return b
}

// fillTurn is the next request of prompt u's conversation in this stage.
// inference-perf keeps one session per prompt; the session starts empty
// (the datagen builds sessions primed with the system prompt, but the
// worker looks sessions up by id and creates fresh, empty ones), each
// request sends the context, a space and the prompt, and a reply extends
// the context by the prompt sent and the reply; sessions end with their
// stage. So the k-th request of a stage carries k copies of the prompt and
// the k-1 replies before it: k·L + (k-1)·O tokens of one token stream.
// Its first L tokens are the prompt itself, whose blocks it shares with
// the same prompt's conversation in other stages (and the system prompt's
// with the group); later blocks belong to this conversation alone (the
// replies are sampled anew).
func (w *workload) fillTurn(r *trace.Request, u, g int) error {
	s := &w.sessions[u]
	k := int64(s.turns + 1)
	L, O := w.sys[g]+w.question[u], w.output[u]
	if L+O > 0 && k > (gen.MaxTokens+O)/(L+O) {
		return fmt.Errorf("request %d: turn %d of prompt %d's conversation would exceed %d input tokens", r.ID, k, u, int64(gen.MaxTokens))
	}
	total := k*L + (k-1)*O
	base, full := int(L)/w.bs, int(total)/w.bs
	if n := full - base - len(s.extra); n > 0 {
		first, err := w.ids.Take(n, r.ID)
		if err != nil {
			return err
		}
		for j := range n {
			s.extra = append(s.extra, first+trace.BlockID(j))
		}
	}
	r.Blocks = w.appendPrompt(r.Blocks, u, g, base)
	r.Blocks = append(r.Blocks, s.extra[:full-base]...)
	r.Input, r.Output = int(total), int(O)
	r.LastBlockTokens = lastWeight(full, w.bs)
	r.Session, r.Turn = int64(w.stage)*int64(len(w.perm))+int64(u), int(k)
	if s.turns > 0 {
		r.Parent = s.last
	}
	s.turns++
	s.last = r.ID
	return nil
}

// fillRandom is request number i of its stage for random and synthetic:
// the i-th pair of lengths (each stage reads the lists from their start)
// and a prompt shared with no other request.
func (w *workload) fillRandom(r *trace.Request, i int64) error {
	if i == 0 {
		// Each stage restarts the lists: fresh streams replay them.
		w.inLens = gen.NewStream(w.p.Seed, "lengths.input")
		w.outLens = gen.NewStream(w.p.Seed, "lengths.output")
	}
	in, out := w.data.Input, w.data.Output
	if i >= in.TotalCount || i >= out.TotalCount {
		return fmt.Errorf("request %d: stage request %d is past total_count %d of the length distributions (inference-perf would fail it)",
			r.ID, i, min(in.TotalCount, out.TotalCount))
	}
	r.Input, r.Output = int(in.sample(w.inLens, true)), int(out.sample(w.outLens, true))
	full := r.Input / w.bs
	if full > 0 {
		first, err := w.ids.Take(full, r.ID)
		if err != nil {
			return err
		}
		for j := range full {
			r.Blocks = append(r.Blocks, first+trace.BlockID(j))
		}
	}
	r.LastBlockTokens = lastWeight(full, w.bs)
	return nil
}

// lastWeight: every block of a chain is full (a partial last block has no
// id, as vLLM never caches one).
func lastWeight(n, bs int) int {
	if n == 0 {
		return 0
	}
	return bs
}

var _ gen.Generator = (*Params)(nil)
