package evict

import "github.com/kvscope/kvscope/replay/kvcache"

// Policy is the interface every policy implements: kvcache.Policy (the cache
// calls it; see that type for the hooks' contract).
type Policy = kvcache.Policy

// nop gives policies the hooks they do not need.
type nop struct{ c *kvcache.Cache }

func (p *nop) Attach(c *kvcache.Cache)       { p.c = c }
func (*nop) Inserted(BlockID)                {}
func (*nop) Removed(BlockID)                 {}
func (*nop) Access([]BlockID, kvcache.Event) {}
func (*nop) BeginEvict(int64)                {}
