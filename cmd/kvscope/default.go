package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
	"github.com/kvscope/kvscope/tui"
	"github.com/spf13/cobra"
)

// rootArgs accepts `kvscope` and `kvscope FILE`. An argument that names
// no file is a misspelt subcommand more often than a missing trace: it
// gets cobra's "unknown command" with its "did you mean" suggestions,
// exit 2.
func rootArgs(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return nil
	case len(args) > 1:
		return usagef("unknown command %q for %q (to open a trace: kvscope FILE, one file)", args[0], cmd.CommandPath())
	case args[0] == "-":
		return nil
	}
	if _, err := os.Stat(args[0]); err == nil {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set where cobra sets it
	}
	if sugg := cmd.SuggestionsFor(args[0]); len(sugg) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(sugg, "\n\t")
	} else {
		msg += " (and no file of that name: kvscope FILE opens a trace)"
	}
	return usageError{fmt.Errorf("%s", msg)}
}

// runDefault is `kvscope` with no arguments or one trace file (or - for
// standard input). On a terminal it opens the explorer with the two
// default scenarios, as `kvscope open FILE` does, on the file or the
// embedded Mooncake sample; otherwise it prints the trace's statistics,
// as `kvscope trace stats` prints them, and exits 0.
func runDefault(cmd *cobra.Command, args []string) error {
	out := cmd.OutOrStdout()
	if len(args) == 1 {
		if !isTerminal(out) {
			return printFileStats(cmd, args[0])
		}
		if args[0] == "-" {
			return usagef("kvscope -: the explorer reads its keys from standard input: give a file (kvscope trace stats - prints the statistics of standard input)")
		}
		open, _, err := cmd.Root().Find([]string{"open"})
		if err != nil || open.RunE == nil {
			return fmt.Errorf("kvscope %s: no open command", args[0]) // wiring
		}
		open.SetContext(cmd.Context())
		return open.RunE(open, args)
	}
	if !isTerminal(out) {
		return printSampleStats(out)
	}
	cfg, err := tui.SampleConfig()
	if err != nil {
		return err
	}
	cfg.Exporter = tui.ReportExporter{Version: version}
	return tui.Run(cmd.Context(), cfg, cmd.InOrStdin(), out)
}

// printFileStats prints the statistics of the trace at path (- for
// standard input) with `kvscope trace stats`'s default reader options.
func printFileStats(cmd *cobra.Command, path string) error {
	p := progress.New(cmd.ErrOrStderr(), progress.Auto, false)
	defer p.Clear()
	s, err := openTrace(cmd, p, path, trace.ReadOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	return writeStats(cmd.OutOrStdout(), s)
}

// printSampleStats prints the embedded sample's statistics with
// trace.Stats.String, the text `kvscope trace stats` prints.
func printSampleStats(w io.Writer) error {
	data, err := samples.ReadFile(samples.Mooncake)
	if err != nil {
		return err
	}
	s, err := trace.OpenReader("sample:"+samples.Mooncake, bytes.NewReader(data), trace.ReadOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	return writeStats(w, s)
}

// writeStats computes and writes s's statistics as text.
func writeStats(w io.Writer, s *trace.Stream) error {
	st, err := trace.ComputeStats(s)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, st.String())
	return err
}
