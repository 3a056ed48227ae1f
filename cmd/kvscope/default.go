package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// runDefault is what `kvscope` with no arguments does. TEMPORARY scaffold.
func runDefault(cmd *cobra.Command) error { return errors.New("not built yet") }
