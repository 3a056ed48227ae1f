package seq

import "github.com/kvscope/kvscope/replay/kvcache"

// nopPolicy backs the probe cache used for Footprint before any replay.
type nopPolicy struct{}

func (nopPolicy) Attach(*kvcache.Cache)                   {}
func (nopPolicy) Inserted(kvcache.BlockID)                {}
func (nopPolicy) Removed(kvcache.BlockID)                 {}
func (nopPolicy) Evictable(kvcache.BlockID, bool)         {}
func (nopPolicy) Access([]kvcache.BlockID, kvcache.Event) {}
func (nopPolicy) BeginEvict(int64)                        {}
func (nopPolicy) Victim(int64) (kvcache.BlockID, bool)    { return 0, false }
