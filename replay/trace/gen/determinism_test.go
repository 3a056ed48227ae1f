package gen

import (
	"testing"
)

// TestDeterminism: the same parameters give the same requests; another seed
// gives others (cycle draws nothing). The pinned digests catch any change
// to what a seed produces (the random streams, the draws, the layout of
// ids): changing one is a format change and needs a note in the package
// doc, not just a new digest.
func TestDeterminism(t *testing.T) {
	small := map[string]Generator{}
	{
		p := DefaultGSP()
		p.Groups, p.PromptsPerGroup = 10, 6
		small["gsp"] = &p
		m := DefaultMultiturn()
		m.Clients, m.ThinkS = 12, 0.7
		small["multiturn"] = &m
		l := DefaultLongdoc()
		l.Docs, l.Questions = 9, 5
		small["longdoc"] = &l
		c := DefaultCycle()
		small["cycle"] = &c
	}
	pinned := map[string]string{
		"gsp":       "9125cca67f65d2bf",
		"multiturn": "6445bf40ff772ce0",
		"longdoc":   "c6c8529a0e28e520",
		"cycle":     "e360e9ff1bd843fb",
	}
	for _, name := range Names() {
		g := small[name]
		a, b := digest(collect(t, g)), digest(collect(t, g))
		if a != b {
			t.Errorf("%s: two runs differ: %s vs %s", name, a, b)
		}
		if a != pinned[name] {
			t.Errorf("%s: digest %s, pinned %s", name, a, pinned[name])
		}
		d, _ := Default(name)
		def1 := digest(collect(t, d))
		setSeed(d, 2)
		def2 := digest(collect(t, d))
		if (def1 == def2) != (name == "cycle") {
			t.Errorf("%s: seeds 1 and 2 give digests %s and %s", name, def1, def2)
		}
	}
}

func setSeed(g Generator, seed uint64) {
	switch p := g.(type) {
	case *GSP:
		p.Seed = seed
	case *Multiturn:
		p.Seed = seed
	case *Longdoc:
		p.Seed = seed
	case *Cycle:
		p.Seed = seed
	}
}
