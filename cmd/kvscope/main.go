// Command kvscope is a terminal trace explorer and what-if analyzer for LLM
// serving clusters. This file only wires subcommands; each lives in its own
// file and calls into the packages that do the work.
//
// Exit status: 0 ok, 1 failure, 2 usage (a bad flag or argument), 130
// interrupted (Ctrl-C in kvscope live, after writing the report of what was
// sent; a second Ctrl-C stops at once).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is stamped by the release build (-ldflags "-X main.version=…");
// versionString adds the build info a source build carries.
var version = "dev"

// Exit codes (DESIGN: 0 ok, 1 failure, 2 usage, 130 interrupted). Only a
// usageError (or an error wrapping one) exits 2; see markUsageErrors.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// usageError marks errors caused by how kvscope was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// interruptedError marks a command stopped by Ctrl-C (SIGINT) after it
// wrote what it had done.
type interruptedError struct{ err error }

func (e interruptedError) Error() string { return e.err.Error() }
func (e interruptedError) Unwrap() error { return e.err }

// run executes kvscope with args and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return guard(stderr, func() int { return execute(args, stdin, stdout, stderr) })
}

// guard runs f and turns a panic that escaped every package's own recovery
// (sim.Simulate and the live driver recover theirs with the scenario and
// request named) into exit 1 and a message with the stack, instead of Go's
// own panic exit 2, which would read as a usage error.
func guard(stderr io.Writer, f func() int) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "kvscope: internal error (a bug: please report it with the command that caused it): %v\n%s", p, debug.Stack())
			code = exitFailure
		}
	}()
	return f()
}

// execute runs the command line and maps its error to an exit code.
func execute(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "kvscope:", err)
	if errors.As(err, new(interruptedError)) {
		return exitInterrupted
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kvscope [TRACE]",
		Short: "Trace explorer and what-if analyzer for LLM serving clusters",
		Long: "kvscope replays LLM request traces through modeled GPU workers with prefix KV caches\n" +
			"and compares eviction policies and routers: hit rates, TTFT, latency, load balance,\n" +
			"and competitive ratios against the offline optimum.\n\n" +
			"kvscope alone opens the explorer on an embedded sample trace, kvscope TRACE on TRACE\n" +
			"(as kvscope open TRACE); without a terminal both print the trace's statistics.\n\n" +
			"Exit status: 0 ok, 1 failure, 2 usage error, 130 interrupted (Ctrl-C in kvscope live,\n" +
			"after writing the report of what was sent).",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		Args:          rootArgs,
		RunE:          runDefault,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Explicit registry of subcommands: one file each.
	root.AddCommand(
		newVersionCmd(),
		newTraceCmd(),
		newGenCmd(),
		newReplayCmd(),
		newProfileCmd(),
		newRunCmd(),
		newInspectCmd(),
		newOpenCmd(),
		newCompareCmd(),
		newLiveCmd(),
		newCurveCmd(),
		newPlanCmd(),
		newSweepCmd(),
		newListCmd(),
		newValidateCmd(),
	)
	root.AddCommand(helpTopics()...)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	registerCompletions(root)
	markUsageErrors(root)
	return root
}

// markUsageErrors makes every usage error cobra reports a usageError, at
// its source: flag parsing goes through the flag error func, positional
// arguments through each command's Args validator, wrapped here. An error
// is classified by where it comes from, never by its text (a data error
// quoting a file name or a field value that happens to read "invalid
// argument" is still a failure, exit 1). kvscope declares no required
// flags or flag groups, cobra's only other plain usage errors.
func markUsageErrors(c *cobra.Command) {
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{flagSuggestion(c, err)} })
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				var ue usageError
				if errors.As(err, &ue) {
					return err
				}
				return usageError{commandSuggestion(cmd, a, err)}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kvscope's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "kvscope", versionString())
			return nil
		},
	}
}
