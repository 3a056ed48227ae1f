package gen

import (
	"fmt"
	"math"
	"strings"

	"github.com/kvscope/kvscope/replay/trace"
)

// Order is the order in which gsp emits its prompts.
type Order string

const (
	// OrderRandom is a global shuffle of every prompt (the default).
	OrderRandom Order = "random"
	// OrderGrouped sends group after group (the best case for a cache).
	OrderGrouped Order = "grouped"
	// OrderRoundRobin interleaves the i-th prompt of every group (the worst
	// case).
	OrderRoundRobin Order = "round_robin"
)

// Orders lists the orders, sorted.
func Orders() []Order { return []Order{OrderGrouped, OrderRandom, OrderRoundRobin} }

// GSP is sglang's generated-shared-prefix workload, the paper's main
// benchmark (SPEC §3).
type GSP struct {
	Groups          int
	PromptsPerGroup int
	// PrefixRatio r: group g shares S_g = clamp(round(r·L_g), 1, L_g-1)
	// tokens.
	PrefixRatio float64
	// TotalLens: group g's prompts have L_g = TotalLens[g % len] tokens.
	TotalLens []int
	OutputLen int
	Order     Order
	// Rate is the Poisson arrival rate in requests per second (+Inf: all
	// at time 0).
	Rate      float64
	BlockSize int
	Seed      uint64
}

// DefaultGSP returns SPEC §3's defaults: 128 groups × 32 prompts.
func DefaultGSP() GSP {
	return GSP{
		Groups:          128,
		PromptsPerGroup: 32,
		PrefixRatio:     0.5,
		TotalLens:       []int{512, 1024, 2048, 4096, 8192},
		OutputLen:       4,
		Order:           OrderRandom,
		Rate:            12,
		BlockSize:       16,
		Seed:            1,
	}
}

func (p *GSP) Name() string        { return "gsp" }
func (p *GSP) TraceBlockSize() int { return p.BlockSize }

// Validate checks every parameter; errors name the flag.
func (p *GSP) Validate() error {
	if err := checkCount("groups", p.Groups, 1); err != nil {
		return err
	}
	if err := checkCount("prompts-per-group", p.PromptsPerGroup, 1); err != nil {
		return err
	}
	if int64(p.Groups)*int64(p.PromptsPerGroup) > math.MaxUint32 {
		return paramErr("prompts-per-group", "groups × prompts-per-group = %d is more than %d requests",
			int64(p.Groups)*int64(p.PromptsPerGroup), uint64(math.MaxUint32))
	}
	if math.IsNaN(p.PrefixRatio) || p.PrefixRatio < 0 || p.PrefixRatio > 1 {
		return paramErr("prefix-ratio", "must be in [0, 1] (got %s)", fmtFloat(p.PrefixRatio))
	}
	// A prompt needs a prefix of at least one token and a question of at
	// least one token.
	if err := checkLens("total-lens", p.TotalLens, 2); err != nil {
		return err
	}
	if err := checkOutput(p.OutputLen); err != nil {
		return err
	}
	if _, err := ParseOrder(string(p.Order)); err != nil {
		return err
	}
	if err := checkRate(p.Rate); err != nil {
		return err
	}
	return checkBlockSize(p.BlockSize)
}

// ParseOrder parses an --order value.
func ParseOrder(s string) (Order, error) {
	for _, o := range Orders() {
		if string(o) == s {
			return o, nil
		}
	}
	names := make([]string, 0, 3)
	for _, o := range Orders() {
		names = append(names, string(o))
	}
	return "", paramErr("order", "unknown order %q (choose %s)", s, strings.Join(names, ", "))
}

// Shape returns group g's shared prefix S_g and total length L_g in tokens.
func (p *GSP) Shape(g int) (prefix, total int) {
	total = p.TotalLens[g%len(p.TotalLens)]
	// math.Round rounds half away from zero (SPEC §3).
	prefix = int(math.Round(p.PrefixRatio * float64(total)))
	prefix = max(1, min(prefix, total-1))
	return prefix, total
}

// Canonical spells every parameter as flags.
func (p *GSP) Canonical() string {
	var c canon
	c.int("groups", p.Groups)
	c.int("prompts-per-group", p.PromptsPerGroup)
	c.float("prefix-ratio", p.PrefixRatio)
	c.ints("total-lens", p.TotalLens)
	c.int("output-len", p.OutputLen)
	c.add("order", string(p.Order))
	c.float("rate", p.Rate)
	c.int("block-size", p.BlockSize)
	c.uint64("seed", p.Seed)
	return p.Name() + c.String()
}

// Generate streams Groups × PromptsPerGroup requests in arrival order.
func (p *GSP) Generate(emit Emit) error {
	return p.generate(func(r *trace.Request, _, _ int) error { return emit(r) })
}

func (p *GSP) generate(emit func(r *trace.Request, group, prompt int) error) error {
	if err := p.Validate(); err != nil {
		return err
	}
	s := sharedPrefix{
		groups: p.Groups, perGroup: p.PromptsPerGroup, shape: p.Shape,
		order: p.Order, rate: p.Rate, output: p.OutputLen, bs: p.BlockSize, seed: p.Seed,
	}
	if err := s.run(new(alloc), emit); err != nil {
		return fmt.Errorf("gsp: %w", err)
	}
	return nil
}
