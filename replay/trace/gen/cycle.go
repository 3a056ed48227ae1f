package gen

import (
	"fmt"
	"time"

	"github.com/kvscope/kvscope/replay/trace"
)

// Cycle is the workload adversarial for LRU (SPEC §3, §6): K+1 distinct
// prefixes of PrefixBlocks blocks each, requested in the fixed order
// 0, 1, …, K, 0, 1, … for Rounds rounds. A cache of K blocks (one-block
// prefixes) under LRU misses every request after the first round.
type Cycle struct {
	K            int
	PrefixBlocks int
	// Rounds is the number of passes over the K+1 prefixes; 0 means K+1.
	Rounds    int
	OutputLen int
	BlockSize int
	// Seed is accepted and recorded; the cycle draws no random numbers.
	Seed uint64
}

// CycleGap is the time between two cycle requests.
const CycleGap = time.Millisecond

// DefaultCycle returns SPEC §3's defaults: k = 16, one-block prefixes,
// k+1 rounds, no output, token-level blocks.
func DefaultCycle() Cycle {
	return Cycle{K: 16, PrefixBlocks: 1, OutputLen: 0, BlockSize: 1, Seed: 1}
}

func (p *Cycle) Name() string        { return "cycle" }
func (p *Cycle) TraceBlockSize() int { return p.BlockSize }

// rounds resolves the K+1 default.
func (p *Cycle) rounds() int {
	if p.Rounds == 0 {
		return p.K + 1
	}
	return p.Rounds
}

// Validate checks every parameter; errors name the flag.
func (p *Cycle) Validate() error {
	if err := checkCount("k", p.K, 1); err != nil {
		return err
	}
	if err := checkCount("prefix-blocks", p.PrefixBlocks, 1); err != nil {
		return err
	}
	if p.Rounds < 0 {
		return paramErr("rounds", "must be at least 1 (got %d)", p.Rounds)
	}
	if err := checkCount("rounds", p.rounds(), 1); err != nil {
		return err
	}
	if err := checkBlockSize(p.BlockSize); err != nil {
		return err
	}
	if uint64(p.K+1)*uint64(p.PrefixBlocks) > MaxBlocks {
		return paramErr("prefix-blocks", "(k+1) × prefix-blocks = %d blocks is more than %d",
			uint64(p.K+1)*uint64(p.PrefixBlocks), uint64(MaxBlocks))
	}
	if uint64(p.PrefixBlocks)*uint64(p.BlockSize) > MaxTokens {
		return paramErr("prefix-blocks", "prefix-blocks × block-size is more than %d tokens", int64(MaxTokens))
	}
	if uint64(p.K+1)*uint64(p.rounds()) > MaxRequests {
		return paramErr("rounds", "(k+1) × rounds is more than %d requests", int64(MaxRequests))
	}
	return checkOutput(p.OutputLen)
}

// Canonical spells every parameter as flags, rounds resolved.
func (p *Cycle) Canonical() string {
	var c canon
	c.int("k", p.K)
	c.int("prefix-blocks", p.PrefixBlocks)
	c.int("rounds", p.rounds())
	c.int("output-len", p.OutputLen)
	c.int("block-size", p.BlockSize)
	c.uint64("seed", p.Seed)
	return p.Name() + c.String()
}

// Generate streams (K+1)·Rounds requests, request i at i ms, holding
// prefix i mod (K+1): blocks (i mod (K+1))·PrefixBlocks + j, j <
// PrefixBlocks (the ids of first appearance, so dense).
func (p *Cycle) Generate(emit Emit) error {
	if err := p.Validate(); err != nil {
		return err
	}
	m := p.K + 1
	n := int64(m) * int64(p.rounds())
	chain := make([]trace.BlockID, p.PrefixBlocks)
	var r trace.Request
	for i := int64(0); i < n; i++ {
		first := trace.BlockID(int(i%int64(m)) * p.PrefixBlocks)
		for j := range chain {
			chain[j] = first + trace.BlockID(j)
		}
		r = trace.Request{
			Index:           int(i),
			Arrival:         time.Duration(i) * CycleGap,
			Input:           p.PrefixBlocks * p.BlockSize,
			Output:          p.OutputLen,
			Blocks:          chain,
			LastBlockTokens: p.BlockSize,
			Session:         -1,
			ID:              i,
			Parent:          trace.NoParent,
		}
		if err := emit(&r); err != nil {
			return fmt.Errorf("cycle: %w", err)
		}
	}
	return nil
}
