package gen

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

func TestValidate(t *testing.T) {
	gsp := func(f func(*GSP)) Generator { p := DefaultGSP(); f(&p); return &p }
	mt := func(f func(*Multiturn)) Generator { p := DefaultMultiturn(); f(&p); return &p }
	ld := func(f func(*Longdoc)) Generator { p := DefaultLongdoc(); f(&p); return &p }
	cy := func(f func(*Cycle)) Generator { p := DefaultCycle(); f(&p); return &p }
	for _, c := range []struct {
		g    Generator
		flag string // "" = valid
	}{
		{gsp(func(p *GSP) {}), ""},
		{gsp(func(p *GSP) { p.Groups = 0 }), "groups"},
		{gsp(func(p *GSP) { p.Groups = -3 }), "groups"},
		{gsp(func(p *GSP) { p.PromptsPerGroup = 0 }), "prompts-per-group"},
		{gsp(func(p *GSP) { p.Groups, p.PromptsPerGroup = 1<<31, 1<<31 }), "prompts-per-group"},
		{gsp(func(p *GSP) { p.PrefixRatio = -0.1 }), "prefix-ratio"},
		{gsp(func(p *GSP) { p.PrefixRatio = 1.5 }), "prefix-ratio"},
		{gsp(func(p *GSP) { p.PrefixRatio = math.NaN() }), "prefix-ratio"},
		{gsp(func(p *GSP) { p.PrefixRatio = 0 }), ""},
		{gsp(func(p *GSP) { p.PrefixRatio = 1 }), ""},
		{gsp(func(p *GSP) { p.TotalLens = nil }), "total-lens"},
		{gsp(func(p *GSP) { p.TotalLens = []int{512, -1} }), "total-lens"},
		{gsp(func(p *GSP) { p.TotalLens = []int{1} }), "total-lens"},
		{gsp(func(p *GSP) { p.TotalLens = []int{2} }), ""},
		{gsp(func(p *GSP) { p.OutputLen = -1 }), "output-len"},
		{gsp(func(p *GSP) { p.OutputLen = 0 }), ""},
		{gsp(func(p *GSP) { p.Order = "sorted" }), "order"},
		{gsp(func(p *GSP) { p.Rate = 0 }), "rate"},
		{gsp(func(p *GSP) { p.Rate = -1 }), "rate"},
		{gsp(func(p *GSP) { p.Rate = math.NaN() }), "rate"},
		{gsp(func(p *GSP) { p.Rate = math.Inf(1) }), ""},
		{gsp(func(p *GSP) { p.BlockSize = 0 }), "block-size"},
		{gsp(func(p *GSP) { p.BlockSize = 1<<24 + 1 }), "block-size"},
		{gsp(func(p *GSP) { p.BlockSize = 1 << 24 }), ""},
		{mt(func(p *Multiturn) {}), ""},
		{mt(func(p *Multiturn) { p.Clients = 0 }), "clients"},
		{mt(func(p *Multiturn) { p.Turns = []int{2, 0} }), "turns"},
		{mt(func(p *Multiturn) { p.Turns = nil }), "turns"},
		{mt(func(p *Multiturn) { p.Turns = []int{1 << 35} }), "turns"},
		{mt(func(p *Multiturn) { p.UserLen = 0 }), "user-len"},
		{mt(func(p *Multiturn) { p.OutputLen = -4 }), "output-len"},
		{mt(func(p *Multiturn) { p.ThinkS = -1 }), "think-s"},
		{mt(func(p *Multiturn) { p.ThinkS = math.Inf(1) }), "think-s"},
		{mt(func(p *Multiturn) { p.Rate = 0 }), "rate"},
		{mt(func(p *Multiturn) { p.BlockSize = -16 }), "block-size"},
		{ld(func(p *Longdoc) {}), ""},
		{ld(func(p *Longdoc) { p.Docs = 0 }), "docs"},
		{ld(func(p *Longdoc) { p.DocLens = []int{0} }), "doc-lens"},
		{ld(func(p *Longdoc) { p.Questions = 0 }), "questions"},
		{ld(func(p *Longdoc) { p.QuestionLen = 0 }), "question-len"},
		{ld(func(p *Longdoc) { p.OutputLen = -1 }), "output-len"},
		{ld(func(p *Longdoc) { p.Rate = 0 }), "rate"},
		{ld(func(p *Longdoc) { p.BlockSize = 0 }), "block-size"},
		{cy(func(p *Cycle) {}), ""},
		{cy(func(p *Cycle) { p.K = 0 }), "k"},
		{cy(func(p *Cycle) { p.PrefixBlocks = 0 }), "prefix-blocks"},
		{cy(func(p *Cycle) { p.Rounds = -1 }), "rounds"},
		{cy(func(p *Cycle) { p.OutputLen = -1 }), "output-len"},
		{cy(func(p *Cycle) { p.BlockSize = 0 }), "block-size"},
		{cy(func(p *Cycle) { p.K, p.PrefixBlocks, p.Rounds = 1<<31, 4, 1 }), "prefix-blocks"},
	} {
		err := c.g.Validate()
		var pe *ParamError
		switch {
		case c.flag == "" && err != nil:
			t.Errorf("%s: unexpected %v", c.g.Canonical(), err)
		case c.flag != "" && (!errors.As(err, &pe) || pe.Flag != c.flag):
			t.Errorf("%s: error %v, want one naming --%s", c.g.Canonical(), err, c.flag)
		case c.flag != "" && !strings.HasPrefix(err.Error(), "--"+c.flag+": "):
			t.Errorf("error %q does not start with the flag", err)
		case c.flag != "":
			// Generate refuses too, before emitting anything.
			if gerr := c.g.Generate(func(*trace.Request) error { t.Fatal("emitted"); return nil }); !errors.As(gerr, &pe) {
				t.Errorf("%s: Generate returned %v", c.g.Canonical(), gerr)
			}
		}
	}
}

func TestParseInts(t *testing.T) {
	v, err := ParseInts("total-lens", "512, 1024,2048")
	if err != nil || len(v) != 3 || v[1] != 1024 {
		t.Fatalf("got %v, %v", v, err)
	}
	for _, bad := range []string{"", "1,,2", "1.5", "x"} {
		if _, err := ParseInts("turns", bad); err == nil || !strings.HasPrefix(err.Error(), "--turns: ") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

func TestDefaultsAndCanonical(t *testing.T) {
	want := map[string]string{
		"gsp":       "gsp --groups 128 --prompts-per-group 32 --prefix-ratio 0.5 --total-lens 512,1024,2048,4096,8192 --output-len 4 --order random --rate 12 --block-size 16 --seed 1",
		"multiturn": "multiturn --clients 128 --turns 2,4,6,8 --user-len 1024 --output-len 4 --rate 12 --think-s 0 --block-size 16 --seed 1",
		"longdoc":   "longdoc --docs 128 --doc-lens 1024,2048,4096,8192 --questions 16 --question-len 64 --output-len 4 --rate 12 --block-size 16 --seed 1",
		"cycle":     "cycle --k 16 --prefix-blocks 1 --rounds 17 --output-len 0 --block-size 1 --seed 1",
	}
	for _, name := range Names() {
		g, err := Default(name)
		if err != nil || g.Name() != name {
			t.Fatalf("%s: %v", name, err)
		}
		if g.Canonical() != want[name] {
			t.Errorf("%s canonical:\n got %s\nwant %s", name, g.Canonical(), want[name])
		}
	}
	if _, err := Default("sharegpt"); err == nil || !strings.Contains(err.Error(), "cycle, gsp, longdoc, multiturn") {
		t.Fatalf("unknown generator: %v", err)
	}
	p := DefaultGSP()
	p.Rate = math.Inf(1)
	if !strings.Contains(p.Canonical(), "--rate +Inf") {
		t.Fatalf("infinite rate spelled %q", p.Canonical())
	}
}

func TestBlocksExhausted(t *testing.T) {
	a := alloc{next: MaxBlocks - 2}
	if b, err := a.take(2, 0, nil); err != nil || b != MaxBlocks-2 {
		t.Fatalf("last two ids: %d, %v", b, err)
	}
	if _, err := a.take(1, 7, nil); !errors.Is(err, ErrBlocksExhausted) || !strings.Contains(err.Error(), "request 7") {
		t.Fatalf("past the last id: %v", err)
	}
	// Through the generators' own loops, starting near the end of the ids.
	p := DefaultGSP()
	s := sharedPrefix{groups: 2, perGroup: 2, shape: p.Shape, order: OrderGrouped, rate: 1, output: 1, bs: 16, seed: 1}
	n := 0
	err := s.run(&alloc{next: MaxBlocks - 40}, func(*trace.Request, int, int) error { n++; return nil })
	if !errors.Is(err, ErrBlocksExhausted) || n != 1 {
		t.Fatalf("gsp near the end: %v after %d requests", err, n)
	}
	// A wide allocator goes on past MaxBlocks while the ids in use fit in
	// the window, and refuses to rename a block still in use.
	w := alloc{next: MaxBlocks - 2}
	held := uint64(MaxBlocks - 2)
	oldest := func() (uint64, bool) { return held, true }
	if b, err := w.take(3, 0, oldest); err != nil || b != MaxBlocks-2 || dense(b+2) != 0 || w.Orig(0) != MaxBlocks {
		t.Fatalf("across the end: first %d, %v; dense %d, orig of 0 %d", b, err, dense(b+2), w.Orig(0))
	}
	if w.Orig(MaxBlocks-1) != MaxBlocks-1 {
		t.Fatalf("orig of the last dense id %d", w.Orig(MaxBlocks-1))
	}
	if _, err := w.take(MaxBlocks, 9, oldest); !errors.Is(err, ErrBlocksExhausted) || !strings.Contains(err.Error(), "still in use") {
		t.Fatalf("renaming a block in use: %v", err)
	}
	held = MaxBlocks + 1
	if _, err := w.take(MaxBlocks-1, 9, oldest); err != nil {
		t.Fatalf("once the old blocks are let go: %v", err)
	}
}

// TestMultiturnPastUint32: a multiturn trace whose block numbers pass
// 2^32-1 is written with its 64-bit ids and reads back exactly as the same
// trace numbered from 0 (a reader numbers blocks by first appearance), so
// a 100-million-request trace streams with nothing but the conversations
// in progress held.
func TestMultiturnPastUint32(t *testing.T) {
	m := Multiturn{Clients: 40, Turns: []int{3, 5}, UserLen: 40, OutputLen: 3, Rate: 50, BlockSize: 16, Seed: 4}
	write := func(a *alloc) []byte {
		var buf bytes.Buffer
		w, err := trace.NewNativeWriter(&buf, m.BlockSize, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := m.run(a, func(r *trace.Request) error { return w.Write(r, a) }); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	from0, late := write(new(alloc)), write(&alloc{next: MaxBlocks - 50})
	if !bytes.Contains(late, []byte("4294967296")) { // 2^32: dense id 1 after the wrap
		t.Fatal("the late trace has no id past 2^32")
	}
	a, err := trace.LoadBytes("from0", from0, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := trace.LoadBytes("late", late, trace.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Requests) != len(b.Requests) || a.Blocks.Len() != b.Blocks.Len() {
		t.Fatalf("%d requests, %d blocks; late %d, %d", len(a.Requests), a.Blocks.Len(), len(b.Requests), b.Blocks.Len())
	}
	for i := range a.Requests {
		if !slices.Equal(a.Requests[i].Blocks, b.Requests[i].Blocks) {
			t.Fatalf("request %d: chain %v, late %v", i, a.Requests[i].Blocks, b.Requests[i].Blocks)
		}
	}
}
