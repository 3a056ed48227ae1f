package gen

// Stream is this package's seeded random stream (rng.go) for generators
// that live outside it (replay/trace/infperf), so that every kvscope
// generator draws with the same fixed algorithms: a PCG-DXSM source per
// (seed, purpose), Lemire's bounded draws, Fisher-Yates from the end, and
// exponential gaps by inversion.
type Stream struct{ s *stream }

// NewStream returns the stream of one purpose of one seed. Two purposes of
// one seed are independent streams.
func NewStream(seed uint64, purpose string) Stream { return Stream{newStream(seed, purpose)} }

// Float64 is uniform in [0, 1) on 53 bits.
func (s Stream) Float64() float64 { return float64(s.s.src.Uint64()>>11) * 0x1p-53 }

// Exp is an exponential draw with the given rate (mean 1/rate).
func (s Stream) Exp(rate float64) float64 { return s.s.exp(rate) }

// Uintn is uniform in [0, n), n > 0.
func (s Stream) Uintn(n uint64) uint64 { return s.s.uintn(n) }

// Shuffle permutes p uniformly.
func (s Stream) Shuffle(p []uint32) { s.s.shuffle(p) }

// Clone returns an independent copy at the same position: both give the
// same draws from here on (a two-pass algorithm replays its draws).
func (s Stream) Clone() Stream {
	src := *s.s.src
	return Stream{&stream{src: &src}}
}

// IDs hands out block ids sequentially from 0 (ids.go), for generators
// outside this package: allocating a block when the request that first
// holds it is emitted keeps chains dense and in order of first appearance,
// so writers take them as they are.
type IDs struct{ a alloc }

// Take reserves n consecutive ids and returns the first; past MaxBlocks it
// fails with ErrBlocksExhausted naming request req.
func (d *IDs) Take(n int, req int64) (uint32, error) {
	first, err := d.a.take(n, req, nil)
	return dense(first), err
}

// Len is the number of ids handed out.
func (d *IDs) Len() uint64 { return d.a.next }
