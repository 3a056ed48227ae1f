package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// listEntry is one component of a `kvscope list` table: its name, the
// one-line doc of its registry descriptor, tags (timed only, randomized,
// offline) and, under --long, the lines below it.
type listEntry struct {
	name, doc string
	tags      []string
	params    []param.Decl
	pdocs     map[string]string
	notes     []string
}

// newListCmd wires `kvscope list routers|evictions|profiles|formats`: every
// registered component with the doc its registry gives, so help and the
// explorer's picker are not the only places they are read.
func newListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List routers, eviction policies, latency models, GPU profiles and trace formats with their docs",
		Long: "list prints one line per registered component with its one-line doc; --long adds\n" +
			"its parameters (key=default, then the allowed range or choices) below it. A\n" +
			"component's parameters are written name:key=value,key=value in -s, --router and\n" +
			"--evict (see kvscope help scenario).",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usagef("list: name what to list (routers, evictions, latency, profiles, formats)")
		},
	}
	var long bool
	cmd.PersistentFlags().BoolVar(&long, "long", false, "show each component's parameters with defaults, ranges and docs")
	sub := func(use, short string, entries func() ([]listEntry, error)) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				es, err := entries()
				if err != nil {
					return err
				}
				writeList(c.OutOrStdout(), es, long)
				return nil
			},
		}
		return c
	}
	cmd.AddCommand(
		sub("routers", "Routers for -s and --router", routerEntries),
		sub("evictions", "Eviction policies for -s and --evict", evictionEntries),
		sub("profiles", "GPU × model profiles for --profile", profileEntries),
		sub("formats", "Trace formats for --format", formatEntries),
		sub("latency", "Latency models for --latency and latency= in -s", latencyEntries),
	)
	return cmd
}

func routerEntries() ([]listEntry, error) {
	var es []listEntry
	for _, n := range route.Names() {
		in, _ := route.Lookup(n)
		ps, err := route.Params(param.Spec{Name: n})
		if err != nil {
			return nil, err
		}
		e := listEntry{name: n, doc: in.Doc, params: ps, pdocs: in.ParamDocs}
		if in.NeedsTiming {
			e.tags = append(e.tags, "timed runs only")
		}
		if r, err := route.Randomized(param.Spec{Name: n}); err != nil {
			return nil, err
		} else if r {
			e.tags = append(e.tags, "randomized")
		}
		es = append(es, e)
	}
	return es, nil
}

func evictionEntries() ([]listEntry, error) {
	var es []listEntry
	for _, n := range evict.Names() {
		in, err := evict.Lookup(n)
		if err != nil {
			return nil, err
		}
		ps, err := evict.Params(param.Spec{Name: n})
		if err != nil {
			return nil, err
		}
		e := listEntry{name: n, doc: in.Doc, params: ps, pdocs: in.ParamDocs}
		if in.Offline {
			e.tags = append(e.tags, "offline: kvscope replay only")
		}
		if in.Randomized {
			e.tags = append(e.tags, "randomized")
		}
		es = append(es, e)
	}
	return es, nil
}

func latencyEntries() ([]listEntry, error) {
	var es []listEntry
	for _, n := range sim.LatencyNames() {
		in, err := sim.LookupLatency(n)
		if err != nil {
			return nil, err
		}
		ps, err := sim.LatencyParams(param.Spec{Name: n})
		if err != nil {
			return nil, err
		}
		e := listEntry{name: n, doc: in.Doc, params: ps, pdocs: in.ParamDocs}
		if in.NeedsProfile {
			e.tags = append(e.tags, "needs --profile")
		}
		es = append(es, e)
	}
	return es, nil
}

func profileEntries() ([]listEntry, error) {
	var es []listEntry
	for _, n := range gpuprofile.Names() {
		p, err := gpuprofile.Lookup(n)
		if err != nil {
			return nil, err
		}
		kind := "roofline"
		if p.Fit != nil {
			kind = "measured"
		}
		doc := fmt.Sprintf("%s × %s, TP %d: %d cache tokens, %s", p.GPU.Display, p.ModelName, p.TP, p.CacheTokens(), kind)
		e := listEntry{name: n, doc: doc}
		if p.Description != "" {
			e.notes = append(e.notes, p.Description)
		}
		e.notes = append(e.notes, fmt.Sprintf("KV %d bytes/token, memory fraction %s", p.KVBytesPerToken(), param.FormatFloat(p.MemFractionUsed())))
		if len(p.GPU.Unverified)+len(p.Model.Unverified) > 0 {
			e.notes = append(e.notes, "has unverified catalogue figures (kvscope profile show "+n+")")
		}
		es = append(es, e)
	}
	return es, nil
}

func formatEntries() ([]listEntry, error) {
	var es []listEntry
	for _, f := range trace.FormatInfos() {
		e := listEntry{name: string(f.Name), doc: f.Doc}
		if f.Sniff == nil {
			e.notes = append(e.notes, "not detected: give --format "+string(f.Name))
		} else {
			e.notes = append(e.notes, "detected from the content")
		}
		if f.ReadsDirectories() {
			e.notes = append(e.notes, "reads a directory")
		}
		if f.Archives {
			e.notes = append(e.notes, "reads a tar archive")
		}
		if f.FreshIDs {
			e.notes = append(e.notes, "no block ids of its own: one fresh id per --block-size tokens")
		}
		es = append(es, e)
	}
	return es, nil
}

// writeList prints the entries in aligned columns; long adds each one's
// parameters and notes, indented below it.
func writeList(w io.Writer, es []listEntry, long bool) {
	width := 0
	for _, e := range es {
		width = max(width, len(e.name))
	}
	for _, e := range es {
		doc := e.doc
		if len(e.tags) > 0 {
			doc += " [" + strings.Join(e.tags, ", ") + "]"
		}
		fmt.Fprintf(w, "%-*s  %s\n", width, e.name, doc)
		if !long {
			continue
		}
		pw, rw := 0, 0
		for _, p := range e.params {
			pw = max(pw, len(p.Key)+1+len(p.Default))
			rw = max(rw, len(p.Kind)+1+len(p.Range()))
		}
		for _, p := range e.params {
			line := fmt.Sprintf("    %-*s  %-*s  %s", pw, p.Key+"="+p.Default, rw, p.Kind+" "+p.Range(), e.pdocs[p.Key])
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
		if len(e.params) == 0 && (e.tags != nil || len(e.notes) == 0) {
			fmt.Fprintln(w, "    (no parameters)")
		}
		for _, n := range e.notes {
			fmt.Fprintf(w, "    %s\n", n)
		}
	}
}
