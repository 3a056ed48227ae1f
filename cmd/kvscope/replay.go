package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY scaffold: replaced by the real subcommand.
func newReplayCmd() *cobra.Command {
	return &cobra.Command{Use: "replay", Short: "(in progress)", RunE: func(*cobra.Command, []string) error { return errors.New("replay: not built yet") }}
}
