package main

import (
	"slices"
	"testing"

	"github.com/spf13/cobra"
)

// TestFlagArgs: the flags given come back in name order as --name=value,
// a bool as a bool, a repeated flag once per value, skipped names left out.
func TestFlagArgs(t *testing.T) {
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	cmd.Flags().Bool("vs-opt", false, "")
	cmd.Flags().Int("workers", 1, "")
	cmd.Flags().StringArrayP("scenario", "s", nil, "")
	cmd.Flags().String("output", "", "")
	cmd.Flags().String("unset", "", "")
	if err := cmd.ParseFlags([]string{"--workers", "8", "-s", "a+b", "--vs-opt", "-s", "c;d=1", "--output", "r.md"}); err != nil {
		t.Fatal(err)
	}
	if got, want := flagArgs(cmd, false, "output"), []string{"--scenario", "a+b", "--scenario", "c;d=1", "--vs-opt=true", "--workers", "8"}; !slices.Equal(got, want) {
		t.Fatalf("flagArgs(separate) = %q, want %q", got, want)
	}
	got := flagArgs(cmd, true, "output")
	want := []string{"--scenario=a+b", "--scenario=c;d=1", "--vs-opt=true", "--workers=8"}
	if !slices.Equal(got, want) {
		t.Fatalf("flagArgs(joined) = %q, want %q", got, want)
	}
	// Parsed back, both forms give no stray argument (a bool written
	// "--vs-opt true" would leave "true" behind).
	for _, joined := range []bool{false, true} {
		again := &cobra.Command{Use: "x"}
		again.Flags().Bool("vs-opt", false, "")
		again.Flags().Int("workers", 1, "")
		again.Flags().StringArrayP("scenario", "s", nil, "")
		args := flagArgs(cmd, joined, "output")
		if err := again.ParseFlags(args); err != nil || len(again.Flags().Args()) != 0 {
			t.Fatalf("parsing %q back: %v, args %q", args, err, again.Flags().Args())
		}
	}
}
