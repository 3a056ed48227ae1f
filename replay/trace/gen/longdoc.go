package gen

import (
	"fmt"
	"math"

	"github.com/kvscope/kvscope/replay/trace"
)

// Longdoc is the paper's Loogle setting (SPEC §3): each prompt is a long
// document followed by a short question; the questions of every document
// are spread over the trace by one global shuffle.
type Longdoc struct {
	Docs int
	// DocLens: document d has DocLens[d % len] tokens.
	DocLens     []int
	Questions   int
	QuestionLen int
	OutputLen   int
	Rate        float64
	BlockSize   int
	Seed        uint64
}

// DefaultLongdoc returns SPEC §3's defaults: 128 documents × 16 questions.
func DefaultLongdoc() Longdoc {
	return Longdoc{
		Docs:        128,
		DocLens:     []int{1024, 2048, 4096, 8192},
		Questions:   16,
		QuestionLen: 64,
		OutputLen:   4,
		Rate:        12,
		BlockSize:   16,
		Seed:        1,
	}
}

func (p *Longdoc) Name() string        { return "longdoc" }
func (p *Longdoc) TraceBlockSize() int { return p.BlockSize }

// Validate checks every parameter; errors name the flag.
func (p *Longdoc) Validate() error {
	if err := checkCount("docs", p.Docs, 1); err != nil {
		return err
	}
	if err := checkCount("questions", p.Questions, 1); err != nil {
		return err
	}
	if int64(p.Docs)*int64(p.Questions) > math.MaxUint32 {
		return paramErr("questions", "docs × questions = %d is more than %d requests",
			int64(p.Docs)*int64(p.Questions), uint64(math.MaxUint32))
	}
	if err := checkLens("doc-lens", p.DocLens, 1); err != nil {
		return err
	}
	if p.QuestionLen < 1 || p.QuestionLen > MaxTokens {
		return paramErr("question-len", "must be in 1..%d (got %d)", int64(MaxTokens), p.QuestionLen)
	}
	if err := checkOutput(p.OutputLen); err != nil {
		return err
	}
	if err := checkRate(p.Rate); err != nil {
		return err
	}
	return checkBlockSize(p.BlockSize)
}

// Shape returns document d's length and its prompts' total length.
func (p *Longdoc) Shape(d int) (doc, total int) {
	doc = p.DocLens[d%len(p.DocLens)]
	return doc, doc + p.QuestionLen
}

// Canonical spells every parameter as flags.
func (p *Longdoc) Canonical() string {
	var c canon
	c.int("docs", p.Docs)
	c.ints("doc-lens", p.DocLens)
	c.int("questions", p.Questions)
	c.int("question-len", p.QuestionLen)
	c.int("output-len", p.OutputLen)
	c.float("rate", p.Rate)
	c.int("block-size", p.BlockSize)
	c.uint64("seed", p.Seed)
	return p.Name() + c.String()
}

// Generate streams Docs × Questions requests in arrival order.
func (p *Longdoc) Generate(emit Emit) error {
	return p.generate(func(r *trace.Request, _, _ int) error { return emit(r) })
}

func (p *Longdoc) generate(emit func(r *trace.Request, doc, question int) error) error {
	if err := p.Validate(); err != nil {
		return err
	}
	s := sharedPrefix{
		groups: p.Docs, perGroup: p.Questions, shape: p.Shape,
		order: OrderRandom, rate: p.Rate, output: p.OutputLen, bs: p.BlockSize, seed: p.Seed,
	}
	if err := s.run(new(alloc), emit); err != nil {
		return fmt.Errorf("longdoc: %w", err)
	}
	return nil
}
