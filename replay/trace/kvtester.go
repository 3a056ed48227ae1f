package trace

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// kv-cache-tester traces (callanjfox/kv-cache-tester): one JSON object per
// session file, {id, block_size, hash_id_scope, requests: [...]}. Requests
// have t (s since the session's start), type ("n", "s" or "subagent"), in,
// out, hash_ids (full blocks only: len == floor(in/block_size)) and
// think_time; a "subagent" entry nests its own requests, whose t is relative
// to the entry's t.
//
// Sessions interleave in time, so this reader reads every member first,
// holding each request as a few words (see held), and then emits all of them
// merged by arrival; ties keep file order (rank, then position in the file).

type kvReader struct {
	s      *Stream
	bs     int
	scope  string
	starts []time.Duration
	rng    *rand.Rand
	seq    int64 // request ids: document order over all files
	sc     scanner
	ids    []uint64
	blocks []BlockID
	files  []kvFileInfo
	err    error
}

// kvFileInfo records what was read from one file, by archive position.
type kvFileInfo struct {
	name     string
	firstSeq int64
	count    int64
}

func (k *kvReader) done() error {
	s := k.s
	if s.buf == nil {
		s.buf = &held{}
	}
	if len(s.buf.recs) == 0 && s.info.Skipped.Count == 0 {
		return fmt.Errorf("%s: no requests", s.name)
	}
	if err := k.renumber(); err != nil {
		return err
	}
	s.buf.sort()
	s.info.BlockSize = k.bs
	return nil
}

// renumber gives files their rank in sorted name order when the archive did
// not list them sorted: sessions, namespaced block ids, request ids and
// parents, and the tie-break key all follow the rank.
func (k *kvReader) renumber() error {
	order := make([]int, len(k.files))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return k.files[order[a]].name < k.files[order[b]].name })
	sorted := true
	for i, o := range order {
		if o != i {
			sorted = false
		}
	}
	if sorted {
		return nil
	}
	rank := make([]int64, len(order))
	newFirst := make([]int64, len(order))
	var seq int64
	for r, o := range order {
		rank[o] = int64(r)
		newFirst[o] = seq
		seq += k.files[o].count
	}
	fileOf := func(id int64) int {
		return sort.Search(len(k.files), func(i int) bool { return k.files[i].firstSeq+k.files[i].count > id })
	}
	if _, err := k.sessionStart(len(order)); err != nil {
		return err
	}
	for i := range k.s.buf.recs {
		h := &k.s.buf.recs[i]
		f := int(h.sortKey1)
		h.arrival += k.starts[rank[f]] - k.starts[f]
		h.sortKey1 = rank[f]
		h.session = rank[f]
		h.id = h.id - k.files[f].firstSeq + newFirst[f]
		if h.parent >= 0 {
			pf := fileOf(h.parent)
			h.parent = h.parent - k.files[pf].firstSeq + newFirst[pf]
		}
	}
	if t := k.s.table; t.keep && k.scope != "global" {
		for i, o := range t.orig {
			t.orig[i] = uint64(rank[o>>32])<<32 | o&(1<<32-1)
		}
	}
	return nil
}

// sessionStart returns the start of session rank.
func (k *kvReader) sessionStart(rank int) (time.Duration, error) {
	spec := k.s.opt.SessionStart
	for len(k.starts) <= rank {
		i := len(k.starts)
		var d time.Duration
		switch {
		case spec == "" || spec == "zero":
		case strings.HasPrefix(spec, "poisson:"):
			rate, err := specParam(spec, "poisson", "rate")
			if err != nil {
				return 0, err
			}
			if i > 0 {
				if k.rng == nil {
					k.rng = rand.New(rand.NewPCG(k.s.opt.Seed, 0x6b762d7374617274)) // "kv-start"
				}
				gap := k.rng.ExpFloat64() / rate
				if gap > MaxSeconds-k.starts[i-1].Seconds() {
					return 0, fmt.Errorf("session start %q: session %d would start more than 1e9 s in (session starts are %s)", spec, i, maxTimeText)
				}
				d = k.starts[i-1] + time.Duration(math.Round(gap*1e9))
			}
		case strings.HasPrefix(spec, "stagger:"):
			sv, err := specParam(spec, "stagger", "s")
			if err != nil {
				return 0, err
			}
			if float64(i)*sv > MaxSeconds {
				return 0, fmt.Errorf("session start %q: session %d would start at %v s (session starts are %s)", spec, i, float64(i)*sv, maxTimeText)
			}
			d = time.Duration(math.Round(float64(i) * sv * 1e9))
		default:
			return 0, fmt.Errorf("session start %q: want zero, poisson:rate=R or stagger:s=S", spec)
		}
		k.starts = append(k.starts, d)
	}
	return k.starts[rank], nil
}

// ParseSessionStart checks a --session-start value.
func ParseSessionStart(spec string) error {
	k := &kvReader{s: &Stream{opt: ReadOptions{SessionStart: spec}}}
	_, err := k.sessionStart(1)
	return err
}

func specParam(spec, kind, key string) (float64, error) {
	rest := strings.TrimPrefix(spec, kind+":")
	k, v, ok := strings.Cut(rest, "=")
	if !ok || k != key {
		return 0, fmt.Errorf("session start %q: want %s:%s=VALUE", spec, kind, key)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("session start %q: %s must be a positive number", spec, key)
	}
	return f, nil
}

// kvReq is one parsed request of a session file.
type kvReq struct {
	t        float64
	typ      string
	in, out  int64
	think    float64
	hasIn    bool
	hasOut   bool
	hasT     bool
	hasIDs   bool
	sub      bool
	agent    string
	subType  string
	children []kvReq
	idsStart int // into kvReader.ids
	idsEnd   int
}

// file parses one session file and holds its requests.
func (k *kvReader) file(rank int, f kvFile) error {
	s := k.s
	k.sc = scanner{b: f.data}
	k.ids = k.ids[:0]
	bs := 0
	scope := ""
	var reqs []kvReq
	hasReqs := false
	loc := f.label
	err := k.sc.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "block_size":
			var v int64
			v, err = k.sc.int()
			if err == nil && (v < 1 || v > 1<<24) {
				err = fmt.Errorf("%d outside 1..%d", v, 1<<24)
			}
			bs = int(v)
			return wrapIf("block_size", err)
		case "hash_id_scope":
			scope, err = k.sc.str()
			return wrapIf("hash_id_scope", err)
		case "requests":
			hasReqs = true
			reqs, err = k.requests("requests", 0)
			return err
		default:
			return k.sc.skip()
		}
	})
	if err == nil {
		err = k.sc.end()
	}
	// The whole file is one JSON record: with --skip-bad a broken file is
	// skipped (and counted) as one; its rank is still used up.
	bad := func(err error) error {
		re := &recordError{loc, err}
		if s.opt.SkipBad {
			s.skip(re)
			k.files = append(k.files, kvFileInfo{name: f.name, firstSeq: k.seq})
			return nil
		}
		return re
	}
	switch {
	case err != nil:
		return bad(asField("json", err))
	case !hasReqs:
		return bad(fieldErr("requests", "missing"))
	case bs == 0:
		return bad(fieldErr("block_size", "missing"))
	case k.bs != 0 && bs != k.bs:
		return bad(fieldErr("block_size", "%d differs from %d in earlier files", bs, k.bs))
	case scope != "" && scope != "local" && scope != "global":
		return bad(fieldErr("hash_id_scope", "%q, want local or global", scope))
	case k.scope != "" && scope != k.scope:
		return bad(fieldErr("hash_id_scope", "%q differs from %q in earlier files", scope, k.scope))
	}
	k.bs, k.scope = bs, scope
	if scope != "global" {
		s.table.setScope(uint64(rank) << 32)
	}
	start, err := k.sessionStart(rank)
	if err != nil {
		return err
	}
	k.files = append(k.files, kvFileInfo{name: f.name, firstSeq: k.seq})
	defer func() { k.files[len(k.files)-1].count = k.seq - k.files[len(k.files)-1].firstSeq }()
	prev := int64(NoParent)
	turn := 0
	for i := range reqs {
		q := &reqs[i]
		where := fmt.Sprintf("%s:requests[%d]", loc, i)
		if !q.sub {
			turn++
			prev = k.hold(rank, start, 0, nil, q, where, prev, turn, nil)
			continue
		}
		// A sub-agent: its own chain of turns, starting from the parent's
		// last request, at the entry's t.
		// The entry's own t offsets its requests; a bad one fails each of
		// them (so that --skip-bad counts every request it drops).
		var base time.Duration
		baseErr := checkSeconds("t", q.t)
		if fe, ok := baseErr.(*FieldError); ok {
			baseErr = fieldErr("t", "the sub-agent entry's t is %s", fe.Reason)
		} else {
			base = time.Duration(math.Round(q.t * 1e9))
		}
		sp, st := prev, 0
		tags := []string{"subagent"}
		if q.agent != "" {
			tags = append(tags, "agent_id="+q.agent)
		}
		if q.subType != "" {
			tags = append(tags, "subagent_type="+q.subType)
		}
		for j := range q.children {
			st++
			sp = k.hold(rank, start, base, baseErr, &q.children[j], fmt.Sprintf("%s.requests[%d]", where, j), sp, st, tags)
		}
	}
	return k.err
}

// hold validates one request, interns its blocks and buffers it; it returns
// the request's id (or prev when the request was skipped). base is a
// sub-agent entry's offset; baseErr, when set, fails the request.
func (k *kvReader) hold(rank int, start, base time.Duration, baseErr error, q *kvReq, where string, prev int64, turn int, tags []string) int64 {
	s := k.s
	err := k.check(q)
	if err == nil {
		err = baseErr
	}
	var r Request
	if err == nil {
		r = Request{
			Source: where, Arrival: start + base + time.Duration(math.Round(q.t*1e9)),
			Input: int(q.in), Output: int(q.out), Session: int64(rank), Parent: prev,
			Turn: turn, ThinkS: q.think, Type: q.typ, Tags: tags,
		}
		if r.Arrival > MaxTime {
			err = fieldErr("t", "session start + t is too large (%s; %s)", fmtDur(r.Arrival), maxTimeText)
		} else {
			r.Blocks, err = s.table.Intern(k.blocks[:0], k.ids[q.idsStart:q.idsEnd])
			k.blocks = r.Blocks
			if err == nil {
				s.table.Accept()
			}
		}
	}
	if err != nil {
		re := &recordError{where, err}
		if !s.opt.SkipBad {
			k.fatal(re)
			return prev
		}
		s.skip(re)
		return prev
	}
	if len(r.Blocks) > 0 {
		r.LastBlockTokens = k.bs
	}
	r.ID = k.seq
	k.seq++
	if s.buf == nil {
		s.buf = &held{}
	}
	s.buf.add(&r)
	hr := &s.buf.recs[len(s.buf.recs)-1]
	hr.sortKey1 = int64(rank)
	return r.ID
}

// fatal records the first error; file() returns it after the loop.
func (k *kvReader) fatal(err error) {
	if k.err == nil {
		k.err = err
	}
}

func (k *kvReader) check(q *kvReq) error {
	switch {
	case !q.hasT:
		return fieldErr("t", "missing")
	case !q.hasIn:
		return fieldErr("in", "missing")
	case !q.hasOut:
		return fieldErr("out", "missing")
	case !q.hasIDs:
		return fieldErr("hash_ids", "missing")
	}
	if err := checkSeconds("t", q.t); err != nil {
		return err
	}
	switch {
	case q.in < 0:
		return fieldErr("in", "negative (%d)", q.in)
	case q.out < 0:
		return fieldErr("out", "negative (%d)", q.out)
	case q.in > math.MaxInt32:
		return fieldErr("in", "too large (%d)", q.in)
	case q.out > math.MaxInt32:
		return fieldErr("out", "too large (%d)", q.out)
	}
	if err := checkSeconds("think_time", q.think); err != nil {
		return err
	}
	n, want := q.idsEnd-q.idsStart, int(q.in)/k.bs
	if n > want {
		return fieldErr("hash_ids", "%d ids but in %d allows at most floor(%d/%d) = %d", n, q.in, q.in, k.bs, want)
	}
	if n < want {
		return fieldErr("hash_ids", "%d ids but in %d needs floor(%d/%d) = %d", n, q.in, q.in, k.bs, want)
	}
	return nil
}

// requests parses a requests array; depth 1 is inside a sub-agent (which
// may not nest another).
func (k *kvReader) requests(field string, depth int) ([]kvReq, error) {
	var out []kvReq
	err := k.sc.array(func(i int) error {
		var q kvReq
		f := fmt.Sprintf("%s[%d]", field, i)
		err := k.sc.object(func(key []byte) error {
			var err error
			switch string(key) {
			case "t":
				q.hasT = true
				q.t, err = k.sc.float()
			case "type":
				q.typ, err = k.sc.str()
				q.sub = q.typ == "subagent"
			case "in":
				q.hasIn = true
				q.in, err = k.sc.int()
			case "out":
				q.hasOut = true
				q.out, err = k.sc.int()
			case "think_time":
				if !k.sc.isNull() {
					q.think, err = k.sc.float()
					if err == nil && q.think < 0 {
						q.think = 0
					}
				}
			case "hash_ids":
				q.hasIDs = true
				q.idsStart = len(k.ids)
				k.ids, err = k.sc.ids("hash_ids", k.ids)
				q.idsEnd = len(k.ids)
			case "agent_id":
				if !k.sc.isNull() {
					q.agent, err = k.sc.str()
				}
			case "subagent_type":
				if !k.sc.isNull() {
					q.subType, err = k.sc.str()
				}
			case "requests":
				if depth > 0 {
					return errors.New("a sub-agent inside a sub-agent is not supported")
				}
				q.children, err = k.requests(f+".requests", depth+1)
				return err
			default:
				err = k.sc.skip()
			}
			return wrapIf(f+"."+string(key), err)
		})
		if err != nil {
			return err
		}
		if q.sub {
			if !q.hasT {
				return fieldErr(f+".t", "missing")
			}
			q.hasIn, q.hasOut, q.hasIDs = true, true, true // not a request itself
		}
		out = append(out, q)
		return nil
	})
	return out, err
}
