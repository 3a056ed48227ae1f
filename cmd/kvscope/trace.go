package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY scaffold: replaced by the real subcommand.
func newTraceCmd() *cobra.Command {
	return &cobra.Command{Use: "trace", Short: "(in progress)", RunE: func(*cobra.Command, []string) error { return errors.New("trace: not built yet") }}
}
