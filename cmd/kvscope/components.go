package main

import (
	"fmt"
	"strings"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/route"
)

// componentsHelp lists the routers and eviction policies a command
// accepts, each with the Doc of its registry descriptor, for --help. timed
// commands (run, compare, open) take every router and the policies that
// are not Offline; hit-only replay takes the routers that do not
// NeedsTiming and every policy.
func componentsHelp(timed bool) string {
	var b strings.Builder
	list := func(title string, names []string, doc func(string) (string, bool)) {
		var rows [][2]string
		w := 0
		for _, n := range names {
			if d, ok := doc(n); ok {
				rows = append(rows, [2]string{n, d})
				w = max(w, len(n))
			}
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(title + ":\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "  %-*s  %s\n", w, r[0], r[1])
		}
	}
	list("Routers", route.Names(), func(n string) (string, bool) {
		in, ok := route.Lookup(n)
		return in.Doc, ok && (timed || !in.NeedsTiming)
	})
	list("Eviction policies", evict.Names(), func(n string) (string, bool) {
		in, err := evict.Lookup(n)
		return in.Doc, err == nil && (!timed || !in.Offline)
	})
	return strings.TrimSuffix(b.String(), "\n")
}

// withComponents appends componentsHelp to a command's long help.
func withComponents(long string, timed bool) string {
	return long + "\n\n" + componentsHelp(timed)
}
