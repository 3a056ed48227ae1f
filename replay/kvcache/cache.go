package kvcache

import (
	"errors"
	"fmt"

	"github.com/kvscope/kvscope/replay/trace"
)

// BlockID is a dense block id (trace.BlockID).
type BlockID = trace.BlockID

// NoBlock is the parent of a root block.
const NoBlock = ^BlockID(0)

// Unit is the capacity unit of a cache (SPEC §1).
type Unit uint8

const (
	// Blocks: every block weighs 1; outputs and tail tokens take
	// ceil(tokens/block_size) blocks.
	Blocks Unit = iota
	// Tokens: a block weighs its token count.
	Tokens
)

func (u Unit) String() string {
	if u == Tokens {
		return "tokens"
	}
	return "blocks"
}

// Event says which moment of a request's life an Access stands for. Each
// policy decides what it does at each (lru stamps at all of them, rlt marks at
// PrefillEnd and HitOnly, opt and lfu count a use at PrefillStart and
// HitOnly).
type Event uint8

const (
	// HitOnly is the single access of a request in hit-only replay, after
	// its insertion: prefill start, prefill end and completion at once.
	HitOnly Event = iota
	// PrefillStart: the request's matched path (only present blocks).
	PrefillStart
	// PrefillEnd: the whole path, every block computed.
	PrefillEnd
	// Complete: the whole path, just before it is unpinned.
	Complete
)

// Policy is the eviction policy's side of the cache: it hears about
// insertions, removals, accesses and changes of the evictable set, and
// answers which leaf goes next. It never changes the tree.
//
// A block is evictable when it is present, has no present child and is not
// pinned. The cache calls Evictable(b, true) when b becomes evictable and
// Evictable(b, false) when it stops being so (a child arrives, it is pinned,
// or it is about to be removed: Evictable(b, false) always precedes
// Removed(b) of an evictable block).
type Policy interface {
	// Attach is called once by New, before any other call.
	Attach(c *Cache)
	// Inserted: b became present (its weight, parent and depth are set).
	Inserted(b BlockID)
	// Removed: b is about to be removed (evicted); its weight, parent and
	// depth are still readable during the call.
	Removed(b BlockID)
	// Evictable: b entered (true) or left (false) the set of unpinned
	// leaves.
	Evictable(b BlockID, yes bool)
	// Access: a request used path (root to leaf, every block present) at
	// moment ev.
	Access(path []BlockID, ev Event)
	// BeginEvict opens an eviction episode with shortfall n > 0 (in the
	// cache's unit); Capacity() is on the cache.
	BeginEvict(n int64)
	// Victim returns the next block to evict while shortfall n > 0 remains;
	// it must be evictable. false means the policy has nothing to offer.
	Victim(n int64) (BlockID, bool)
}

// Retainer is implemented by policies that keep state for blocks that are
// not present (s3fifo's ghost queue): Retain names those ids. Cache.Live
// asks it, so a trace.Table that recycles dense ids keeps them (and their
// original ids) for as long as the policy remembers them. A policy that
// does not implement it must hold no state for an absent block that a new
// block given the same dense id could inherit: state set when a block is
// Inserted is fine (every built-in policy resets its per-block state there).
type Retainer interface {
	Retain(keep func(BlockID))
}

// Marker is implemented by marking policies (rlt) for snapshots.
type Marker interface {
	IsMarked(b BlockID) bool
	Phases() int64
}

// node is one slot of the dense tree: 20 bytes.
type node struct {
	parent BlockID
	kids   uint32 // present children
	pins   uint32
	weight uint32 // 0 = absent
	depth  uint32 // 1 for a root block
}

// Config sets a cache up.
type Config struct {
	Unit Unit
	// Capacity B in Unit (≥ 1).
	Capacity int64
	// BlockSize is the trace's tokens per block (≥ 1).
	BlockSize int
	// SizeHint is the number of dense ids expected (Table.Len()); the node
	// slice grows on demand past it.
	SizeHint int
	// LocalSlots: the cache numbers its blocks itself (slots.go), so its
	// arrays and its policy's follow the blocks it holds (at most
	// Capacity), not the trace's id range; SizeHint is then capped at
	// Capacity. Only for a policy whose choices do not depend on the
	// numbering (evict.Info.LocalSlots: IDFree, or ordering blocks by
	// TraceID). A Retainer's retained slots stay mapped to their trace ids
	// until it forgets them (slots.go).
	LocalSlots bool
}

// Cache is one worker's prefix KV cache (SPEC §4).
type Cache struct {
	unit      Unit
	capacity  int64
	blockSize int
	nodes     []node
	policy    Policy

	cached   int64 // weight of present blocks
	reserved int64 // reservations: outputs, tail tokens, blocks being computed
	pinned   int64 // weight of present pinned blocks
	count    int   // present blocks
	evicted  int64 // weight evicted
	episodes int64

	// LocalSlots (slots.go): trace id → slot, slot → trace id, free
	// slots, and the scratch path of the call in progress.
	local    bool
	retainer Retainer  // the policy, if it retains absent blocks (set in any numbering)
	pending  []BlockID // removed blocks' slots still mapped (retainer)
	retained []uint32  // sweep stamps per slot (retainer)
	sweeps   uint32
	// keptPending is how many pending slots the last sweep kept.
	keptPending int
	ids         slotMap
	glob        []BlockID
	free        []BlockID
	scratch     []BlockID
	memo        *BlockID // &chain[0] of the chain scratch translates
}

// Errors returned by the cache's operations (wrapped with context).
var (
	ErrNoRoom    = errors.New("does not fit")
	ErrState     = errors.New("inconsistent cache operation")
	ErrBadVictim = errors.New("policy chose a block that is not an evictable leaf")
)

// New returns an empty cache using policy p.
func New(cfg Config, p Policy) (*Cache, error) {
	if cfg.Capacity < 1 {
		return nil, fmt.Errorf("kvcache: capacity %d: need at least 1", cfg.Capacity)
	}
	if cfg.BlockSize < 1 {
		return nil, fmt.Errorf("kvcache: block size %d: need at least 1", cfg.BlockSize)
	}
	if p == nil {
		return nil, fmt.Errorf("kvcache: no policy")
	}
	c := &Cache{unit: cfg.Unit, capacity: cfg.Capacity, blockSize: cfg.BlockSize, policy: p, local: cfg.LocalSlots}
	c.retainer, _ = p.(Retainer)
	hint := max(cfg.SizeHint, 0) // a hint, never an error
	if c.local {
		hint = int(min(int64(hint), cfg.Capacity))
		c.ids.resize(hint)
		c.glob = make([]BlockID, 0, hint)
	}
	if hint > 0 {
		c.nodes = make([]node, 0, hint)
	}
	p.Attach(c)
	return c, nil
}

// Unit, Capacity and BlockSize return the configuration.
func (c *Cache) Unit() Unit          { return c.unit }
func (c *Cache) Capacity() int64     { return c.capacity }
func (c *Cache) BlockSize() int      { return c.blockSize }
func (c *Cache) Policy() Policy      { return c.policy }
func (c *Cache) Used() int64         { return c.cached + c.reserved }
func (c *Cache) Free() int64         { return c.capacity - c.cached - c.reserved }
func (c *Cache) Cached() int64       { return c.cached }
func (c *Cache) Reserved() int64     { return c.reserved }
func (c *Cache) PinnedWeight() int64 { return c.pinned }
func (c *Cache) Len() int            { return c.count }
func (c *Cache) Evicted() int64      { return c.evicted }

// SizeHint is the number of dense ids the cache was sized for
// (Config.SizeHint); policies may size per-block state from it in Attach.
func (c *Cache) SizeHint() int { return cap(c.nodes) }

// Slots is the length of the dense node index (largest id seen + 1, or
// under LocalSlots the most blocks held at once); policies size their
// per-block state from it.
func (c *Cache) Slots() int { return len(c.nodes) }

// Weight converts a token count of a block into the cache's unit: the
// token count in token mode, 1 in block mode.
func (c *Cache) Weight(tokens int) int64 {
	if c.unit == Tokens {
		return int64(tokens)
	}
	return 1
}

// Allowance converts a token count without ids (output allowance, tail
// tokens) into the cache's unit: tokens, or ceil(tokens/block_size) blocks.
func (c *Cache) Allowance(tokens int) int64 {
	if tokens <= 0 {
		return 0
	}
	if c.unit == Tokens {
		return int64(tokens)
	}
	return int64((tokens + c.blockSize - 1) / c.blockSize)
}

// ReqWeight is the weight of block i of r in the cache's unit.
func (c *Cache) ReqWeight(r *trace.Request, i int) int64 {
	if c.unit == Blocks {
		return 1
	}
	if i == len(r.Blocks)-1 {
		return int64(r.LastBlockTokens)
	}
	return int64(c.blockSize)
}

// Footprint is the most a request can occupy: its input blocks, tail and
// output allowance in the cache's unit. A request whose footprint exceeds
// Capacity is oversize (SPEC §1).
func (c *Cache) Footprint(r *trace.Request) int64 {
	var w int64
	if c.unit == Tokens {
		w = int64(r.ChainTokens(c.blockSize))
	} else {
		w = int64(len(r.Blocks))
	}
	return w + c.Allowance(r.TailTokens(c.blockSize)) + c.Allowance(r.Output)
}

// The accessors below (Present to IsEvictable) take ids in the cache's
// numbering, the one its policy hears: a caller holding a trace id passes
// ID(b), which is b itself unless the cache has LocalSlots.

// Present reports whether b is cached.
func (c *Cache) Present(b BlockID) bool {
	return int(b) < len(c.nodes) && c.nodes[b].weight != 0
}

// Depth is b's 1-based depth (0 if absent).
func (c *Cache) Depth(b BlockID) uint32 {
	if int(b) >= len(c.nodes) {
		return 0
	}
	return c.nodes[b].depth
}

// BlockWeight is b's weight in the cache's unit (0 if absent).
func (c *Cache) BlockWeight(b BlockID) int64 {
	if int(b) >= len(c.nodes) {
		return 0
	}
	return int64(c.nodes[b].weight)
}

// Parent is b's parent (NoBlock for a root or an absent block).
func (c *Cache) Parent(b BlockID) BlockID {
	if int(b) >= len(c.nodes) || c.nodes[b].weight == 0 {
		return NoBlock
	}
	return c.nodes[b].parent
}

// Pins is b's pin count.
func (c *Cache) Pins(b BlockID) int {
	if int(b) >= len(c.nodes) {
		return 0
	}
	return int(c.nodes[b].pins)
}

// Children is the number of b's present children.
func (c *Cache) Children(b BlockID) int {
	if int(b) >= len(c.nodes) {
		return 0
	}
	return int(c.nodes[b].kids)
}

// IsEvictable reports whether b is a present, unpinned leaf.
func (c *Cache) IsEvictable(b BlockID) bool {
	if int(b) >= len(c.nodes) {
		return false
	}
	n := &c.nodes[b]
	return n.weight != 0 && n.kids == 0 && n.pins == 0
}

// Live names, through keep, every dense id the cache holds state for: its
// present blocks and what its policy retains for absent ones (Retainer).
// A streaming replay passes it to trace.Table.Sweep. Absent nodes carry no
// state (removal clears them; insertion sets every field), so an id the
// table hands out again starts clean here.
func (c *Cache) Live(keep func(BlockID)) {
	for b := range c.nodes {
		if c.nodes[b].weight != 0 {
			keep(c.TraceID(BlockID(b)))
		}
	}
	if c.retainer != nil {
		c.retainer.Retain(func(s BlockID) { keep(c.TraceID(s)) })
	}
}

// Match returns how many leading blocks of chain are present: the request's
// hit in blocks (SPEC §4). It does not allocate (under LocalSlots, once the
// scratch path has grown: the translation is kept for the Pin that follows).
func (c *Cache) Match(chain []BlockID) int {
	if c.local {
		_, n := c.toSlots(chain)
		return n
	}
	nodes := c.nodes
	for i, b := range chain {
		if int(b) >= len(nodes) || nodes[b].weight == 0 {
			return i
		}
	}
	return len(chain)
}

// Pin adds one reference to every block of path (all must be present).
func (c *Cache) Pin(path []BlockID) error {
	if c.local {
		s, n := c.toSlots(path)
		if n < len(path) {
			return fmt.Errorf("kvcache: pin: block %d is not cached: %w", path[n], ErrState)
		}
		path = s
	}
	return c.pin(path)
}

func (c *Cache) pin(path []BlockID) error {
	for i, b := range path {
		if !c.Present(b) {
			// Undo what was pinned so the state stays consistent.
			c.unpin(path[:i])
			return fmt.Errorf("kvcache: pin: block %d is not cached: %w", b, ErrState)
		}
		n := &c.nodes[b]
		n.pins++
		if n.pins == 1 {
			c.pinned += int64(n.weight)
			if n.kids == 0 {
				c.policy.Evictable(b, false)
			}
		}
	}
	return nil
}

// Unpin drops one reference from every block of path.
func (c *Cache) Unpin(path []BlockID) error {
	orig := path
	if c.local {
		path, _ = c.toSlots(path)
	}
	for i, b := range orig {
		if i >= len(path) || !c.Present(path[i]) || c.nodes[path[i]].pins == 0 {
			return fmt.Errorf("kvcache: unpin: block %d is not pinned: %w", b, ErrState)
		}
	}
	c.unpin(path)
	return nil
}

func (c *Cache) unpin(path []BlockID) {
	// Leaf first, so a parent never becomes evictable before its child is.
	for i := len(path) - 1; i >= 0; i-- {
		b := path[i]
		n := &c.nodes[b]
		n.pins--
		if n.pins == 0 {
			c.pinned -= int64(n.weight)
			if n.kids == 0 {
				c.policy.Evictable(b, true)
			}
		}
	}
}

// Reserve takes w units of capacity that hold no block (output allowance,
// tail tokens, blocks about to be computed). It fails with ErrNoRoom when
// they do not fit: call MakeRoom first.
func (c *Cache) Reserve(w int64) error {
	if w < 0 {
		return fmt.Errorf("kvcache: reserve %d: %w", w, ErrState)
	}
	if w > c.Free() {
		return fmt.Errorf("kvcache: reserve %d with %d free: %w", w, c.Free(), ErrNoRoom)
	}
	c.reserved += w
	return nil
}

// Release returns w reserved units.
func (c *Cache) Release(w int64) error {
	if w < 0 || w > c.reserved {
		return fmt.Errorf("kvcache: release %d of %d reserved: %w", w, c.reserved, ErrState)
	}
	c.reserved -= w
	return nil
}

// MakeRoom is the one evict-until-fits routine: if Free() < need it opens an
// eviction episode with shortfall n = need − Free() and removes the victims
// the policy names, one block at a time, until n ≤ 0 or the policy has
// nothing left. It returns the shortfall still uncovered (0 on success).
// A victim that is not an evictable leaf is an error (a policy bug) and
// stops the episode.
func (c *Cache) MakeRoom(need int64) (short int64, err error) {
	n := need - c.Free()
	if n <= 0 {
		return 0, nil
	}
	c.episodes++
	c.policy.BeginEvict(n)
	for n > 0 {
		b, ok := c.policy.Victim(n)
		if !ok {
			return n, nil
		}
		if !c.IsEvictable(b) {
			return n, fmt.Errorf("kvcache: block %d: %w", c.TraceID(b), ErrBadVictim)
		}
		w := int64(c.nodes[b].weight)
		c.remove(b)
		c.evicted += w
		n -= w
	}
	return 0, nil
}

// Forget removes the blocks of path, leaf first, while each is an
// evictable leaf (present, unpinned, no children), and stops at the first
// that is not; it returns the weight removed. It is for a model of a remote
// cache whose request failed: the blocks that request added are most likely
// not on the server, so they leave the model at once instead of waiting
// for eviction. Forgotten blocks are not evictions (Evicted is unchanged);
// the policy hears of them as of an eviction's removal.
func (c *Cache) Forget(path []BlockID) int64 {
	if c.local {
		s, n := c.toSlots(path)
		if n < len(path) {
			return 0 // the leaf is not cached
		}
		path = s
	}
	var w int64
	for i := len(path) - 1; i >= 0; i-- {
		b := path[i]
		if !c.IsEvictable(b) {
			break
		}
		w += int64(c.nodes[b].weight)
		c.remove(b)
	}
	return w
}

// remove deletes an evictable block and updates its parent.
func (c *Cache) remove(b BlockID) {
	n := &c.nodes[b]
	c.policy.Evictable(b, false)
	c.policy.Removed(b)
	c.cached -= int64(n.weight)
	c.count--
	p := n.parent
	n.weight = 0
	n.depth = 0
	n.parent = NoBlock
	if c.local {
		c.release(b)
	}
	if p != NoBlock {
		pn := &c.nodes[p]
		pn.kids--
		if pn.kids == 0 && pn.pins == 0 {
			c.policy.Evictable(p, true)
		}
	}
}

func (c *Cache) grow(b BlockID) {
	if int(b) < len(c.nodes) {
		return
	}
	need := int(b) + 1
	if need <= cap(c.nodes) {
		c.nodes = c.nodes[:need]
		return
	}
	nc := 2 * cap(c.nodes)
	if nc < need {
		nc = need
	}
	if nc < 64 {
		nc = 64
	}
	nn := make([]node, need, nc)
	copy(nn, c.nodes)
	c.nodes = nn
}

// Commit adds computed block b (weight w) as a child of parent (NoBlock for
// a root), pinned once, converting w reserved units into the cached block.
// If b is already present (another running request computed it first, or
// it was inserted since the match) this copy is released instead: b is
// pinned and the w reserved units are returned; dup reports that. parent
// must be present (and is pinned by the caller's path).
func (c *Cache) Commit(parent, b BlockID, w int64) (dup bool, err error) {
	if c.local {
		return c.commitLocal(parent, b, w)
	}
	p, err := c.parentID(parent, b)
	if err != nil {
		return false, err
	}
	_, dup, err = c.commit(p, b, w)
	return dup, err
}

// parentID is the cache's id of parent (a trace id or NoBlock) of b.
func (c *Cache) parentID(parent, b BlockID) (BlockID, error) {
	if parent == NoBlock {
		return NoBlock, nil
	}
	p := c.ID(parent)
	if !c.Present(p) {
		return NoBlock, fmt.Errorf("kvcache: block %d: parent %d is not cached: %w", b, parent, ErrState)
	}
	return p, nil
}

// commit is Commit with parent p in the cache's numbering and b a trace
// id; it returns b's id in the cache's numbering.
func (c *Cache) commit(p, b BlockID, w int64) (id BlockID, dup bool, err error) {
	if err := c.checkCommit(b, w); err != nil {
		return 0, false, err
	}
	if id = c.ID(b); c.Present(id) {
		if c.nodes[id].parent != p {
			return 0, false, fmt.Errorf("kvcache: block %d present under parent %d, committed under %d: %w", b, c.TraceID(c.nodes[id].parent), c.TraceID(p), ErrState)
		}
		c.reserved -= w
		return id, true, c.pin([]BlockID{id})
	}
	id = c.insert(p, b, w, 1)
	c.reserved -= w
	return id, false, nil
}

// checkCommit is commit's check of its arguments.
func (c *Cache) checkCommit(b BlockID, w int64) error {
	if w < 1 || w > int64(^uint32(0)) {
		return fmt.Errorf("kvcache: block %d weight %d: %w", b, w, ErrState)
	}
	if w > c.reserved {
		return fmt.Errorf("kvcache: commit block %d of weight %d with %d reserved: %w", b, w, c.reserved, ErrState)
	}
	if b == NoBlock {
		return fmt.Errorf("kvcache: block id %d is reserved: %w", b, ErrState)
	}
	return nil
}

// commitAbsent is commit for a block known to be absent, without the
// lookup that would say so (under LocalSlots a probe of the slot map that
// misses): HitOnly's blocks past the cached prefix. The cached blocks of a
// chain are a prefix of it (only leaves are removed, and a block's parent
// in the cache is its parent in the chain, SPEC §1's one-parent rule), so
// once chain[h] is absent every later block is.
func (c *Cache) commitAbsent(p, b BlockID, w int64) (BlockID, error) {
	if err := c.checkCommit(b, w); err != nil {
		return 0, err
	}
	id := c.insert(p, b, w, 1)
	c.reserved -= w
	return id, nil
}

// Insert adds b (weight w) as a child of parent, taking w free units; it
// fails with ErrNoRoom if they are not free. pins is its initial pin count.
// Most callers use Reserve + Commit; Insert is for tests and tools.
func (c *Cache) Insert(parent, b BlockID, w int64, pins int) error {
	if w < 1 || w > int64(^uint32(0)) || pins < 0 || b == NoBlock {
		return fmt.Errorf("kvcache: insert block %d weight %d pins %d: %w", b, w, pins, ErrState)
	}
	if w > c.Free() {
		return fmt.Errorf("kvcache: insert block %d of weight %d with %d free: %w", b, w, c.Free(), ErrNoRoom)
	}
	if c.Present(c.ID(b)) {
		return fmt.Errorf("kvcache: block %d already cached: %w", b, ErrState)
	}
	p, err := c.parentID(parent, b)
	if err != nil {
		return err
	}
	c.insert(p, b, w, uint32(pins))
	return nil
}

// insert adds absent trace id b under p (present, in the cache's
// numbering, or NoBlock) and returns b's id in the cache's numbering.
func (c *Cache) insert(p, b BlockID, w int64, pins uint32) BlockID {
	var depth uint32 = 1
	if p != NoBlock {
		depth = c.nodes[p].depth + 1
	}
	b = c.alloc(b)
	n := &c.nodes[b]
	*n = node{parent: p, weight: uint32(w), depth: depth, pins: pins}
	c.cached += w
	c.count++
	if pins > 0 {
		c.pinned += w
	}
	if p != NoBlock {
		pn := &c.nodes[p]
		pn.kids++
		if pn.kids == 1 && pn.pins == 0 {
			c.policy.Evictable(p, false)
		}
	}
	c.policy.Inserted(b)
	if pins == 0 {
		c.policy.Evictable(b, true)
	}
	return b
}

// Access tells the policy that path (present blocks, root to leaf) was used
// at moment ev.
func (c *Cache) Access(path []BlockID, ev Event) {
	if c.local {
		path, _ = c.toSlots(path)
	}
	c.policy.Access(path, ev)
}
