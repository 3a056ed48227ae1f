package sim

// vpool is vLLM's KV block pool (vllm/v1/core/block_pool.py BlockPool and
// kv_cache_utils.py FreeKVCacheBlockQueue): a fixed number of blocks, a
// reference count per block, a doubly linked queue of free blocks (ref 0)
// whose head is evicted first, and a map from a full block's chained hash
// to the block holding it. A free block keeps its hash until it is taken
// for new use (lazy eviction), so a later request can hit it and take it
// back out of the queue ("touch").
type vpool struct {
	ref        []int32
	hash       []uint64 // 0: holds no cached hash
	prev, next []int32  // free-queue links (-1: none)
	inFree     []bool
	head, tail int32
	free       int
	byHash     map[uint64]int32
	evicted    int64 // cached blocks whose hash was dropped to reuse them
	// cachedFree counts free blocks still holding a hash (reusable
	// prefixes an eviction would drop).
	cachedFree int
}

func newVPool(n int) *vpool {
	p := &vpool{ref: make([]int32, n), hash: make([]uint64, n), prev: make([]int32, n), next: make([]int32, n),
		inFree: make([]bool, n), head: -1, tail: -1, byHash: make(map[uint64]int32)}
	// vLLM starts with every block free, in block-id order.
	for b := range n {
		p.pushTail(int32(b))
	}
	return p
}

func (p *vpool) pushTail(b int32) {
	p.prev[b], p.next[b] = p.tail, -1
	if p.tail >= 0 {
		p.next[p.tail] = b
	} else {
		p.head = b
	}
	p.tail = b
	p.inFree[b] = true
	p.free++
	if p.hash[b] != 0 {
		p.cachedFree++
	}
}

func (p *vpool) remove(b int32) {
	if p.prev[b] >= 0 {
		p.next[p.prev[b]] = p.next[b]
	} else {
		p.head = p.next[b]
	}
	if p.next[b] >= 0 {
		p.prev[p.next[b]] = p.prev[b]
	} else {
		p.tail = p.prev[b]
	}
	p.prev[b], p.next[b] = -1, -1
	p.inFree[b] = false
	p.free--
	if p.hash[b] != 0 {
		p.cachedFree--
	}
}

// take pops the head of the free queue for new use, dropping the hash it
// held (BlockPool.get_new_blocks → _maybe_evict_cached_block).
func (p *vpool) take() int32 {
	b := p.head
	p.remove(b)
	if h := p.hash[b]; h != 0 {
		if p.byHash[h] == b {
			delete(p.byHash, h)
		}
		p.hash[b] = 0
		p.evicted++
	}
	p.ref[b] = 1
	return b
}

// touch takes a reference on a cached block a request hits, removing it
// from the free queue if nobody held it (BlockPool.touch).
func (p *vpool) touch(b int32) {
	if p.ref[b] == 0 {
		p.remove(b)
	}
	p.ref[b]++
}

// release drops one reference from each of a request's blocks, tail
// first; a block reaching 0 joins the tail of the free queue
// (BlockPool.free_blocks). vLLM passes a request's blocks reversed
// (SingleTypeKVCacheManager.free), so a chain's last block is evicted
// before its parents.
func (p *vpool) release(blocks []int32) {
	for i := len(blocks) - 1; i >= 0; i-- {
		b := blocks[i]
		p.ref[b]--
		if p.ref[b] == 0 {
			p.pushTail(b)
		}
	}
}

// cache registers block b under hash h if no block holds h yet (vLLM keeps
// duplicates under one hash; kvscope keeps the first, see vllm.go).
func (p *vpool) cache(b int32, h uint64) {
	if p.hash[b] != 0 {
		return
	}
	if _, ok := p.byHash[h]; ok {
		return
	}
	p.hash[b] = h
	p.byHash[h] = b
}

// chainHash chains a block's content key to its parent's hash, as vLLM's
// hash_block_tokens chains parent_block_hash; 0 is reserved for "none".
func chainHash(parent, key uint64) uint64 {
	h := parent*0x9e3779b97f4a7c15 ^ (key + 0x632be59bd9b4e019 + (parent << 6) + (parent >> 2))
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	if h == 0 {
		h = 1
	}
	return h
}
