package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

// progressFlag is --progress: auto (stderr is a terminal), always or
// never; --progress alone is always.
type progressFlag struct{ m progress.Mode }

func (f *progressFlag) String() string { return f.m.String() }
func (f *progressFlag) Type() string   { return "when" }
func (f *progressFlag) Set(s string) error {
	m, err := progress.ParseMode(s)
	if err != nil {
		return err
	}
	f.m = m
	return nil
}

// addOutputFlags adds --quiet, and --progress where the command has long
// work to show, to a command that reads traces or writes files.
func addOutputFlags(cmd *cobra.Command, withProgress bool) {
	cmd.Flags().Bool("quiet", false, "print nothing on stderr but errors and notes: no progress line, no \"wrote FILE\" line")
	if withProgress {
		f := cmd.Flags().VarPF(&progressFlag{}, "progress", "", "progress line on stderr: auto (when stderr is a terminal), always or never")
		f.NoOptDefVal = "always"
		_ = cmd.RegisterFlagCompletionFunc("progress", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
	}
}

// newPrinter is the command's progress line and wrote lines on stderr, as
// its --quiet and --progress say.
func newPrinter(cmd *cobra.Command) *progress.Printer {
	quiet, _ := cmd.Flags().GetBool("quiet")
	mode := progress.Never
	if f := cmd.Flags().Lookup("progress"); f != nil {
		if pf, ok := f.Value.(*progressFlag); ok {
			mode = pf.m
		}
	}
	return progress.New(cmd.ErrOrStderr(), mode, quiet)
}

// outPrinter is newPrinter for a command writing its output to out: to
// standard output ("-" or ""), often the same terminal as stderr, it draws
// no progress line, which would tear through the data.
func outPrinter(cmd *cobra.Command, out string) *progress.Printer {
	if out == "" || out == "-" {
		quiet, _ := cmd.Flags().GetBool("quiet")
		return progress.New(cmd.ErrOrStderr(), progress.Never, quiet)
	}
	return newPrinter(cmd)
}

// readProgress returns the callback a progress.Reader calls: "reading
// NAME: 12 MB of 45 MB (27%) · 8.1 MB/s" (without a total on standard
// input).
func readProgress(p *progress.Printer, path string) func(n, total int64) {
	name, start := filepath.Base(path), time.Now()
	return func(n, total int64) {
		update := p.Update
		if total > 0 && n >= total {
			update = p.Final
		}
		update(func() string {
			s := "reading " + name + ": " + progress.Size(n)
			if total > 0 {
				s += " of " + progress.Size(total) + progress.Percent(n, total)
			}
			if r := progress.Rate(float64(n), time.Since(start), "B"); r != "" {
				s += " · " + r
			}
			return s
		})
	}
}

// countProgress starts a step of counted work and returns its progress
// callback: "VERB: 12,288 of 40,000 UNIT (30%) · 5,120 UNIT/s". The step's
// first line shows at once ("VERB: 0 of TOTAL UNIT", or "VERB…" when the
// total is not known yet), so the line never still says the previous step
// (reading, at 100%) while this one works towards its first callback.
func countProgress(p *progress.Printer, verb, unit string, total int) func(done, total int) {
	start := time.Now()
	p.Final(func() string {
		if total > 0 {
			return fmt.Sprintf("%s: 0 of %s %s", verb, progress.Count(int64(total)), unit)
		}
		return verb + "…"
	})
	return func(done, total int) {
		update := p.Update
		if done >= total {
			update = p.Final
		}
		update(func() string {
			s := fmt.Sprintf("%s: %s of %s %s%s", verb, progress.Count(int64(done)), progress.Count(int64(total)), unit,
				progress.Percent(int64(done), int64(total)))
			if r := progress.Rate(float64(done), time.Since(start), unit); r != "" {
				s += " · " + r
			}
			return s
		})
	}
}

// counting wraps a trace file's reader for OpenWith/LoadWith: the bytes
// read, compressed as on disk, against the file's size.
func counting(on func(n, total int64)) func(io.Reader, int64) io.Reader {
	return func(r io.Reader, size int64) io.Reader { return progress.NewReader(r, size, on) }
}

// keepingIDs is opt keeping the trace's own block ids where a streamed run
// needs them: for a router that hashes them (route.TraceIDs: only
// consistent_hash; the others spare the table 8 bytes per block id), and
// under --skip-bad, whose skipped parent conflicts name them (without them,
// a scan of the table).
func keepingIDs(opt trace.ReadOptions, routerHashesIDs bool) trace.ReadOptions {
	opt.KeepIDs = routerHashesIDs || opt.SkipBad
	return opt
}

// openTrace opens FILE, or standard input for "-", counting the bytes read
// on p's progress line.
func openTrace(cmd *cobra.Command, p *progress.Printer, path string, opt trace.ReadOptions) (*trace.Stream, error) {
	on := readProgress(p, path)
	if path == "-" {
		in := unblockOnCancel(cmd.Context(), cmd.InOrStdin())
		return trace.OpenReader("-", progress.NewReader(in, 0, on), opt)
	}
	return trace.OpenWith(path, opt, counting(on))
}

// unblockOnCancel returns in read through a pipe that fails with ctx's
// error once ctx is done, so Ctrl-C stops a command blocked waiting for
// more of standard input (a pipe from a generator): Go cannot interrupt a
// blocking read of it. The goroutine copying from in stays blocked until
// the process exits, which it is about to. A context that is never done
// gets in itself.
func unblockOnCancel(ctx context.Context, in io.Reader) io.Reader {
	if ctx == nil || ctx.Done() == nil {
		return in
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, in)
		pw.CloseWithError(err)
	}()
	context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	return pr
}

// loadTrace loads the whole trace at path, or standard input for "-" (as
// openTrace opens it for the streaming commands), counting the bytes read
// on p's progress line.
func loadTrace(cmd *cobra.Command, p *progress.Printer, path string, opt trace.ReadOptions) (*trace.Trace, error) {
	on := readProgress(p, path)
	if path != "-" {
		return trace.LoadWith(path, opt, counting(on))
	}
	data, err := io.ReadAll(progress.NewReader(unblockOnCancel(cmd.Context(), cmd.InOrStdin()), 0, on))
	if err != nil {
		return nil, fmt.Errorf("-: reading standard input: %w", err)
	}
	return trace.LoadBytes("-", data, opt)
}
