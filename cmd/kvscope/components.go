package main

import (
	"fmt"
	"strings"

	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/sim"
)

// componentsHelp lists the routers and eviction policies a command
// accepts, each with the Doc of its registry descriptor and its
// parameters' defaults (as its constructor reads them), then the latency
// models and where to find ranges and profiles, for --help. timed
// commands (run, compare, open) take every router and the policies that
// are not Offline; hit-only replay takes the routers that do not
// NeedsTiming and every policy.
func componentsHelp(timed bool) string {
	var b strings.Builder
	list := func(title string, names []string, doc func(string) (string, bool), params func(param.Spec) ([]param.Decl, error)) {
		var rows [][3]string
		w := 0
		for _, n := range names {
			d, ok := doc(n)
			if !ok {
				continue
			}
			ps, _ := params(param.Spec{Name: n})
			rows = append(rows, [3]string{n, d, defaults(ps)})
			w = max(w, len(n))
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(title + ":\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "  %-*s  %s\n", w, r[0], r[1])
			for _, l := range wrapParams(r[2], helpWidth-w-4) {
				fmt.Fprintf(&b, "  %-*s  %s\n", w, "", l)
			}
		}
	}
	list("Routers", route.Names(), func(n string) (string, bool) {
		in, ok := route.Lookup(n)
		return in.Doc, ok && (timed || !in.NeedsTiming)
	}, route.Params)
	list("Eviction policies", evict.Names(), func(n string) (string, bool) {
		in, err := evict.Lookup(n)
		return in.Doc, err == nil && (!timed || !in.Offline)
	}, evict.Params)
	if timed {
		list("Latency models (--latency)", sim.LatencyNames(), func(n string) (string, bool) {
			in, err := sim.LookupLatency(n)
			return in.Doc, err == nil
		}, sim.LatencyParams)
	}
	b.WriteString("\nParameters with their ranges: kvscope list routers --long, kvscope list evictions --long, kvscope list latency --long.\n" +
		"Profiles: kvscope list profiles; trace formats: kvscope list formats; grammar: kvscope help scenario.\n")
	return strings.TrimSuffix(b.String(), "\n")
}

// helpWidth is the width componentsHelp wraps parameter lines at.
const helpWidth = 100

// wrapParams splits "k=v,k=v,…" into lines of at most width columns
// (a longer pair gets a line of its own), the first starting with ':' as
// it follows the name in a spec and the rest with ','.
func wrapParams(kvs string, width int) []string {
	if kvs == "" {
		return nil
	}
	var lines []string
	line := ":"
	for i, kv := range strings.Split(kvs, ",") {
		if i > 0 {
			if len(line)+1+len(kv) > width {
				lines = append(lines, line+",")
				line = ""
			} else {
				line += ","
			}
		}
		line += kv
	}
	return append(lines, line)
}

// defaults spells a component's parameters with their defaults as a spec
// suffix would ("key=default,…"; an enum's choices as a|b, default first),
// or "" when it takes none.
func defaults(ps []param.Decl) string {
	var kv []string
	for _, p := range ps {
		v := p.Default
		if p.Kind == "enum" {
			v = strings.Join(append([]string{p.Default}, without(p.Choices, p.Default)...), "|")
		}
		kv = append(kv, p.Key+"="+v)
	}
	return strings.Join(kv, ",")
}

func without(s []string, x string) []string {
	var out []string
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// withComponents appends componentsHelp to a command's long help.
func withComponents(long string, timed bool) string {
	return long + "\n\n" + componentsHelp(timed)
}
