package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY scaffold: replaced by the real subcommand.
func newGenCmd() *cobra.Command {
	return &cobra.Command{Use: "gen", Short: "(in progress)", RunE: func(*cobra.Command, []string) error { return errors.New("gen: not built yet") }}
}
