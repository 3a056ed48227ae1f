package main

import (
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagArgs returns the flags given on cmd's command line as arguments that
// reproduce them, in name order, one per value for a repeated flag: each
// as "--name=value" when joined, else as "--name", "value" — except a bool,
// always "--name=value" ("--vs-opt true" would read "true" as an
// argument). Flags named in skip are left out (the caller places them).
func flagArgs(cmd *cobra.Command, joined bool, skip ...string) []string {
	var out []string
	add := func(f *pflag.Flag, v string) {
		if joined || f.Value.Type() == "bool" {
			out = append(out, "--"+f.Name+"="+v)
			return
		}
		out = append(out, "--"+f.Name, v)
	}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if slices.Contains(skip, f.Name) {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				add(f, v)
			}
			return
		}
		add(f, f.Value.String())
	})
	return out
}
