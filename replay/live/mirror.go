package live

import (
	"sync"
	"time"
)

// Mirror is one worker's cache as its KV events tell it: the block hashes
// present now, and what was learned from BlockStored (the hash of each
// block given its parent's hash and its tokens) so that a prompt can be
// walked block by block to the server's hashes. What is learned is kept
// after a block's removal and across restarts (the server hashes the same
// tokens the same way) for the last Retain removed blocks (65,536, or the
// worker's cache size in blocks when smaller: the driver sets it), so
// that memory follows the server's cache and not the length of the run
// (about 190 bytes per hash known, in four maps); a block forgotten and
// stored again is learned again from its BlockStored. Safe for concurrent
// use.
//
// The server's event for a request lists the hashes of the blocks it
// added, in prompt order, with the hash of the last block it already had as
// the first one's parent (llm-d-inference-sim v0.10.2 block_cache.go
// startRequest; vLLM's BlockStored likewise). When the blocks it had are
// not a leading prefix (an earlier block was evicted, a later one kept),
// that parent and the chaining of the listed hashes are not the true
// parents: the walk then falls back on a block's tokens alone when exactly
// one hash was ever stored with them (kvscope's generated prompts give
// every block of a prefix tree distinct tokens) and learns the true parent
// from the walk.
type Mirror struct {
	mu      sync.Mutex
	present map[uint64]struct{}
	learned map[learnKey]uint64
	// info is what taught each known hash (its key, its tokens' digest);
	// extra the keys the walk learned for it besides.
	info  map[uint64]hashInfo
	extra map[uint64][]learnKey
	// gone lists removed hashes, oldest first; past retain they are
	// forgotten unless stored again.
	gone   []uint64
	retain int
	// byTokens maps a block's token digest to its one hash (ambiguous:
	// stored under more than one hash).
	byTokens map[uint64]tokHash

	blockSize int
	seenSeq   bool
	lastSeq   uint64
	stats     MirrorStats
	// sync is what the driver's correction of its model needs (see
	// syncState).
	sync syncState
	// hashes is blockStates' scratch.
	hashes []uint64
	// log, when keep is set, holds every applied event in order (tests
	// replay it offline).
	keep bool
	log  []kvEvent
	// changed is closed and replaced at each message (waiters);
	// connected is closed at the first publisher's connection.
	changed   chan struct{}
	connected chan struct{}
	recvErr   int
}

type learnKey struct {
	parent    uint64
	hasParent bool
	tokens    uint64 // digest of the block's tokens
}

type hashInfo struct {
	key learnKey
	d   uint64
}

type tokHash struct {
	hash      uint64
	ambiguous bool
}

// syncState says whether the mirror can be trusted to tell a block absent,
// and when its server last restarted, for the driver's correction of its
// model (doc.go, "Correcting the model").
type syncState struct {
	// synced: every event the server published since its start (or its
	// last AllBlocksCleared) was received and applied: the first message
	// of each publisher was numbered 0 or 1, and no gap or bad message
	// followed. A block absent from such a mirror is absent from the
	// server (up to the events still on their way).
	synced bool
	// restartAt estimates when the latest restart emptied the server's
	// cache: the new publisher's connection when it was accepted after
	// the old publisher's last message, else the message that told it.
	// oldLast is the arrival of the old publisher's last message (the
	// server still ran then).
	restartAt, oldLast time.Time
	// lastMsg is the arrival of the latest message; connAt the latest
	// accepted publisher connection.
	lastMsg, connAt time.Time
}

// MirrorStats is what a mirror counted.
type MirrorStats struct {
	// Messages and Events received and applied; Stored and Removed count
	// blocks.
	Messages, Events int
	Stored, Removed  int64
	// Blocks present now; Learned is how many (parent, tokens) → hash
	// entries the walk can use; Forgotten how many removed blocks were
	// dropped from them (past the retention).
	Blocks, Learned int
	Forgotten       int64
	// BlockSize is the events' tokens per block (0 before the first
	// BlockStored).
	BlockSize int
	// Restarts counts AllBlocksCleared events and sequence numbers that
	// went back (a new publisher: the server restarted); both empty the
	// mirror. Gaps counts jumps forward in the sequence numbers and
	// Missed the messages they skipped (lost events: the mirror may hold
	// blocks the server evicted, or miss some it stored). Publishers
	// number from 0 (vLLM) or 1 (llm-d-inference-sim): a first message
	// above 1 (joined late, or the publisher connected after its first
	// events) is a gap. vLLM's replay socket, which can resend missed
	// batches, is not used.
	Restarts, Cleared, Gaps int
	Missed                  uint64
	// Bad counts messages that could not be decoded (skipped whole);
	// BadWhy is the first one's reason. Unknown counts removals of blocks
	// the mirror did not hold.
	Bad     int
	BadWhy  string
	Unknown int64
	// Connections counts the publisher connections accepted on a bound
	// endpoint (1 when dialled): more than one means the publisher
	// reconnected (its server restarted, or the network was cut).
	Connections int
	// ByTokens counts the walk's blocks found by their tokens alone (the
	// server listed them under another parent; see Mirror).
	ByTokens int64
}

func newMirror() *Mirror {
	return &Mirror{present: map[uint64]struct{}{}, learned: map[learnKey]uint64{},
		info: map[uint64]hashInfo{}, extra: map[uint64][]learnKey{}, retain: 1 << 16,
		byTokens: map[uint64]tokHash{}, changed: make(chan struct{}), connected: make(chan struct{})}
}

// digest is FNV-1a (64-bit) over the tokens' little-endian bytes, without
// allocating (the walk digests every block of every prompt, per worker).
func digest(tokens []uint32) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, t := range tokens {
		for k := 0; k < 32; k += 8 {
			h ^= uint64(byte(t >> k))
			h *= prime
		}
	}
	return h
}

// receive applies one ZeroMQ message.
func (m *Mirror) receive(frames [][]byte) {
	_, seq, evs, err := decodeKVMessage(frames)
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.signal()
	now := time.Now()
	defer func() { m.sync.lastMsg = now }()
	if err != nil {
		m.stats.Bad++
		if m.stats.BadWhy == "" {
			m.stats.BadWhy = err.Error()
		}
		// A message whose sequence frame is whole still numbers: its
		// events are counted lost as a bad message, not as a gap.
		if len(frames) == 3 && len(frames[1]) == 8 {
			m.sequence(seq, now)
		}
		m.sync.synced = false // its events are lost
		return
	}
	m.sequence(seq, now)
	m.stats.Messages++
	for _, e := range evs {
		m.apply(e)
	}
}

// sequence checks a message's sequence number (arrived at now) against
// the last one.
func (m *Mirror) sequence(seq uint64, now time.Time) {
	switch {
	case !m.seenSeq:
		m.sync.synced = seq <= 1
		if seq > 1 {
			m.stats.Gaps++
			m.stats.Missed += seq - 1
		}
	case seq <= m.lastSeq:
		// A new publisher numbering from 1: the server restarted, and
		// its cache with it.
		m.stats.Restarts++
		m.clear()
		m.restarted(now)
		m.sync.synced = seq <= 1
		if seq > 1 {
			m.stats.Gaps++
			m.stats.Missed += seq - 1
		}
	case seq > m.lastSeq+1:
		m.stats.Gaps++
		m.stats.Missed += seq - m.lastSeq - 1
		m.sync.synced = false
	}
	m.seenSeq, m.lastSeq = true, seq
}

// restarted notes a restart told by a message arriving at now.
func (m *Mirror) restarted(now time.Time) {
	m.sync.oldLast = m.sync.lastMsg
	m.sync.restartAt = now
	if m.sync.connAt.After(m.sync.lastMsg) {
		m.sync.restartAt = m.sync.connAt
	}
}

// clear empties the cache (a restart); what was learned ages as removed.
func (m *Mirror) clear() {
	for h := range m.present {
		m.gone = append(m.gone, h)
	}
	clear(m.present)
	m.prune()
}

// learn records that key names h (d: its tokens' digest).
func (m *Mirror) learn(h uint64, key learnKey, d uint64) {
	if old, ok := m.learned[key]; ok && old == h {
		return
	}
	m.learned[key] = h
	if in, ok := m.info[h]; !ok {
		m.info[h] = hashInfo{key: key, d: d}
	} else if in.key != key {
		m.extra[h] = append(m.extra[h], key)
	}
}

// setRetain sets how many removed blocks' hashes are kept (at least 1).
func (m *Mirror) setRetain(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retain = max(1, n)
	m.prune()
}

// prune forgets the oldest removed hashes past the retention, unless they
// are present again.
func (m *Mirror) prune() {
	for len(m.gone) > m.retain {
		h := m.gone[0]
		m.gone = m.gone[1:]
		if _, ok := m.present[h]; !ok {
			m.forget(h)
		}
	}
}

func (m *Mirror) forget(h uint64) {
	in, ok := m.info[h]
	if !ok {
		return
	}
	for _, k := range append(m.extra[h], in.key) {
		if m.learned[k] == h {
			delete(m.learned, k)
		}
	}
	if th := m.byTokens[in.d]; !th.ambiguous && th.hash == h {
		delete(m.byTokens, in.d)
	}
	delete(m.extra, h)
	delete(m.info, h)
	m.stats.Forgotten++
}

// apply applies one event (under m.mu).
func (m *Mirror) apply(e kvEvent) {
	m.stats.Events++
	if m.keep {
		m.log = append(m.log, e)
	}
	switch e.Kind {
	case kvStored:
		m.blockSize = e.BlockSize
		parent, has := e.Parent, e.HasParent
		for i, h := range e.Hashes {
			tok := e.Tokens[i*e.BlockSize : (i+1)*e.BlockSize]
			d := digest(tok)
			m.learn(h, learnKey{parent, has, d}, d)
			if th, ok := m.byTokens[d]; !ok {
				m.byTokens[d] = tokHash{hash: h}
			} else if th.hash != h {
				m.byTokens[d] = tokHash{ambiguous: true}
			}
			m.present[h] = struct{}{}
			m.stats.Stored++
			parent, has = h, true
		}
	case kvRemoved:
		for _, h := range e.Hashes {
			if _, ok := m.present[h]; ok {
				delete(m.present, h)
				m.gone = append(m.gone, h)
				m.stats.Removed++
			} else {
				m.stats.Unknown++
			}
		}
		m.prune()
	case kvCleared:
		m.stats.Restarts++
		m.stats.Cleared++
		m.clear()
		// The server and the mirror are both empty now: in step again.
		now := time.Now()
		m.sync.oldLast, m.sync.restartAt, m.sync.synced = now, now, true
	}
}

func (m *Mirror) signal() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// accepted notes a publisher's connection.
func (m *Mirror) accepted() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stats.Connections == 0 {
		close(m.connected)
	}
	m.stats.Connections++
	m.sync.connAt = time.Now()
}

func (m *Mirror) noteRecvError(error) {
	m.mu.Lock()
	m.recvErr++
	m.mu.Unlock()
}

// recvBackoff paces a receiver after an error of the socket (a lost peer).
func (m *Mirror) recvBackoff() <-chan time.Time { return time.After(20 * time.Millisecond) }

// Changed returns a channel closed at the next message (applied or bad).
func (m *Mirror) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// Stats returns the mirror's counts now.
func (m *Mirror) Stats() MirrorStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Blocks, s.Learned, s.BlockSize = len(m.present), len(m.learned), m.blockSize
	return s
}

// BlockSize is the events' tokens per block (0 before any BlockStored).
func (m *Mirror) BlockSize() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blockSize
}

// Walk maps a prompt's whole blocks of bs tokens to the server's hashes
// (known false for a block never stored, or whose hash the mirror cannot
// tell) and says which are present: cached counts the prompt's blocks
// present anywhere in the cache (llm-d-inference-sim's counting rule:
// every block of the request already held, used or not, not only a leading
// prefix), prefix the leading run of present blocks (what a prefix-cache
// router matches).
func (m *Mirror) Walk(tokens []uint32, bs int) (cached, prefix int) {
	return m.walkDigests(blockDigests(tokens, bs, nil))
}

// walkDigests is Walk of a prompt's block digests (blockDigests): a prompt
// walked on several workers is digested once.
func (m *Mirror) walkDigests(ds []uint64) (cached, prefix int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.walk(ds, nil)
}

// blockDigests appends the digests of tokens' whole blocks of bs to dst.
func blockDigests(tokens []uint32, bs int, dst []uint64) []uint64 {
	dst = dst[:0]
	if bs < 1 {
		return dst
	}
	for j := 0; (j+1)*bs <= len(tokens); j++ {
		dst = append(dst, digest(tokens[j*bs:(j+1)*bs]))
	}
	return dst
}

// Referenced counts the distinct blocks of prompts (those of the requests
// running on the worker) present in the mirror: what
// llm-d-inference-sim's kv_cache_usage_perc counts (its used blocks over
// capacity, v0.10.2 block_cache.go), which the events themselves do not
// tell (they carry no references).
func (m *Mirror) Referenced(prompts [][]uint32, bs int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[uint64]bool{}
	var hs []uint64
	for _, p := range prompts {
		hs = hs[:0]
		m.walk(blockDigests(p, bs, nil), &hs)
		for _, h := range hs {
			if _, ok := m.present[h]; ok && h != 0 {
				seen[h] = true
			}
		}
	}
	return len(seen)
}

// Block states for the driver's correction (blockStates).
const (
	blockUnsure  int8 = iota // ambiguous tokens: the mirror cannot tell
	blockPresent             // held by the server
	blockAbsent              // not held: removed, or never stored
)

// blockStates sets st[k] to the state of the prompt's block k (its block
// digests ds, as for walkDigests) and returns walkDigests' cached count,
// the mirror's syncState and its restarts so far (read together). A
// block whose hash is known is present or absent as the events say; one
// the mirror cannot name is absent when its tokens were never stored (or
// were removed and forgotten past the retention: present blocks are never
// forgotten), unsure when its tokens were stored under several hashes.
func (m *Mirror) blockStates(ds []uint64, st []int8) ([]int8, int, syncState, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hs := m.hashes[:0]
	cached, _ := m.walk(ds, &hs)
	m.hashes = hs
	st = st[:0]
	for k, h := range hs {
		switch _, here := m.present[h]; {
		case h != 0 && here:
			st = append(st, blockPresent)
		case h != 0:
			st = append(st, blockAbsent)
		default:
			if _, stored := m.byTokens[ds[k]]; stored {
				st = append(st, blockUnsure)
			} else {
				st = append(st, blockAbsent)
			}
		}
	}
	return st, cached, m.sync, m.stats.Restarts
}

// syncNow returns the mirror's syncState and its restarts so far.
func (m *Mirror) syncNow() (syncState, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sync, m.stats.Restarts
}

// walk is Walk of block digests under m.mu; hashes, when not nil, receives each block's
// hash (0 when unknown).
func (m *Mirror) walk(ds []uint64, hashes *[]uint64) (cached, prefix int) {
	var parent uint64
	has, lost, inPrefix := false, false, true
	for _, d := range ds {
		var h uint64
		ok := false
		if !lost {
			h, ok = m.learned[learnKey{parent, has, d}]
		}
		if !ok {
			if th, found := m.byTokens[d]; found && !th.ambiguous {
				// Learned under another parent (see the type's doc):
				// the block's tokens name it; remember the true parent.
				h, ok = th.hash, true
				m.stats.ByTokens++
				if !lost {
					m.learn(h, learnKey{parent, has, d}, d)
				}
			}
		}
		if hashes != nil {
			if ok {
				*hashes = append(*hashes, h)
			} else {
				*hashes = append(*hashes, 0)
			}
		}
		_, here := m.present[h]
		if here = here && ok; here {
			cached++
			if inPrefix {
				prefix++
			}
		} else {
			inPrefix = false
		}
		// An unknown block loses the chain: later blocks resolve by
		// their tokens only.
		lost = !ok
		parent, has = h, ok
	}
	return cached, prefix
}
