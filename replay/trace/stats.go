package trace

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Stats summarises a trace (`kvscope trace stats`). Everything is computed
// in one pass over a Stream: per unique block a request count (4 bytes), per
// request its two lengths (8 bytes, for exact percentiles); no request is
// held.
type Stats struct {
	Info Info `json:"info"`

	Requests         int `json:"requests"`
	SubagentRequests int `json:"subagent_requests"` // kv-cache-tester requests inside sub-agent entries
	TopLevelRequests int `json:"top_level_requests"`
	SkippedLines     int `json:"skipped_lines"`

	// DurationS is the last arrival minus the first.
	DurationS float64 `json:"duration_s"`
	// MeanRate is requests per second over DurationS (0 if DurationS is 0).
	MeanRate float64 `json:"mean_rate_per_s"`
	// PeakRate1s is the most requests arriving in one 1-second bin
	// [first+k s, first+(k+1) s); PeakRate60s is the most in one 60-second
	// bin divided by 60.
	PeakRate1s  float64 `json:"peak_rate_1s_per_s"`
	PeakRate60s float64 `json:"peak_rate_60s_per_s"`

	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	Input        Lengths `json:"input_length"`
	Output       Lengths `json:"output_length"`

	BlockSize    int   `json:"block_size"`
	Blocks       int64 `json:"blocks"` // block lookups: Σ len(blocks)
	UniqueBlocks int   `json:"unique_blocks"`
	// TailTokens are input tokens past the last block id (no id: always miss).
	TailTokens int64 `json:"tail_tokens"`
	Sessions   int   `json:"sessions"`

	// Infinite-cache hits in arrival order: a block hits when an earlier
	// request had it; a hit block contributes its token weight.
	HitBlocks          int64   `json:"ideal_hit_blocks"`
	HitTokens          int64   `json:"ideal_hit_tokens"`
	IdealBlockHitRatio float64 `json:"ideal_block_hit_ratio"`
	IdealTokenHitRatio float64 `json:"ideal_token_hit_ratio"`

	// MaxRequestBlocks is the longest chain; DeepestSharedPrefix the longest
	// prefix (in blocks) a request shares with an earlier one.
	MaxRequestBlocks    int `json:"max_request_blocks"`
	DeepestSharedPrefix int `json:"deepest_shared_prefix_blocks"`

	// Sharing is a histogram over unique blocks of how many requests
	// contain each: power-of-two bins [Min, Max].
	Sharing []SharingBin `json:"block_sharing"`
}

// Lengths summarises token lengths; percentiles are nearest rank
// (the ⌈q·n⌉-th smallest).
type Lengths struct {
	Mean float64 `json:"mean"`
	P50  int     `json:"p50"`
	P90  int     `json:"p90"`
	P99  int     `json:"p99"`
	Max  int     `json:"max"`
}

// SharingBin counts unique blocks contained in Min..Max requests.
type SharingBin struct {
	Min    int `json:"min"`
	Max    int `json:"max"`
	Blocks int `json:"blocks"`
}

// StatsProbe, when set, is called every ProbeEvery requests during
// ComputeStats (benchmarks use it to sample the heap).
type StatsProbe struct {
	Every int
	Func  func(requests int, uniqueBlocks int)
}

// ComputeStats reads s to the end and summarises it.
func ComputeStats(s *Stream) (*Stats, error) { return ComputeStatsProbe(s, StatsProbe{}) }

// ComputeStatsProbe is ComputeStats with a probe.
func ComputeStatsProbe(s *Stream, probe StatsProbe) (*Stats, error) {
	var (
		acc statsAcc
		r   Request
	)
	for {
		err := s.NextInto(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		acc.add(&r, s.Info().BlockSize, s.Table().Len())
		if probe.Func != nil && probe.Every > 0 && acc.st.Requests%probe.Every == 0 {
			probe.Func(acc.st.Requests, s.Table().Len())
		}
	}
	return acc.finish(s.Info(), s.Table().Len()), nil
}

// StatsOf summarises a loaded trace without reading its file again; it gives
// what ComputeStats gives on a stream of the same file with the same options.
func StatsOf(t *Trace) *Stats {
	var acc statsAcc
	n := 0
	if t.Blocks != nil {
		n = t.Blocks.Len()
	}
	for i := range t.Requests {
		acc.add(&t.Requests[i], t.Info.BlockSize, n)
	}
	return acc.finish(t.Info, n)
}

// statsAcc is the one-pass state behind ComputeStats and StatsOf.
type statsAcc struct {
	st           Stats
	counts       []uint32 // requests per dense block
	ins, outs    []uint32
	sess         sessionSet
	first, prev  time.Duration
	bin1, bin60  int64
	n1, n60      int
	tokensHitDen int64
}

// add counts r; tableLen is at least one more than r's largest dense id.
func (a *statsAcc) add(r *Request, bs, tableLen int) {
	st := &a.st
	if st.Requests == 0 {
		a.first = r.Arrival
		a.bin1, a.bin60 = -1, -1
	}
	a.prev = r.Arrival
	st.Requests++
	if slices.Contains(r.Tags, "subagent") {
		st.SubagentRequests++
	}
	if b := int64((r.Arrival - a.first) / time.Second); b != a.bin1 {
		a.bin1, a.n1 = b, 0
	}
	a.n1++
	st.PeakRate1s = max(st.PeakRate1s, float64(a.n1))
	if b := int64((r.Arrival - a.first) / time.Minute); b != a.bin60 {
		a.bin60, a.n60 = b, 0
	}
	a.n60++
	st.PeakRate60s = max(st.PeakRate60s, float64(a.n60)/60)

	st.InputTokens += int64(r.Input)
	st.OutputTokens += int64(r.Output)
	a.ins = append(a.ins, uint32(r.Input))
	a.outs = append(a.outs, uint32(r.Output))
	if r.Session >= 0 {
		a.sess.add(r.Session)
	}
	if tableLen > len(a.counts) {
		a.counts = slices.Grow(a.counts, tableLen-len(a.counts))[:tableLen]
	}
	st.Blocks += int64(len(r.Blocks))
	st.MaxRequestBlocks = max(st.MaxRequestBlocks, len(r.Blocks))
	hits := 0
	for i, b := range r.Blocks {
		if a.counts[b] > 0 {
			hits++
			st.HitTokens += int64(r.BlockTokens(i, bs))
		}
		a.counts[b]++
	}
	st.HitBlocks += int64(hits)
	st.DeepestSharedPrefix = max(st.DeepestSharedPrefix, hits)
	st.TailTokens += int64(r.Input) - int64(r.ChainTokens(bs))
	a.tokensHitDen += int64(r.Input)
}

func (a *statsAcc) finish(info Info, uniqueBlocks int) *Stats {
	st := &a.st
	st.Info = info
	st.BlockSize = info.BlockSize
	st.SkippedLines = info.Skipped.Count
	st.TopLevelRequests = st.Requests - st.SubagentRequests
	st.UniqueBlocks = uniqueBlocks
	st.Sessions = a.sess.len()
	st.DurationS = (a.prev - a.first).Seconds()
	if st.DurationS > 0 {
		st.MeanRate = float64(st.Requests) / st.DurationS
	}
	if st.Blocks > 0 {
		st.IdealBlockHitRatio = float64(st.HitBlocks) / float64(st.Blocks)
	}
	if a.tokensHitDen > 0 {
		st.IdealTokenHitRatio = float64(st.HitTokens) / float64(a.tokensHitDen)
	}
	st.Input = lengths(a.ins, st.InputTokens)
	st.Output = lengths(a.outs, st.OutputTokens)
	if len(a.counts) < uniqueBlocks {
		a.counts = slices.Grow(a.counts, uniqueBlocks-len(a.counts))[:uniqueBlocks]
	}
	st.Sharing = sharing(a.counts[:uniqueBlocks])
	return st
}

func lengths(v []uint32, total int64) Lengths {
	if len(v) == 0 {
		return Lengths{}
	}
	slices.Sort(v)
	rank := func(q float64) int {
		k := int(math.Ceil(q * float64(len(v))))
		return int(v[max(k, 1)-1])
	}
	return Lengths{
		Mean: float64(total) / float64(len(v)),
		P50:  rank(0.50), P90: rank(0.90), P99: rank(0.99),
		Max: int(v[len(v)-1]),
	}
}

func sharing(counts []uint32) []SharingBin {
	var bins []SharingBin
	for _, c := range counts {
		if c == 0 {
			continue
		}
		k := bits.Len32(c) - 1 // bin [2^k, 2^(k+1)-1]
		for len(bins) <= k {
			lo := 1 << len(bins)
			bins = append(bins, SharingBin{Min: lo, Max: 2*lo - 1})
		}
		bins[k].Blocks++
	}
	return bins
}

// sessionSet counts distinct session ids: a bitset for small ids (generated
// and kv-cache-tester sessions are numbered from 0), a map for others.
type sessionSet struct {
	bits  []uint64
	other map[int64]struct{}
	n     int
}

func (s *sessionSet) add(id int64) {
	if id < 1<<26 {
		w := int(id >> 6)
		if w >= len(s.bits) {
			s.bits = slices.Grow(s.bits, w+1-len(s.bits))[:w+1]
		}
		if s.bits[w]&(1<<(id&63)) == 0 {
			s.bits[w] |= 1 << (id & 63)
			s.n++
		}
		return
	}
	if s.other == nil {
		s.other = make(map[int64]struct{})
	}
	if _, ok := s.other[id]; !ok {
		s.other[id] = struct{}{}
		s.n++
	}
}

func (s *sessionSet) len() int { return s.n }

// String renders the statistics as aligned text.
func (st *Stats) String() string {
	var b []byte
	line := func(k, format string, args ...any) {
		b = fmt.Appendf(b, "%-28s "+format+"\n", append([]any{k}, args...)...)
	}
	line("source", "%s", st.Info.Source)
	line("format", "%s", st.Info.Format)
	if n := NoPrefixNote(st.Info.Format); n != "" {
		line("note", "%s", n)
	}
	if st.Info.Options != "" {
		line("reader options", "%s", st.Info.Options)
	}
	line("requests", "%d", st.Requests)
	if st.SubagentRequests > 0 {
		line("  top-level / in sub-agents", "%d / %d", st.TopLevelRequests, st.SubagentRequests)
	}
	line("skipped lines", "%d", st.SkippedLines)
	for _, m := range st.Info.Skipped.First {
		line("", "%s", m)
	}
	line("duration", "%.3f s", st.DurationS)
	line("mean rate", "%.3f req/s", st.MeanRate)
	line("peak rate (1 s bins)", "%.0f req/s", st.PeakRate1s)
	line("peak rate (60 s bins)", "%.3f req/s", st.PeakRate60s)
	line("input tokens", "%d (mean %.1f, p50 %d, p90 %d, p99 %d, max %d)", st.InputTokens, st.Input.Mean, st.Input.P50, st.Input.P90, st.Input.P99, st.Input.Max)
	line("output tokens", "%d (mean %.1f, p50 %d, p90 %d, p99 %d, max %d)", st.OutputTokens, st.Output.Mean, st.Output.P50, st.Output.P90, st.Output.P99, st.Output.Max)
	line("block size", "%d tokens", st.BlockSize)
	line("block lookups", "%d", st.Blocks)
	line("unique blocks", "%d", st.UniqueBlocks)
	if st.TailTokens > 0 {
		line("tail tokens (no block id)", "%d", st.TailTokens)
	}
	line("sessions", "%d", st.Sessions)
	line("ideal block hit ratio", "%.6f (%d of %d)", st.IdealBlockHitRatio, st.HitBlocks, st.Blocks)
	line("ideal token hit ratio", "%.6f (%d of %d)", st.IdealTokenHitRatio, st.HitTokens, st.InputTokens)
	line("longest request", "%d blocks", st.MaxRequestBlocks)
	line("deepest shared prefix", "%d blocks", st.DeepestSharedPrefix)
	b = append(b, "requests sharing a block     unique blocks\n"...)
	for _, bin := range st.Sharing {
		r := fmt.Sprintf("%d", bin.Min)
		if bin.Max != bin.Min {
			r = fmt.Sprintf("%d-%d", bin.Min, bin.Max)
		}
		b = fmt.Appendf(b, "  %-26s %d\n", r, bin.Blocks)
	}
	return string(b)
}
