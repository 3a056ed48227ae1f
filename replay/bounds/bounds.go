package bounds

import "github.com/kvscope/kvscope/replay/kvcache"

// Bounds are SPEC §6's competitive-ratio figures for capacity B and the
// longest request L (input + output allowance), both in the cache's unit:
// k = B − L + 1, lru_bound = k, rlt_bound = 2·H_k, harmonic_k = H_k; all
// null ("n/a") when k < 1 or the sequence is empty.
type Bounds struct {
	K         *int64   `json:"k"`
	LRUBound  *float64 `json:"lru_bound"`
	RLTBound  *float64 `json:"rlt_bound"`
	HarmonicK *float64 `json:"harmonic_k"`
	// Longest is L.
	Longest int64  `json:"longest"`
	Note    string `json:"note"`
}

const (
	noteBlocks = "the paper's asymptotic form with classical paging constants (lru Θ(k), rlt Θ(log k))"
	noteTokens = "classical paging constants; exact only in block mode, indicative in token mode"
)

// Harmonic returns H_k = Σ_{t=1..k} 1/t.
func Harmonic(k int64) float64 {
	var h float64
	for t := k; t >= 1; t-- { // small terms first
		h += 1 / float64(t)
	}
	return h
}

// Of computes Bounds for capacity and longest request L in unit u.
func Of(u kvcache.Unit, capacity, longest int64) Bounds {
	b := Bounds{Longest: longest, Note: noteBlocks}
	if u == kvcache.Tokens {
		b.Note = noteTokens
	}
	k := capacity - longest + 1
	if k < 1 || longest == 0 { // longest 0: an empty sequence
		return b
	}
	h := Harmonic(k)
	lb, rb := float64(k), 2*h
	b.K, b.LRUBound, b.RLTBound, b.HarmonicK = &k, &lb, &rb, &h
	return b
}
