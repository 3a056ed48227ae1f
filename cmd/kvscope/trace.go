package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

// readerFlags are the trace-reading flags every `kvscope trace` subcommand
// takes.
type readerFlags struct {
	format       string
	skipBad      bool
	sort         bool
	blockSize    int
	sessionStart string
	seed         uint64
}

func (f *readerFlags) add(cmd *cobra.Command, blockSizeHelp string) {
	f.addNoSeed(cmd, blockSizeHelp)
	cmd.Flags().Uint64Var(&f.seed, "seed", 1, "seed for --session-start poisson")
}

// addNoSeed adds the reader flags except --seed, for commands whose own
// --seed (the scenario seed) also seeds the reader: they set f.seed.
func (f *readerFlags) addNoSeed(cmd *cobra.Command, blockSizeHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "", "input format: auto-detected from the content, or one of "+formatList())
	fl.BoolVar(&f.skipBad, "skip-bad", false, "skip (and count) records that do not parse instead of stopping")
	fl.BoolVar(&f.sort, "sort", false, "hold the requests in memory and put them in arrival order (otherwise an out-of-order arrival is an error)")
	if blockSizeHelp != "" {
		fl.IntVar(&f.blockSize, "block-size", 0, blockSizeHelp)
	}
	fl.StringVar(&f.sessionStart, "session-start", "", "kv-cache-tester session starts: zero (default), poisson:rate=R or stagger:s=S")
}

func formatList() string {
	var names []string
	for _, f := range trace.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// formatHelp lists every trace format with its Doc, for `kvscope trace
// --help` (laid out as componentsHelp lists routers and policies).
func formatHelp() string {
	fs := trace.FormatInfos()
	w := 0
	for _, f := range fs {
		w = max(w, len(f.Name))
	}
	var b strings.Builder
	b.WriteString("Formats:")
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %-*s  %s", w, f.Name, f.Doc)
	}
	return b.String()
}

// freshIDs says whether a format gives every request fresh block ids, so
// that --block-size is the size to read it with rather than a split.
func freshIDs(f trace.Format) bool {
	info, ok := trace.LookupFormat(f)
	return ok && info.FreshIDs
}

func (f *readerFlags) options() (trace.ReadOptions, error) {
	format, err := trace.ParseFormat(f.format)
	if err != nil {
		return trace.ReadOptions{}, usageError{err}
	}
	if f.blockSize < 0 {
		return trace.ReadOptions{}, usagef("--block-size %d: must be positive", f.blockSize)
	}
	if f.sessionStart != "" {
		if err := trace.ParseSessionStart(f.sessionStart); err != nil {
			return trace.ReadOptions{}, usageError{err}
		}
	}
	return trace.ReadOptions{Format: format, SkipBad: f.skipBad, Sort: f.sort, BlockSize: f.blockSize,
		SessionStart: f.sessionStart, Seed: f.seed}, nil
}

func newTraceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Inspect and convert request traces",
		Long: "Read request traces (formats: " + formatList() + "; gzip, zstd and xz are\n" +
			"decompressed transparently; FILE - is standard input) and print statistics, convert\n" +
			"them, or cut them. A bad record stops the read with FILE:LINE: field: reason unless\n" +
			"--skip-bad, which skips and counts it.\n\n" + formatHelp(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("trace: name a subcommand (stats, convert, head)")
		},
	}
	cmd.AddCommand(newTraceStatsCmd(), newTraceConvertCmd(), newTraceHeadCmd())
	return cmd
}

func newTraceStatsCmd() *cobra.Command {
	var rf readerFlags
	var asJSON bool
	var memEvery int
	cmd := &cobra.Command{
		Use:   "stats FILE",
		Short: "Print a trace's statistics (streams: holds no requests)",
		Long: "Print requests, duration, mean and peak arrival rate (1 s and 60 s bins), token totals\n" +
			"and percentiles (nearest rank), unique blocks, sessions, the infinite-cache block and token\n" +
			"hit ratios in arrival order, the longest and deepest shared prefix, and a histogram of how\n" +
			"many requests share each block.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := rf.options()
			if err != nil {
				return err
			}
			p := newPrinter(cmd)
			defer p.Clear()
			s, err := openTrace(cmd, p, args[0], opt)
			if err != nil {
				return err
			}
			defer s.Close()
			probe := trace.StatsProbe{}
			var peak uint64
			if memEvery > 0 {
				probe = trace.StatsProbe{Every: memEvery, Func: func(n, blocks int) {
					p.Clear()
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
					fmt.Fprintf(cmd.ErrOrStderr(), "mem: requests=%d unique_blocks=%d heap_alloc=%d limit=%d\n",
						n, blocks, ms.HeapAlloc, 64*blocks+16*n)
				}}
			}
			st, err := trace.ComputeStatsProbe(s, probe)
			p.Clear()
			if err != nil {
				return err
			}
			if memEvery > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "mem: peak heap_alloc=%d limit=%d\n", peak, 64*st.UniqueBlocks+16*st.Requests)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := json.MarshalIndent(st, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", b)
				return err
			}
			_, err = io.WriteString(out, st.String())
			return err
		},
	}
	rf.add(cmd, "block size of formats that do not record one (azure: default 16; mooncake 512; bailian 16)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&memEvery, "mem-profile-every", 0, "every N requests, GC and print HeapAlloc to stderr (benchmarks)")
	cmd.Flags().MarkHidden("mem-profile-every")
	addOutputFlags(cmd, true)
	return cmd
}

func newTraceConvertCmd() *cobra.Command {
	var rf readerFlags
	var to, out string
	cmd := &cobra.Command{
		Use:   "convert FILE --to " + writerList("|") + " -o OUT",
		Short: "Convert a trace to kvscope's native format or to Mooncake JSONL",
		Long: "Convert a trace. --block-size N splits every block into pages of N tokens with derived ids\n" +
			"(the trace's block size must be a multiple of N); for Azure input, which has no block ids,\n" +
			"it is the block size fresh ids are given in (default 16, or Mooncake's 512 with --to\n" +
			"mooncake). Mooncake files do not record their block size and are read as 512-token\n" +
			"blocks: another size is written with a note saying how to read it back. OUT is written\n" +
			"atomically; - is standard output.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			toInfo, ok := writerFormat(to)
			if !ok {
				return usagef("--to %q: want %s", to, writerList(" or "))
			}
			if out == "" {
				return usagef("convert: -o OUT is required")
			}
			opt, err := rf.options()
			if err != nil {
				return err
			}
			split := opt.BlockSize
			opt.BlockSize = 0
			// Input without prefix data (Azure) gets fresh ids in blocks of
			// --block-size; for output in a format that records no block
			// size (Mooncake), by default in the size its readers assume
			// (Mooncake's 512), so the file reads back as any such file does.
			freshSize := cmp.Or(split, toInfo.BlockSize)
			if freshIDs(opt.Format) {
				opt.BlockSize, split = freshSize, 0
			}
			opt.KeepIDs = true
			p := outPrinter(cmd, out)
			defer p.Clear()
			s, err := openTrace(cmd, p, args[0], opt)
			if err != nil {
				return err
			}
			defer s.Close()
			if f := s.Info().Format; freshIDs(f) && opt.BlockSize != freshSize {
				// Detected (not forced) Azure: reopen with the block size.
				if args[0] == "-" {
					return usagef("%s input on standard input: give --format %s", f, f)
				}
				s.Close()
				opt.BlockSize, split = freshSize, 0
				if s, err = openTrace(cmd, p, args[0], opt); err != nil {
					return err
				}
				defer s.Close()
			}
			n, err := writeTrace(out, toInfo, s, split, -1)
			if err != nil {
				return err
			}
			p.Wrote(out, progress.Count(int64(n))+" requests", to)
			// Mooncake files do not record their block size and are read
			// as 512-token blocks: say how to read other sizes back.
			bs := s.Info().BlockSize
			if split != 0 {
				bs = split
			}
			if toInfo.BlockSize != 0 && bs != toInfo.BlockSize {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %s files do not record their block size (readers assume %d): read %s back with --block-size %d\n", to, toInfo.BlockSize, out, bs)
			}
			return reportSkipped(cmd, s)
		},
	}
	rf.add(cmd, "split blocks into pages of N tokens (azure input: the block size to read with)")
	cmd.Flags().StringVar(&to, "to", "", "output format: "+writerList(" or "))
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (- for standard output)")
	addOutputFlags(cmd, true)
	return cmd
}

func newTraceHeadCmd() *cobra.Command {
	var rf readerFlags
	var n int
	var out string
	cmd := &cobra.Command{
		Use:   "head FILE -n N -o OUT",
		Short: "Write the first N requests (in arrival order) as a native trace",
		Long: "Write the first N requests, in arrival order, as a native trace, whatever the input\n" +
			"format. Parent links to requests that are not among the N are dropped.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 {
				return usagef("-n %d: must be at least 1", n)
			}
			if out == "" {
				return usagef("head: -o OUT is required")
			}
			opt, err := rf.options()
			if err != nil {
				return err
			}
			opt.KeepIDs = true
			p := outPrinter(cmd, out)
			defer p.Clear()
			s, err := openTrace(cmd, p, args[0], opt)
			if err != nil {
				return err
			}
			defer s.Close()
			native, _ := trace.LookupFormat(trace.FormatNative)
			w, err := writeTrace(out, native, s, 0, n)
			if err != nil {
				return err
			}
			p.Wrote(out, progress.Count(int64(w))+" requests", "native")
			return reportSkipped(cmd, s)
		},
	}
	rf.add(cmd, "block size of formats that do not record one (azure: default 16; mooncake 512; bailian 16)")
	cmd.Flags().IntVarP(&n, "n", "n", 1000, "number of requests")
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (- for standard output)")
	addOutputFlags(cmd, true)
	return cmd
}

func reportSkipped(cmd *cobra.Command, s *trace.Stream) error {
	if sk := s.Info().Skipped; sk.Count > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "skipped %d bad records\n", sk.Count)
		for _, m := range sk.First {
			fmt.Fprintf(cmd.ErrOrStderr(), "  %s\n", m)
		}
	}
	return nil
}

// writerFormat looks up an output format: a registered one with a writer.
func writerFormat(name string) (trace.FormatInfo, bool) {
	f, ok := trace.LookupFormat(trace.Format(name))
	return f, ok && f.NewWriter != nil
}

// writerList spells the output formats for help and errors: with sep
// " or ", "native or mooncake" (the last two joined by it, the others by
// commas); with any other sep, every name joined by it.
func writerList(sep string) string {
	var names []string
	for _, f := range trace.WriterFormats() {
		names = append(names, string(f))
	}
	if sep == " or " && len(names) > 1 {
		return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	}
	return strings.Join(names, sep)
}

// writeTrace copies up to limit requests (all if limit < 0) of s to path in
// format to.
func writeTrace(path string, to trace.FormatInfo, s *trace.Stream, split, limit int) (int, error) {
	var n int
	err := trace.WriteFileAtomic(path, func(w io.Writer) error {
		var sp *trace.Splitter
		bs := s.Info().BlockSize
		tab := s.Table()
		if split != 0 {
			var err error
			if sp, err = trace.NewSplitter(bs, split); err != nil {
				return usageError{err}
			}
			bs, tab = split, sp.Out
		}
		tw, err := to.NewWriter(w, bs, s.Info().Source)
		if err != nil {
			return err
		}
		// A cut trace must not point at turns it does not hold: head drops
		// parent links to requests it did not write.
		var written map[int64]bool
		if limit >= 0 {
			written = make(map[int64]bool)
		}
		var r trace.Request
		for limit < 0 || n < limit {
			err := s.NextInto(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if sp != nil {
				if err := sp.Split(&r); err != nil {
					return err
				}
			}
			if written != nil {
				if r.Parent != trace.NoParent && !written[r.Parent] {
					r.Parent = trace.NoParent
				}
				written[r.ID] = true
			}
			if err := tw.Write(&r, tab); err != nil {
				return err
			}
			n++
		}
		return tw.Flush()
	})
	return n, err
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: want %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}
