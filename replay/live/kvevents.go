package live

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// KVEndpoint is where one worker's KV cache events come from: a ZeroMQ
// endpoint that kvscope binds (Bind: llm-d-inference-sim's publisher dials
// its --zmq-endpoint, so each simulator gets its own bound endpoint and
// events are told apart by endpoint) or connects to (vLLM's publisher binds,
// --kv-events-config's endpoint, tcp://*:5557 by default).
type KVEndpoint struct {
	Bind bool
	Addr string // tcp://host:port
}

func (e KVEndpoint) String() string {
	if e.Bind {
		return "bind:" + e.Addr
	}
	return "connect:" + e.Addr
}

// ParseKVEndpoints reads --kv-events: comma-separated bind:tcp://HOST:PORT
// or connect:tcp://HOST:PORT, one per worker in worker order.
func ParseKVEndpoints(s string) ([]KVEndpoint, error) {
	var out []KVEndpoint
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		mode, addr, ok := strings.Cut(f, ":")
		if !ok || mode != "bind" && mode != "connect" {
			return nil, fmt.Errorf("kv-events entry %d %q: want bind:tcp://HOST:PORT or connect:tcp://HOST:PORT", i+1, f)
		}
		u, err := url.Parse(addr)
		if err != nil || u.Scheme != "tcp" || u.Hostname() == "" || u.Port() == "" || u.Path != "" || u.User != nil {
			return nil, fmt.Errorf("kv-events entry %d %q: endpoint %q is not tcp://HOST:PORT", i+1, f, addr)
		}
		out = append(out, KVEndpoint{Bind: mode == "bind", Addr: addr})
	}
	return out, nil
}

// kvKind is a KV event's type.
type kvKind uint8

const (
	kvStored kvKind = iota + 1
	kvRemoved
	kvCleared
)

func (k kvKind) String() string {
	switch k {
	case kvStored:
		return "BlockStored"
	case kvRemoved:
		return "BlockRemoved"
	case kvCleared:
		return "AllBlocksCleared"
	}
	return "unknown"
}

// kvEvent is one decoded event. For BlockStored, Hashes[i] holds
// Tokens[i·BlockSize:(i+1)·BlockSize] (BlockSize from the event, or
// len(Tokens)/len(Hashes)), and Parent (when HasParent) is the hash the
// server gave as the first block's parent.
type kvEvent struct {
	Kind      kvKind
	Hashes    []uint64
	Parent    uint64
	HasParent bool
	Tokens    []uint32
	BlockSize int
}

// decodeKVMessage decodes one ZeroMQ message of a KV event publisher:
// frames [topic, 8-byte big-endian sequence number, msgpack KVEventBatch]
// (vLLM's ZmqEventPublisher and llm-d-inference-sim's Publisher send the
// same three frames). A bad message is an error, never a panic.
func decodeKVMessage(frames [][]byte) (topic string, seq uint64, evs []kvEvent, err error) {
	if len(frames) != 3 {
		return "", 0, nil, fmt.Errorf("%d frames, want 3 (topic, sequence, payload)", len(frames))
	}
	if len(frames[1]) != 8 {
		return "", 0, nil, fmt.Errorf("sequence frame of %d bytes, want 8", len(frames[1]))
	}
	seq = binary.BigEndian.Uint64(frames[1])
	evs, err = decodeKVBatch(frames[2])
	return string(frames[0]), seq, evs, err
}

// decodeKVBatch decodes a KVEventBatch: a msgpack array [ts, [event...],
// data_parallel_rank?] whose events are either arrays tagged by their first
// element (vLLM's array_like encoding, the default) or maps with a "type"
// key (vLLM #42892's named fields; llm-d-inference-sim
// --use-vllm-map-event-format). Integers of any msgpack width are accepted
// as hashes (vLLM sends uint64 or int64, negative ones as their two's
// complement).
func decodeKVBatch(payload []byte) ([]kvEvent, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(payload))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("payload: %v", err)
	}
	if n, _ := dec.Buffered().Read(make([]byte, 1)); n > 0 {
		return nil, errors.New("payload: trailing bytes after the batch")
	}
	batch, ok := v.([]any)
	if !ok || len(batch) < 2 {
		return nil, fmt.Errorf("payload: %T, want an array [ts, events, ...]", v)
	}
	raw, ok := batch[1].([]any)
	if !ok {
		return nil, fmt.Errorf("payload: events are %T, want an array", batch[1])
	}
	evs := make([]kvEvent, 0, len(raw))
	for i, r := range raw {
		e, err := decodeKVEvent(r)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		evs = append(evs, e)
	}
	return evs, nil
}

func decodeKVEvent(r any) (kvEvent, error) {
	var tag string
	var field func(pos int, name string) (any, bool)
	switch x := r.(type) {
	case []any:
		if len(x) == 0 {
			return kvEvent{}, errors.New("empty event array")
		}
		t, ok := x[0].(string)
		if !ok {
			return kvEvent{}, fmt.Errorf("event tag %T, want a string", x[0])
		}
		tag = t
		field = func(pos int, _ string) (any, bool) {
			if pos < len(x) {
				return x[pos], true
			}
			return nil, false
		}
	case map[string]any:
		t, ok := x["type"].(string)
		if !ok {
			return kvEvent{}, fmt.Errorf("event map without a string \"type\" (%T)", x["type"])
		}
		tag = t
		field = func(_ int, name string) (any, bool) {
			v, ok := x[name]
			return v, ok
		}
	default:
		return kvEvent{}, fmt.Errorf("event is %T, want an array or a map", r)
	}
	var e kvEvent
	var err error
	switch tag {
	case "BlockStored":
		e.Kind = kvStored
		hv, _ := field(1, "block_hashes")
		if e.Hashes, err = kvHashes(hv); err != nil {
			return e, fmt.Errorf("BlockStored block_hashes: %w", err)
		}
		// No parent is nil (vLLM, the map format) or 0 (the array
		// format of llm-d-inference-sim, which sends llm-d-kv-cache's
		// EmptyBlockHash, 0, there; its consumers read both as no parent).
		if pv, ok := field(2, "parent_block_hash"); ok && pv != nil {
			if e.Parent, err = kvHash(pv); err != nil {
				return e, fmt.Errorf("BlockStored parent_block_hash: %w", err)
			}
			e.HasParent = e.Parent != 0
		}
		tv, _ := field(3, "token_ids")
		ts, ok := tv.([]any)
		if !ok {
			return e, fmt.Errorf("BlockStored token_ids: %T, want an array", tv)
		}
		e.Tokens = make([]uint32, len(ts))
		for i, t := range ts {
			n, ok := kvInt(t)
			if !ok || n < 0 || n > math.MaxUint32 {
				return e, fmt.Errorf("BlockStored token_ids[%d]: %v is not a token id", i, t)
			}
			e.Tokens[i] = uint32(n)
		}
		if bv, ok := field(4, "block_size"); ok && bv != nil {
			n, ok := kvInt(bv)
			if !ok || n < 1 || n > 1<<20 {
				return e, fmt.Errorf("BlockStored block_size: %v", bv)
			}
			e.BlockSize = int(n)
		}
		if len(e.Hashes) == 0 {
			return e, errors.New("BlockStored without block hashes")
		}
		if e.BlockSize == 0 {
			e.BlockSize = len(e.Tokens) / len(e.Hashes)
		}
		if e.BlockSize < 1 || len(e.Tokens) != e.BlockSize*len(e.Hashes) {
			return e, fmt.Errorf("BlockStored: %d tokens for %d blocks of %d", len(e.Tokens), len(e.Hashes), e.BlockSize)
		}
	case "BlockRemoved":
		e.Kind = kvRemoved
		hv, _ := field(1, "block_hashes")
		if e.Hashes, err = kvHashes(hv); err != nil {
			return e, fmt.Errorf("BlockRemoved block_hashes: %w", err)
		}
	case "AllBlocksCleared":
		e.Kind = kvCleared
	default:
		return e, fmt.Errorf("unknown event type %q", tag)
	}
	return e, nil
}

func kvHashes(v any) ([]uint64, error) {
	xs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%T, want an array", v)
	}
	out := make([]uint64, len(xs))
	for i, x := range xs {
		h, err := kvHash(x)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = h
	}
	return out, nil
}

// kvHash reads a block hash: an integer of any width (an int64 is taken
// as its two's complement), or bytes of at most 8 (big-endian; vLLM's
// sha256-based hashes are sent as bytes when not folded to an integer,
// and are then truncated to their last 8 bytes).
func kvHash(v any) (uint64, error) {
	switch x := v.(type) {
	case uint64:
		return x, nil
	case []byte:
		if len(x) == 0 {
			return 0, errors.New("empty bytes hash")
		}
		if len(x) > 8 {
			x = x[len(x)-8:]
		}
		var b [8]byte
		copy(b[8-len(x):], x)
		return binary.BigEndian.Uint64(b[:]), nil
	}
	if n, ok := kvInt(v); ok {
		return uint64(n), nil
	}
	return 0, fmt.Errorf("hash %v (%T) is not an integer", v, v)
}

// kvInt reads any msgpack integer as int64 (a uint64 above MaxInt64 wraps).
func kvInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), true
	case uint:
		return int64(x), true
	}
	return 0, false
}

// KVEvents subscribes to every worker's KV events and keeps a Mirror per
// worker. Open it with OpenKVEvents; Close ends the subscriptions.
type KVEvents struct {
	Endpoints []KVEndpoint
	Mirrors   []*Mirror
	socks     []zmq4.Socket
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// OpenKVEvents binds or connects one ZeroMQ SUB socket per endpoint,
// subscribed to every topic, and starts receiving. A bound endpoint takes
// its publisher when it dials (llm-d-inference-sim retries every second:
// WaitConnected waits for it); events published before a publisher is
// connected are lost, which the mirror sees as a gap in sequence numbers.
// A connected endpoint is dialled (up to 10 tries 250 ms apart, then an
// error) and redialled when the publisher goes away.
func OpenKVEvents(ctx context.Context, eps []KVEndpoint) (*KVEvents, error) {
	ctx, cancel := context.WithCancel(ctx)
	k := &KVEvents{Endpoints: eps, cancel: cancel}
	for i, ep := range eps {
		m := newMirror()
		var s zmq4.Socket
		var err error
		if ep.Bind {
			s = zmq4.NewSub(ctx)
			if err = s.SetOption(zmq4.OptionSubscribe, ""); err == nil {
				// Through kvscope's tcp transport, which tells the mirror
				// when a publisher connects.
				addr := strings.TrimPrefix(ep.Addr, "tcp://")
				var key string
				if key, err = transport.New("tcp").Addr(addr); err == nil {
					acceptHooks.Store(key, m)
					err = s.Listen(hookTransport + "://" + addr)
					acceptHooks.Delete(key)
				}
			}
		} else {
			s = zmq4.NewSub(ctx, zmq4.WithAutomaticReconnect(true))
			if err = s.SetOption(zmq4.OptionSubscribe, ""); err == nil {
				if err = s.Dial(ep.Addr); err == nil {
					m.accepted()
				}
			}
		}
		if err != nil {
			_ = s.Close()
			k.Close()
			return nil, fmt.Errorf("live: kv events %d (%s): %w", i, ep, err)
		}
		k.socks = append(k.socks, s)
		k.Mirrors = append(k.Mirrors, m)
		k.wg.Go(func() { recvLoop(ctx, s, m) })
	}
	return k, nil
}

// WaitConnected waits until every endpoint has a publisher connected (a
// bound one: its first connection accepted; a dialled one is connected
// once open), at most d or until ctx ends, and returns the indices of
// those still waiting. A publisher's subscription takes a moment more to
// reach it: the first events may still be lost (a gap).
func (k *KVEvents) WaitConnected(ctx context.Context, d time.Duration) []int {
	t := time.NewTimer(d)
	defer t.Stop()
	var missing []int
	for i, m := range k.Mirrors {
		select {
		case <-m.connected:
			continue
		default:
		}
		select {
		case <-m.connected:
		case <-t.C:
			missing = append(missing, i)
			t.Reset(0)
		case <-ctx.Done():
			missing = append(missing, i)
		}
	}
	return missing
}

// hookTransport is zmq4's tcp transport with a listener that tells the
// mirror of its address (acceptHooks, set around Listen) when a publisher
// connects.
const hookTransport = "kvscope-tcp"

var acceptHooks sync.Map // listen address (as the transport gives it) → *Mirror

func init() {
	// Only this package registers the name; were it taken, Listen would
	// fail with zmq4's error naming the transport.
	_ = zmq4.RegisterTransport(hookTransport, hookTCP{transport.New("tcp")})
}

type hookTCP struct{ transport.Transport }

func (h hookTCP) Listen(ctx context.Context, addr string) (net.Listener, error) {
	l, err := h.Transport.Listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	m, _ := acceptHooks.Load(addr)
	mirror, _ := m.(*Mirror)
	return hookListener{Listener: l, m: mirror}, nil
}

type hookListener struct {
	net.Listener
	m *Mirror
}

func (l hookListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil && l.m != nil {
		l.m.accepted()
	}
	return c, err
}

// recvLoop feeds m with s's messages until ctx ends.
func recvLoop(ctx context.Context, s zmq4.Socket, m *Mirror) {
	for {
		msg, err := s.Recv()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// zmq4 reports a lost peer as an error on Recv; the socket
			// keeps listening (or redialling). Not a bad message.
			m.noteRecvError(err)
			select {
			case <-ctx.Done():
				return
			case <-m.recvBackoff():
			}
			continue
		}
		m.receive(msg.Frames)
	}
}

// Close ends every subscription and waits for the receivers.
func (k *KVEvents) Close() {
	if k == nil {
		return
	}
	k.cancel()
	for _, s := range k.socks {
		_ = s.Close()
	}
	k.wg.Wait()
}
