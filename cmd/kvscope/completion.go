package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kvscope/kvscope/gpuprofile"
	"github.com/kvscope/kvscope/internal/suggest"
	"github.com/kvscope/kvscope/replay/evict"
	"github.com/kvscope/kvscope/replay/param"
	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
)

// registerCompletions gives every command's component flags value
// completion for cobra's `completion` scripts: -s/--scenario (router
// names, then '+' and policy names, then ';' keys), --router, --evict
// (names, then ':' parameter keys and enum or bool values), --latency
// (the same, from the latency registry), --profile (built-in names, or a
// file), an input --format, and an output --format or --to (the formats
// with a writer). The values come from the registries, as `kvscope list`
// shows them.
func registerCompletions(c *cobra.Command) {
	fns := map[string]cobra.CompletionFunc{
		"scenario": completeScenario,
		"router":   specCompleter(route.Names, routerParams),
		"evict":    specCompleter(evict.Names, evictParams),
		"latency":  specCompleter(sim.LatencyNames, latencyParams),
		"profile":  completeProfile,
		"gpu":      completeGPUs,
	}
	c.Flags().VisitAll(func(f *pflag.Flag) {
		fn := fns[f.Name]
		switch {
		case f.Name == "format" && strings.HasPrefix(f.Usage, "input format"):
			fn = completeFormat
		case (f.Name == "format" || f.Name == "to") && strings.HasPrefix(f.Usage, "output format"):
			fn = completeOutputFormat
		}
		if fn != nil {
			// Only fails for an unknown or already registered flag.
			_ = c.RegisterFlagCompletionFunc(f.Name, fn)
		}
	})
	for _, sub := range c.Commands() {
		registerCompletions(sub)
	}
}

// componentParams returns a component's declared parameters and their
// docs (nil for an unknown name).
type componentParams func(name string) ([]param.Decl, map[string]string)

func routerParams(name string) ([]param.Decl, map[string]string) {
	in, ok := route.Lookup(name)
	ps, err := route.Params(param.Spec{Name: name})
	if !ok || err != nil {
		return nil, nil
	}
	return ps, in.ParamDocs
}

func evictParams(name string) ([]param.Decl, map[string]string) {
	in, err := evict.Lookup(name)
	if err != nil {
		return nil, nil
	}
	ps, err := evict.Params(param.Spec{Name: name})
	if err != nil {
		return nil, nil
	}
	return ps, in.ParamDocs
}

func latencyParams(name string) ([]param.Decl, map[string]string) {
	in, err := sim.LookupLatency(name)
	if err != nil {
		return nil, nil
	}
	ps, err := sim.LatencyParams(param.Spec{Name: name})
	if err != nil {
		return nil, nil
	}
	return ps, in.ParamDocs
}

func withPrefix(prefix string, names []string, toComplete, suffix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(prefix+n, toComplete) {
			out = append(out, prefix+n+suffix)
		}
	}
	return out
}

// specCompleter completes one component spec, name[:key=value,...].
func specCompleter(names func() []string, params componentParams) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completeSpec("", toComplete, names, params, "")
	}
}

// completeSpec completes the component spec spec (written after prefix):
// its name (suffix appended to a name alone), then its parameter keys
// not yet given (each with its doc, which shells show beside it), then an
// enum's or bool's values.
func completeSpec(prefix, spec string, names func() []string, params componentParams, suffix string) ([]string, cobra.ShellCompDirective) {
	name, rest, hasParams := strings.Cut(spec, ":")
	if !hasParams {
		out := withPrefix(prefix, names(), prefix+spec, suffix)
		if suffix == "" {
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	decls, docs := params(name)
	if decls == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	kvs := strings.Split(rest, ",")
	last := kvs[len(kvs)-1]
	done := prefix + name + ":" + strings.Join(kvs[:len(kvs)-1], ",")
	if len(kvs) > 1 {
		done += ","
	}
	var out []string
	if key, _, hasValue := strings.Cut(last, "="); hasValue {
		for _, d := range decls {
			if d.Key != key {
				continue
			}
			switch d.Kind {
			case "enum":
				out = withPrefix(done+key+"=", d.Choices, prefix+spec, "")
			case "bool":
				out = withPrefix(done+key+"=", []string{"false", "true"}, prefix+spec, "")
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	given := map[string]bool{}
	for _, kv := range kvs[:len(kvs)-1] {
		k, _, _ := strings.Cut(kv, "=")
		given[k] = true
	}
	for _, d := range decls {
		if !given[d.Key] && strings.HasPrefix(done+d.Key, prefix+spec) {
			out = append(out, done+d.Key+"=\tdefault "+d.Default+", "+d.Range()+": "+docs[d.Key])
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeScenario completes -s: router[:params] '+', then
// evict[:params], then ';' scenario keys.
func completeScenario(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	head, keys, hasKeys := strings.Cut(toComplete, ";")
	if hasKeys {
		parts := strings.Split(keys, ";")
		if strings.Contains(parts[len(parts)-1], "=") {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		}
		done := head + ";" + strings.Join(parts[:len(parts)-1], ";")
		if len(parts) > 1 {
			done += ";"
		}
		return withPrefix(done, scenario.Keys, toComplete, "="), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	router, policy, hasPolicy := strings.Cut(head, "+")
	if !hasPolicy {
		return completeSpec("", router, route.Names, routerParams, "+")
	}
	out, dir := completeSpec(router+"+", policy, evict.Names, evictParams, "")
	return out, dir | cobra.ShellCompDirectiveNoSpace
}

// completeProfile offers the built-in profile names; with none matching,
// the shell completes a file name (a profile file works wherever a name
// does).
func completeProfile(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	out := withPrefix("", gpuprofile.Names(), toComplete, "")
	if len(out) == 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeGPUs completes a comma-separated list of catalogue GPUs (plan's
// --gpu): the last item, after the ones already given.
func completeGPUs(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	i := strings.LastIndexByte(toComplete, ',') + 1
	var names []string
	for _, g := range gpuprofile.GPUs() {
		names = append(names, g.Name+"\t"+g.Display)
	}
	return withPrefix(toComplete[:i], names, toComplete, ""), cobra.ShellCompDirectiveNoFileComp
}

func completeFormat(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var names []string
	for _, f := range trace.FormatInfos() {
		names = append(names, string(f.Name)+"\t"+f.Doc)
	}
	names = append(names, "auto\tdetect the format from the content")
	return withPrefix("", names, toComplete, ""), cobra.ShellCompDirectiveNoFileComp
}

// completeOutputFormat offers the formats kvscope writes (gen --format,
// trace convert --to).
func completeOutputFormat(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var names []string
	for _, n := range trace.WriterFormats() {
		f, _ := trace.LookupFormat(n)
		names = append(names, string(n)+"\t"+f.Doc)
	}
	return withPrefix("", names, toComplete, ""), cobra.ShellCompDirectiveNoFileComp
}

// flagSuggestion adds cobra's "Did you mean this?" with the nearest flags
// to an unknown-flag error, from
// the command's flags (its own and inherited) by edit distance; a long
// flag written with one dash (-cache-tokens) is pointed to its two-dash
// form. Other errors come back unchanged.
func flagSuggestion(c *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if !errors.As(err, &ne) {
		return err
	}
	var names []string
	c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	c.InheritedFlags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	slices.Sort(names)
	got := ne.GetSpecifiedName()
	if sh := ne.GetSpecifiedShortnames(); sh != "" {
		if slices.Contains(names, sh) {
			return fmt.Errorf("%w\n\nDid you mean this?\n\t--%s", err, sh)
		}
		return err
	}
	s := suggest.Names(got, names)
	if len(s) == 0 {
		return err
	}
	for i := range s {
		s[i] = "--" + s[i]
	}
	// cobra's own wording, as the root's rootArgs (default.go) spells it.
	return fmt.Errorf("%w\n\nDid you mean this?\n\t%s", err, strings.Join(s, "\n\t"))
}

// commandSuggestion adds cobra's "did you mean" (its edit distance,
// SuggestionsMinimumDistance) to the error of an argument a command with
// subcommands does not take, such as `kvscope list routres`.
func commandSuggestion(c *cobra.Command, args []string, err error) error {
	if len(args) == 0 || !c.HasAvailableSubCommands() {
		return err
	}
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's own default, set lazily by its Find
	}
	s := c.SuggestionsFor(args[0])
	if len(s) == 0 {
		return err
	}
	// cobra's own wording, as the root's rootArgs (default.go) spells it.
	return fmt.Errorf("%w\n\nDid you mean this?\n\t%s", err, strings.Join(s, "\n\t"))
}
