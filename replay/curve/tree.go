package curve

// histTree is a segment tree over one worker's requests (leaves in sequence
// order) holding per leaf a value U and its historic maximum H, with three
// operations: add a to the leaves of a suffix, set H = max(H, U + b) on
// every leaf at once, and read one leaf's H. doc.go says what U and H
// stand for.
//
// Pending operations on a subtree are one tag (a, b): "U += a, having first
// set H = max(H, U + b)", where b is the best point of the pending sequence
// (the largest running add plus the b of a max step; neg when none).
// Applying (a2, b2) after (a1, b1) gives (a1 + a2, max(b1, a1 + b2)). A
// leaf's own pair is (U, H). Tags are pushed down along a leaf's path
// before the leaf is read or a suffix starting there is updated, so
// operations stay in order.
type histTree struct {
	size int     // leaves, a power of two
	a, b []int64 // tag (add, best) of an internal node; (U, H) of a leaf
}

// neg is minus infinity: far below any sum of weights, far enough from
// the int64 limit that adding every weight of a trace cannot wrap.
const neg = -1 << 62

func newHistTree(n int) *histTree {
	size := 1
	for size < n {
		size <<= 1
	}
	t := &histTree{size: size, a: make([]int64, 2*size), b: make([]int64, 2*size)}
	for i := range t.a {
		t.b[i] = neg
		if i >= size {
			t.a[i] = neg // inactive leaf: U = -inf
		}
	}
	return t
}

// apply composes tag (a, b) onto node i; on a leaf the same formula
// updates (U, H).
func (t *histTree) apply(i int, a, b int64) {
	if b > neg {
		t.b[i] = max(t.b[i], t.a[i]+b)
	}
	t.a[i] += a
}

// pushPath pushes every pending tag on the path from the root down to
// leaf k.
func (t *histTree) pushPath(k int) {
	leaf := k + t.size
	for h := bitsLen(t.size); h > 0; h-- {
		i := leaf >> h
		if t.a[i] != 0 || t.b[i] != neg {
			t.apply(2*i, t.a[i], t.b[i])
			t.apply(2*i+1, t.a[i], t.b[i])
			t.a[i], t.b[i] = 0, neg
		}
	}
}

// bitsLen is log2(size) for a power of two.
func bitsLen(size int) int {
	h := 0
	for s := size; s > 1; s >>= 1 {
		h++
	}
	return h
}

// activate makes leaf k live with U = 0 and no history (H = -inf).
func (t *histTree) activate(k int) {
	t.pushPath(k)
	t.a[k+t.size], t.b[k+t.size] = 0, neg
}

// hist returns leaf k's historic maximum H (neg when none yet).
func (t *histTree) hist(k int) int64 {
	t.pushPath(k)
	return t.b[k+t.size]
}

// addFrom adds a to U of every leaf ≥ k.
func (t *histTree) addFrom(k int, a int64) {
	if k >= t.size || a == 0 {
		return
	}
	t.pushPath(k)
	l, r := k+t.size, 2*t.size
	for l < r {
		if l&1 == 1 {
			t.apply(l, a, neg)
			l++
		}
		l >>= 1
		r >>= 1
	}
}

// addAll adds a to U of every leaf.
func (t *histTree) addAll(a int64) { t.apply(1, a, neg) }

// maxAll sets H = max(H, U + b) on every leaf.
func (t *histTree) maxAll(b int64) { t.apply(1, 0, b) }
