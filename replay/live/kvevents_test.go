package live

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/vmihailenco/msgpack/v5"
)

func mp(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seqFrame(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func toks(from uint32, n int) []any {
	var out []any
	for i := range n {
		out = append(out, from+uint32(i))
	}
	return out
}

// Both encodings of vLLM's KVEventBatch decode to the same events; hashes
// of any integer width (a negative int64 as its two's complement) are
// accepted.
func TestDecodeKVBatchFormats(t *testing.T) {
	arr := []any{1.5, []any{
		[]any{"BlockStored", []any{uint64(1 << 63), int64(-2)}, 0, toks(10, 8), 4, nil, "GPU"},
		[]any{"BlockStored", []any{int8(7)}, uint64(1 << 63), toks(20, 4), 4},
		[]any{"BlockRemoved", []any{uint16(7)}, "GPU"},
		[]any{"AllBlocksCleared"},
	}, 0}
	maps := []any{1.5, []any{
		map[string]any{"type": "BlockStored", "block_hashes": []any{uint64(1 << 63), int64(-2)}, "parent_block_hash": nil, "token_ids": toks(10, 8), "block_size": 4, "medium": "GPU"},
		map[string]any{"type": "BlockStored", "block_hashes": []any{7}, "parent_block_hash": uint64(1 << 63), "token_ids": toks(20, 4), "block_size": 4},
		map[string]any{"type": "BlockRemoved", "block_hashes": []any{7}},
		map[string]any{"type": "AllBlocksCleared"},
	}}
	for name, batch := range map[string]any{"array": arr, "map": maps} {
		_, seq, evs, err := decodeKVMessage([][]byte{[]byte("kv@127.0.0.1@m"), seqFrame(42), mp(t, batch)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if seq != 42 || len(evs) != 4 {
			t.Fatalf("%s: seq %d, %d events", name, seq, len(evs))
		}
		e := evs[0]
		if e.Kind != kvStored || e.HasParent || e.BlockSize != 4 || len(e.Tokens) != 8 || e.Hashes[0] != 1<<63 || e.Hashes[1] != ^uint64(1) {
			t.Fatalf("%s: first event %+v", name, e)
		}
		if e := evs[1]; !e.HasParent || e.Parent != 1<<63 || e.Hashes[0] != 7 || e.Tokens[0] != 20 {
			t.Fatalf("%s: second event %+v", name, e)
		}
		if evs[2].Kind != kvRemoved || evs[2].Hashes[0] != 7 || evs[3].Kind != kvCleared {
			t.Fatalf("%s: %+v %+v", name, evs[2], evs[3])
		}
	}
}

// Bad input is an error naming what is wrong, never a panic, and the
// mirror counts the message as bad and skips it whole.
func TestDecodeKVBad(t *testing.T) {
	good := mp(t, []any{1.0, []any{[]any{"AllBlocksCleared"}}})
	cases := map[string]struct {
		frames [][]byte
		want   string
	}{
		"two frames":       {[][]byte{[]byte("t"), seqFrame(1)}, "2 frames"},
		"short sequence":   {[][]byte{[]byte("t"), {1, 2}, good}, "sequence frame"},
		"not msgpack":      {[][]byte{[]byte("t"), seqFrame(1), {0xc1}}, "payload"},
		"truncated":        {[][]byte{[]byte("t"), seqFrame(1), good[:len(good)-2]}, "payload"},
		"trailing":         {[][]byte{[]byte("t"), seqFrame(1), append(append([]byte{}, good...), 0x01)}, "trailing"},
		"not an array":     {[][]byte{[]byte("t"), seqFrame(1), mp(t, "x")}, "want an array"},
		"events not array": {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, 3})}, "events are"},
		"unknown type":     {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{[]any{"BlockMoved"}}})}, "unknown event type"},
		"tag not string":   {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{[]any{3}}})}, "event tag"},
		"empty event":      {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{[]any{}}})}, "empty event"},
		"map without type": {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{map[string]any{"x": 1}}})}, "type"},
		"hash a string":    {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{[]any{"BlockRemoved", []any{"h"}}}})}, "not an integer"},
		"tokens mismatch":  {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{[]any{"BlockStored", []any{1, 2}, nil, toks(0, 7), 4}}})}, "7 tokens for 2 blocks"},
		"negative token":   {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{[]any{"BlockStored", []any{1}, nil, []any{-1}, 1}}})}, "not a token id"},
		"no hashes":        {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{[]any{"BlockStored", []any{}, nil, []any{}, 4}}})}, "without block hashes"},
		"zero block size":  {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{[]any{"BlockStored", []any{1}, nil, toks(0, 4), 0}}})}, "block_size"},
		"tokens missing":   {[][]byte{[]byte("t"), seqFrame(1), mp(t, []any{1.0, []any{[]any{"BlockStored", []any{1}}}})}, "token_ids"},
	}
	m := newMirror()
	for name, c := range cases {
		_, _, _, err := decodeKVMessage(c.frames)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, c.want)
		}
		m.receive(c.frames)
	}
	if st := m.Stats(); st.Bad != len(cases) || st.Messages != 0 || st.Events != 0 || st.BadWhy == "" {
		t.Fatalf("mirror after bad messages: %+v", st)
	}
}

// storedMsg builds a one-event BlockStored message.
func storedMsg(t *testing.T, seq uint64, parent any, hashes []any, tokens []any, bs int) [][]byte {
	return [][]byte{[]byte("kv@x@m"), seqFrame(seq), mp(t, []any{1.0, []any{[]any{"BlockStored", hashes, parent, tokens, bs}}})}
}

func u32s(xs []any) []uint32 {
	var out []uint32
	for _, x := range xs {
		out = append(out, x.(uint32))
	}
	return out
}

// The walk maps a prompt to the server's hashes through what BlockStored
// taught (kept after removal), counts every present block (not only a
// leading prefix), and recovers a block listed under a wrong parent (the
// server's event when the blocks it had were not a leading prefix) from
// its tokens. Sequence numbers that go back are a restart, jumps a gap.
func TestMirrorWalk(t *testing.T) {
	m := newMirror()
	b0, b1, b2, b3 := toks(100, 4), toks(200, 4), toks(300, 4), toks(400, 4)
	prompt := u32s(append(append(append(append([]any{}, b0...), b1...), b2...), b3...))
	prompt = append(prompt, 9, 9) // a partial block is not counted
	m.receive(storedMsg(t, 1, nil, []any{11, 12, 13}, append(append(append([]any{}, b0...), b1...), b2...), 4))
	if c, p := m.Walk(prompt, 4); c != 3 || p != 3 {
		t.Fatalf("after storing 3 blocks: cached %d prefix %d", c, p)
	}
	// Block 0 evicted: the server still counts blocks 1 and 2.
	m.receive([][]byte{[]byte("kv@x@m"), seqFrame(2), mp(t, []any{1.0, []any{[]any{"BlockRemoved", []any{11}}}})})
	if c, p := m.Walk(prompt, 4); c != 2 || p != 0 {
		t.Fatalf("after removing block 0: cached %d prefix %d", c, p)
	}
	// The next request stores blocks 0 and 3; the server names block 2
	// (its last held block) as the parent of both: block 0's entry is
	// known from before, block 3 is found by its tokens.
	m.receive(storedMsg(t, 3, 13, []any{11, 14}, append(append([]any{}, b0...), b3...), 4))
	if c, p := m.Walk(prompt, 4); c != 4 || p != 4 {
		t.Fatalf("after storing blocks 0 and 3: cached %d prefix %d", c, p)
	}
	// A different prompt sharing block 0 only.
	other := u32s(append(append([]any{}, b0...), toks(500, 4)...))
	if c, p := m.Walk(other, 4); c != 1 || p != 1 {
		t.Fatalf("other prompt: cached %d prefix %d", c, p)
	}
	if st := m.Stats(); st.Restarts != 0 || st.Gaps != 0 || st.Blocks != 4 || st.Stored != 5 || st.Removed != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A gap of two messages, then a sequence number going back (a new
	// publisher): the mirror empties, the walk still knows the hashes.
	m.receive([][]byte{[]byte("kv@x@m"), seqFrame(6), mp(t, []any{1.0, []any{}})})
	m.receive(storedMsg(t, 1, nil, []any{11}, b0, 4))
	st := m.Stats()
	if st.Gaps != 1 || st.Missed != 2 || st.Restarts != 1 || st.Blocks != 1 {
		t.Fatalf("after a gap and a restart: %+v", st)
	}
	if c, p := m.Walk(prompt, 4); c != 1 || p != 1 {
		t.Fatalf("after the restart: cached %d prefix %d", c, p)
	}
	m.receive([][]byte{[]byte("kv@x@m"), seqFrame(2), mp(t, []any{1.0, []any{[]any{"AllBlocksCleared"}}})})
	if st := m.Stats(); st.Restarts != 2 || st.Cleared != 1 || st.Blocks != 0 {
		t.Fatalf("after AllBlocksCleared: %+v", st)
	}
	// An unknown block breaks the chain; a block whose tokens were stored
	// under two hashes is not guessed.
	m2 := newMirror()
	m2.receive(storedMsg(t, 1, nil, []any{1, 2}, append(append([]any{}, b0...), b1...), 4))
	m2.receive(storedMsg(t, 2, nil, []any{3, 4}, append(append([]any{}, b2...), b1...), 4))
	mid := u32s(append(append(append([]any{}, toks(900, 4)...), b1...), b3...))
	if c, _ := m2.Walk(mid, 4); c != 0 {
		t.Fatalf("ambiguous tokens after an unknown block: cached %d", c)
	}
}

func TestParseKVEndpoints(t *testing.T) {
	eps, err := ParseKVEndpoints("bind:tcp://127.0.0.1:5557, connect:tcp://10.0.0.2:5557")
	if err != nil || len(eps) != 2 || !eps[0].Bind || eps[1].Bind || eps[1].Addr != "tcp://10.0.0.2:5557" {
		t.Fatalf("%+v %v", eps, err)
	}
	for _, bad := range []string{"tcp://127.0.0.1:1", "bind:http://x:1", "connect:tcp://x", "bind:", "listen:tcp://a:1", "bind:tcp://a:1/p"} {
		if _, err := ParseKVEndpoints(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The subscriber end to end without a simulator: a zmq4 PUB dials the
// endpoint kvscope binds (as llm-d-inference-sim does) and sends a good
// message, a bad one and another good one; the mirror applies the good
// ones in order and counts the bad one. A taken port is a clear error.
func TestKVEventsSubscriber(t *testing.T) {
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	kv, err := OpenKVEvents(context.Background(), []KVEndpoint{{Bind: true, Addr: addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	if _, err := OpenKVEvents(context.Background(), []KVEndpoint{{Bind: true, Addr: addr}}); err == nil || !strings.Contains(err.Error(), "bind:"+addr) {
		t.Fatalf("second bind of %s: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := zmq4.NewPub(ctx, zmq4.WithDialerRetry(10*time.Millisecond), zmq4.WithDialerMaxRetries(-1))
	defer pub.Close()
	if err := pub.Dial(addr); err != nil {
		t.Fatal(err)
	}
	m := kv.Mirrors[0]
	if late := kv.WaitConnected(ctx, patience); len(late) != 0 || m.Stats().Connections != 1 {
		t.Fatalf("publisher not seen connecting: late %v, %+v", late, m.Stats())
	}
	b0 := toks(100, 4)
	// PUB drops what it sends before the subscription has reached it:
	// send the first message until it arrives.
	deadline := time.After(patience)
	for m.Stats().Messages == 0 {
		ch := m.Changed()
		if err := pub.Send(zmq4.NewMsgFrom(storedMsg(t, 1, nil, []any{11}, b0, 4)...)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("no message received")
		}
	}
	ch := m.Changed()
	for _, f := range [][][]byte{
		{[]byte("kv@x@m"), seqFrame(2), {0xc1}},
		storedMsg(t, 3, 11, []any{12}, toks(200, 4), 4),
	} {
		if err := pub.Send(zmq4.NewMsgFrom(f...)); err != nil {
			t.Fatal(err)
		}
	}
	for st := m.Stats(); st.Bad+st.Messages < 3; st = m.Stats() {
		select {
		case <-ch:
			ch = m.Changed()
		case <-deadline:
			t.Fatalf("stats %+v", st)
		}
	}
	st := m.Stats()
	if st.Bad != 1 || st.Blocks != 2 || st.Gaps != 0 || st.Missed != 0 || st.Restarts != 0 {
		t.Fatalf("stats %+v", st)
	}
	if c, p := m.Walk(u32s(append(append([]any{}, b0...), toks(200, 4)...)), 4); c != 2 || p != 2 {
		t.Fatalf("walk: cached %d prefix %d", c, p)
	}
}

// FuzzKVMessage: whatever a publisher sends, the mirror either applies a
// message or counts it bad; nothing panics, and a walk afterwards stays
// within the prompt.
func FuzzKVMessage(f *testing.F) {
	enc := func(v any) []byte { b, _ := msgpack.Marshal(v); return b }
	f.Add(enc([]any{1.0, []any{[]any{"BlockStored", []any{1, 2}, nil, toks(1, 8), 4}}}), uint64(1))
	f.Add(enc([]any{1.0, []any{map[string]any{"type": "BlockStored", "block_hashes": []any{5}, "parent_block_hash": 1, "token_ids": toks(1, 4), "block_size": 4}}}), uint64(2))
	f.Add(enc([]any{1.0, []any{[]any{"BlockRemoved", []any{1}}, []any{"AllBlocksCleared"}}}), uint64(9))
	f.Add([]byte{0x92, 0xcb}, uint64(0))
	f.Fuzz(func(t *testing.T, payload []byte, seq uint64) {
		m := newMirror()
		m.receive([][]byte{[]byte("kv@x@m"), seqFrame(seq), payload})
		st := m.Stats()
		if st.Bad+st.Messages != 1 {
			t.Fatalf("one message: %+v", st)
		}
		prompt := u32s(toks(1, 8))
		if c, p := m.Walk(prompt, 4); c < 0 || c > 2 || p > c {
			t.Fatalf("walk: cached %d prefix %d of 2 blocks", c, p)
		}
	})
}

// What the mirror learned of removed blocks is kept for the last Retain of
// them only: memory follows the server's cache. A forgotten block is not
// found by the walk, and is learned again when stored again.
func TestMirrorRetention(t *testing.T) {
	m := newMirror()
	m.retain = 2
	var all []any
	var hashes []any
	for i := range 5 {
		all = append(all, toks(uint32(100*(i+1)), 4)...)
		hashes = append(hashes, 10+i)
	}
	prompt := u32s(all)
	m.receive(storedMsg(t, 1, nil, hashes, all, 4))
	if st := m.Stats(); st.Blocks != 5 || st.Learned != 5 {
		t.Fatalf("after storing: %+v", st)
	}
	// Remove blocks 0..3: the two oldest removed are forgotten.
	m.receive([][]byte{[]byte("kv@x@m"), seqFrame(2), mp(t, []any{1.0, []any{[]any{"BlockRemoved", []any{10, 11, 12, 13}}}})})
	st := m.Stats()
	if st.Blocks != 1 || st.Learned != 3 || st.Forgotten != 2 {
		t.Fatalf("after removing 4 with retention 2: %+v", st)
	}
	// Block 4 is still found: its tokens name it although the chain is
	// lost at block 0.
	if c, p := m.Walk(prompt, 4); c != 1 || p != 0 {
		t.Fatalf("walk: cached %d prefix %d", c, p)
	}
	// Stored again: learned again, the whole prompt present.
	m.receive(storedMsg(t, 3, nil, hashes[:4], all[:16], 4))
	if c, p := m.Walk(prompt, 4); c != 5 || p != 5 {
		t.Fatalf("after storing again: cached %d prefix %d (%+v)", c, p, m.Stats())
	}
	// A restart ages every present block as removed.
	m.receive(storedMsg(t, 1, nil, []any{99}, toks(7, 4), 4))
	if st := m.Stats(); st.Restarts != 1 || st.Blocks != 1 || st.Learned > 3 {
		t.Fatalf("after a restart: %+v", st)
	}
}

// The digest is FNV-1a as hash/fnv computes it.
func TestDigestIsFNV1a(t *testing.T) {
	tok := []uint32{0, 1, 0xdeadbeef, 30999}
	h := fnv.New64a()
	for _, x := range tok {
		_ = binary.Write(h, binary.LittleEndian, x)
	}
	if digest(tok) != h.Sum64() {
		t.Fatalf("digest %x, fnv %x", digest(tok), h.Sum64())
	}
}

// BenchmarkMirrorWalk: one worker's walk of a 600-block prompt (9,600
// tokens) against a mirror holding 16,384 blocks, as Match does per worker
// per request with KV events on.
func BenchmarkMirrorWalk(b *testing.B) {
	m := newMirror()
	const n, bs = 16384, 16
	tok := make([]uint32, n*bs)
	for i := range tok {
		tok[i] = uint32(1000 + i)
	}
	var parent uint64
	has := false
	for j := range n {
		h := uint64(j + 1)
		m.apply(kvEvent{Kind: kvStored, Hashes: []uint64{h}, Parent: parent, HasParent: has, Tokens: tok[j*bs : (j+1)*bs], BlockSize: bs})
		parent, has = h, true
	}
	prompt := tok[:600*bs]
	b.ReportAllocs()
	for b.Loop() {
		if c, _ := m.Walk(prompt, bs); c != 600 {
			b.Fatal(c)
		}
	}
}

// BenchmarkMirrorMemory: the heap one worker's mirror holds after a long
// run's churn through a 16,384-block cache (200,000 blocks stored in
// chains of 600, the oldest removed as the cache fills), with the
// driver's retention (the cache size) and with 65,536 (the cap, and the
// retention before the driver set it): bytes per hash known and in all.
func BenchmarkMirrorMemory(b *testing.B) {
	for _, retain := range []int{16384, 1 << 16} {
		b.Run(fmt.Sprintf("retain=%d", retain), func(b *testing.B) {
			const capacity, total, chain, bs = 16384, 200000, 600, 16
			tok := make([]uint32, chain*bs)
			var ms0, ms1 runtime.MemStats
			for b.Loop() {
				runtime.GC()
				runtime.ReadMemStats(&ms0)
				m := newMirror()
				m.setRetain(retain)
				var held []uint64
				for base := 0; base < total; base += chain {
					for i := range tok {
						tok[i] = uint32(base*bs + i)
					}
					hs := make([]uint64, chain)
					for j := range hs {
						hs[j] = uint64(base + j + 1)
					}
					m.apply(kvEvent{Kind: kvStored, Hashes: hs, Tokens: tok, BlockSize: bs})
					held = append(held, hs...)
					if over := len(held) - capacity; over > 0 {
						m.apply(kvEvent{Kind: kvRemoved, Hashes: held[:over]})
						held = held[over:]
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&ms1)
				known := len(m.info)
				b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/float64(known), "B/hash")
				b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/(1<<20), "MB")
				runtime.KeepAlive(m)
			}
		})
	}
}
