package gen

import (
	"slices"
	"testing"

	"github.com/kvscope/kvscope/replay/trace"
)

func TestLongdocDefaults(t *testing.T) {
	p := DefaultLongdoc()
	var reqs []trace.Request
	var docs [][2]int
	err := p.generate(func(r *trace.Request, d, q int) error {
		c := *r
		c.Blocks = slices.Clone(r.Blocks)
		reqs = append(reqs, c)
		docs = append(docs, [2]int{d, q})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, reqs, 16)
	if len(reqs) != 128*16 {
		t.Fatalf("requests = %d, want 2048", len(reqs))
	}
	// 32 documents of each length; every document's 15 later questions hit
	// the whole document (all lengths are multiples of 16).
	docTokens := 32 * (1024 + 2048 + 4096 + 8192)
	res := ideal(reqs, 16)
	if want := 16 * (docTokens + 128*64); res.tokens != want {
		t.Fatalf("input tokens %d, want %d", res.tokens, want)
	}
	if want := 15 * docTokens; res.hitTokens != want {
		t.Fatalf("hit tokens %d, want %d", res.hitTokens, want)
	}
	t.Logf("longdoc defaults: %d requests, %d input tokens, ideal token hit ratio %.6f", len(reqs), res.tokens, res.tokenRatio())
	type key struct{ d, q, end int }
	checkBijection(t, reqs, 16, func(k, end int) key {
		d, q := docs[k][0], docs[k][1]
		if doc, _ := p.Shape(d); end <= doc {
			return key{d, -1, end}
		}
		return key{d, q, end}
	})
	// The global shuffle spreads a document's questions: the first 128
	// requests touch many documents, not one.
	first := map[int]bool{}
	for _, dq := range docs[:128] {
		first[dq[0]] = true
	}
	if len(first) < 40 {
		t.Fatalf("the first 128 requests touch only %d documents", len(first))
	}
}

func TestLongdocUnaligned(t *testing.T) {
	p := Longdoc{Docs: 5, DocLens: []int{30, 7}, Questions: 4, QuestionLen: 3, OutputLen: 1, Rate: 5, BlockSize: 8, Seed: 9}
	reqs := collect(t, &p)
	checkWellFormed(t, reqs, 8)
	// Documents of 30 and 7 tokens: 3 and 0 shareable blocks of 8.
	want := 0
	for d := range 5 {
		doc, _ := p.Shape(d)
		want += 3 * (doc / 8 * 8)
	}
	if got := ideal(reqs, 8).hitTokens; got != want {
		t.Fatalf("hit tokens %d, want %d", got, want)
	}
}
