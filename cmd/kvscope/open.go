package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/live/liverun"
	"github.com/kvscope/kvscope/replay/scenario"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/tui"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newOpenCmd() *cobra.Command {
	var (
		rf     readerFlags
		sf     scenarioFlags
		export string
		theme  string
		lf     openLiveFlags
		stream bool
		keepIn string
	)
	cmd := &cobra.Command{
		Use:   "open TRACE [-s SCENARIO ...]",
		Short: "Open a trace in the terminal explorer: scrub the replay, compare scenarios, ask what-if",
		Long: "open loads TRACE and replays it in the background under each -s scenario (1 to 4;\n" +
			"see kvscope help scenario; keys a scenario leaves out come from the flags). Without -s it compares\n" +
			"cache_aware:preset=sglang-0.4.6+lru and lbgr+rlt. The explorer shows trace statistics, a\n" +
			"timeline to scrub, every worker's cache and queue at the cursor, the scenarios side by\n" +
			"side, competitive ratios against their bounds and the request at the cursor. Press ? for\n" +
			"keys, a/e/x to add, edit or remove a scenario, w to write the comparison report. With\n" +
			"--attach, live workers replay the trace too and show beside the model. With --stream,\n" +
			"the trace is not held: each scenario reads it anew and spills its run to disk, and the\n" +
			"panes read the runs back (for traces larger than memory; no competitive ratios or curve;\n" +
			"w writes compare --stream's report). Standard output must be a terminal.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Without -s, --router or --evict: the default comparison.
			if len(sf.specs) == 0 && !changed(cmd.Flags(), "router", "evict") {
				sf.specs = append([]string(nil), tui.DefaultSpecs...)
			}
			scs, err := sf.scenarios(cmd)
			if err != nil {
				return err
			}
			if len(scs) > tui.MaxScenarios {
				return usagef("open: %d scenarios: the explorer compares at most %d", len(scs), tui.MaxScenarios)
			}
			base, err := sf.base(cmd)
			if err != nil {
				return err
			}
			specs := sf.specs
			if len(specs) == 0 {
				specs = []string{sf.router + "+" + sf.evict}
			}
			entries, err := tui.ParseEntries(specs, base)
			if err != nil {
				return usageError{err}
			}
			if err := lf.check(); err != nil {
				return err
			}
			if stream || keepIn != "" {
				if args[0] == "-" {
					return usagef("open --stream: each scenario reads the trace anew, so it must be a file, not standard input")
				}
				if fi, err := os.Stat(args[0]); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
					// A named pipe or a device gives its content once.
					return usagef("open --stream: %s is not a regular file (each scenario reads the trace anew)", args[0])
				}
				if lf.attach != "" {
					return usagef("open --stream: --attach needs the trace in memory")
				}
			}
			if keepIn != "" {
				if err := checkSpillDir(keepIn); err != nil {
					return err
				}
			}
			if _, err := analysis.FormatOf(export); err != nil {
				return usagef("--export: %v", err)
			}
			var dark *bool
			switch theme {
			case "auto":
			case "dark", "light":
				d := theme == "dark"
				dark = &d
			default:
				return usagef("--theme %q: want auto, dark or light", theme)
			}
			opt, err := rf.options()
			if err != nil {
				return err
			}
			opt.Seed = sf.seed
			if !isTerminal(cmd.OutOrStdout()) {
				return fmt.Errorf("open: standard output is not a terminal; the explorer needs one (kvscope run and kvscope trace stats print text)")
			}
			liveRun, err := lf.build(entries[0].Scenario)
			if err != nil {
				return err
			}
			// The explorer shows its first frame at once and loads the
			// trace behind a loading frame (bytes read, rate).
			path := args[0]
			if _, err := os.Stat(path); err != nil {
				return err // at once, not after the loading frame
			}
			if stream || keepIn != "" {
				sc, err := streamConfig(path, opt, keepIn)
				if err != nil {
					return err
				}
				if !sc.Keep {
					// The explorer removes it as it closes; this covers
					// an explorer that never opened.
					defer os.RemoveAll(sc.Dir)
				}
				cfg := tui.Config{
					Stream: sc, Scenarios: entries, Base: base, ExportPath: export, Dark: dark,
					Command: openCommandLine(cmd, args),
				}
				return tui.Run(cmd.Context(), cfg, cmd.InOrStdin(), cmd.OutOrStdout())
			}
			load := func(_ context.Context, progress func(read, total int64)) (*trace.Trace, error) {
				return trace.LoadWith(path, opt, counting(progress))
			}
			cfg := tui.Config{
				Load: load, LoadName: filepath.Base(path),
				Scenarios: entries, Base: base, ExportPath: export, Dark: dark,
				Exporter: tui.ReportExporter{Version: version},
				Command:  openCommandLine(cmd, args),
				Live:     liveRun,
			}
			return tui.Run(cmd.Context(), cfg, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	rf.addNoSeed(cmd, "tokens per block for traces without prefix data (Azure; default 16)")
	sf.add(cmd, true, "round_robin")
	cmd.Flags().StringVar(&export, "export", "kvscope-report.md", "report file the w key writes (.md, .html, .json or .csv)")
	cmd.Flags().StringVar(&theme, "theme", "auto", "colors: auto (ask the terminal), dark or light; NO_COLOR turns colors off")
	lf.add(cmd)
	cmd.Flags().BoolVar(&stream, "stream", false, "do not hold the trace: each scenario streams it and spills its run to disk, and the panes read it back (traces larger than memory; no ratios or curve; w writes compare --stream's report)")
	cmd.Flags().StringVar(&keepIn, "spill-dir", "", "with --stream (implied): keep the scenarios' spilled runs in this directory (new or empty), one per replay (kvscope inspect reads them); default a temporary directory removed at exit")
	return cmd
}

// checkSpillDir refuses a --spill-dir that holds anything already: the
// runs go to DIR/A-0, B-0, … (one per replay), and a scenario whose
// directory holds an earlier session's run would fail on it.
func checkSpillDir(dir string) error {
	es, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("open --spill-dir: %w", err)
	case len(es) > 0:
		n := fmt.Sprintf("%d entries", len(es))
		if len(es) == 1 {
			n = "1 entry"
		}
		return fmt.Errorf("open --spill-dir %s: holds %s (%s…): the runs go to %s, one per replay; name a new or empty directory",
			dir, n, es[0].Name(), filepath.Join(dir, "A-0"))
	}
	return nil
}

// streamConfig is the explorer's streamed mode over the trace at path:
// runs go to keep (kept) or a new temporary directory (removed at exit).
//
// Each scenario reads the file anew, so a file that changes between two
// reads (a generator still writing it, a new trace under the same name)
// would have them compare different traces: a read refuses a file whose
// size or modification time is not what it was when the explorer opened.
func streamConfig(path string, opt trace.ReadOptions, keep string) (*tui.StreamConfig, error) {
	was, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	sc := &tui.StreamConfig{
		Name: filepath.Base(path),
		Open: func(keepIDs bool, progress func(read, total int64)) (*trace.Stream, error) {
			if now, err := os.Stat(path); err != nil {
				return nil, err
			} else if was.Mode().IsRegular() && (now.Size() != was.Size() || !now.ModTime().Equal(was.ModTime())) {
				return nil, fmt.Errorf("%s: changed since the explorer opened it (%d bytes, modified %s; now %d bytes, modified %s): the scenarios would compare different traces",
					path, was.Size(), was.ModTime().Format(time.RFC3339Nano), now.Size(), now.ModTime().Format(time.RFC3339Nano))
			}
			return trace.OpenWith(path, keepingIDs(opt, keepIDs), counting(progress))
		},
		Dir: keep, Keep: keep != "",
	}
	if keep == "" {
		dir, err := os.MkdirTemp("", "kvscope-stream-")
		if err != nil {
			return nil, err
		}
		sc.Dir = dir
	}
	return sc, nil
}

// openLiveFlags attach live workers to the explorer (`kvscope live`'s
// essentials): the first scenario's router, seed and time scale drive them.
type openLiveFlags struct {
	attach, api, model, keyEnv, keyFile string
	words                               bool
	concurrency, limit                  int
	tls                                 tlsFlags
	timeouts                            liveTimeoutFlags
	cache                               liveCacheFlags
}

func (f *openLiveFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.attach, "attach", "", "also replay against live workers at these base URLs (comma-separated), routed by the first scenario's router")
	fl.StringVar(&f.api, "api", "openai", "with --attach: worker protocol, openai or sglang")
	fl.StringVar(&f.model, "model", "kvscope", "with --attach: model name sent with OpenAI requests")
	fl.BoolVar(&f.words, "words", false, "with --attach: send prompts as words (llm-d-inference-sim --force-dummy-tokenizer)")
	fl.IntVar(&f.concurrency, "concurrency", 16, "with --attach: requests in flight at most")
	fl.IntVar(&f.limit, "limit", 0, "with --attach: send only the first N requests (0 = all)")
	fl.StringVar(&f.keyEnv, "api-key-env", "", "with --attach: read the API key from this environment variable")
	fl.StringVar(&f.keyFile, "api-key-file", "", "with --attach: read the API key from this file")
	f.tls.add(fl, "with --attach: ")
	f.timeouts.add(fl, "with --attach: ")
	f.cache.add(fl, "with --attach: ", "live-cache-blocks")
}

// check validates the live flags before anything is loaded.
func (f *openLiveFlags) check() error {
	if f.attach == "" {
		return nil
	}
	a, err := liverun.ParseAPI(f.api)
	if err != nil {
		return usageError{err}
	}
	if f.words && a != live.OpenAI {
		return usagef("--words: only with --api openai")
	}
	for _, u := range strings.Split(f.attach, ",") {
		if _, err := live.ParseEndpoint(u); err != nil {
			return usageError{err}
		}
	}
	if f.concurrency < 1 || f.limit < 0 {
		return usagef("--concurrency must be ≥ 1 and --limit ≥ 0")
	}
	if err := f.timeouts.check(); err != nil {
		return err
	}
	return f.cache.check("live-cache-blocks")
}

// build returns the explorer's live hook, nil without --attach.
func (f *openLiveFlags) build(sc scenario.Scenario) (tui.LiveFunc, error) {
	if f.attach == "" {
		return nil, nil
	}
	a, _ := liverun.ParseAPI(f.api)
	var eps []live.Endpoint
	for _, u := range strings.Split(f.attach, ",") {
		ep, err := live.ParseEndpoint(u)
		if err != nil {
			return nil, usageError{err}
		}
		eps = append(eps, ep)
	}
	key, err := readKey(f.keyEnv, f.keyFile)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := f.tls.config(os.Stderr)
	if err != nil {
		return nil, err
	}
	limit := f.limit
	cfg := live.Config{
		Workers: eps, Router: sc.Router.String(), Seed: sc.Seed, TimeScale: sc.TimeScale, Concurrency: f.concurrency,
		Client: live.ClientConfig{API: a, Model: f.model, Words: f.words, Key: key, TLS: tlsCfg},
	}
	f.timeouts.apply(&cfg)
	f.cache.apply(&cfg)
	return func(ctx context.Context, tr *trace.Trace, updates chan<- live.Update) (*live.Result, error) {
		reqs := tr.Requests
		if limit > 0 && limit < len(reqs) {
			reqs = reqs[:limit]
		}
		cfg.Updates = updates
		return live.Run(ctx, tr, reqs, cfg)
	}, nil
}

// openCommandLine reproduces the invocation for reports: the trace, then
// every flag given, repeated -s values each on their own.
func openCommandLine(cmd *cobra.Command, args []string) string {
	parts := append([]string{"kvscope", "open"}, args...)
	return analysis.ShellQuote(append(parts, flagArgs(cmd, true)...))
}

// isTerminal reports whether w is a terminal. Anything but an *os.File
// (a test's buffer) is not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
