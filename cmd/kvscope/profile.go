package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY scaffold: replaced by the real subcommand.
func newProfileCmd() *cobra.Command {
	return &cobra.Command{Use: "profile", Short: "(in progress)", RunE: func(*cobra.Command, []string) error { return errors.New("profile: not built yet") }}
}
