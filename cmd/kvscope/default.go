package main

import (
	"bytes"
	"io"

	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/samples"
	"github.com/kvscope/kvscope/tui"
	"github.com/spf13/cobra"
)

// runDefault is `kvscope` with no arguments: the explorer on the embedded
// Mooncake sample with the two default scenarios when standard output is a
// terminal; otherwise the sample's statistics, as `kvscope trace stats`
// prints them.
func runDefault(cmd *cobra.Command) error {
	out := cmd.OutOrStdout()
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
	st, err := trace.ComputeStats(s)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, st.String())
	return err
}
