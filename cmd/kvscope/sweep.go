package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/internal/atomicfile"
	"github.com/kvscope/kvscope/internal/kubejob"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

// jobIndexEnv is the variable the Kubernetes Job controller sets to a
// pod's completion index in an Indexed Job.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

// cellsName is the cells file's name in a results folder.
const cellsName = "cells.json"

func newSweepCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Cut a compare --sweep into cells, run them in shards on many machines, merge the report",
		Long: "A sweep is a set of independent cells (scenario × swept value × seed), the runs of a\n" +
			"`kvscope compare`. On one machine compare runs them on every core; for more:\n\n" +
			"  kvscope sweep plan TRACE <compare's flags> -o cells.json   the cells and their spec hash\n" +
			"  kvscope sweep run --cells cells.json --shard I/N          runs cells i with i mod N = I\n" +
			"  kvscope sweep merge DIR... -o report.md                    the report compare would write\n" +
			"  kvscope sweep manifest --image IMAGE --shards N            a Kubernetes Indexed Job running the shards\n\n" +
			"Each cell writes one result file (DIR/cell-NNNNNN.json) atomically; merge refuses missing\n" +
			"cells (listing their ids), corrupt files and results of another spec.",
	}
	cmd.AddCommand(newSweepPlanCmd(), newSweepRunCmd(), newSweepMergeCmd(), newSweepManifestCmd())
	return cmd
}

// sweepPlanFlags are sweep plan's flags: compare's, --records, --stream's
// and -o. The spec's arguments are these flags as given (less -o and
// --spill-dir, which are this machine's); run and merge parse them back
// into a fresh set to plan the same cells.
type sweepPlanFlags struct {
	cf      compareFlags
	records bool
	output  string
	stream  streamFlags
}

func newSweepPlanFlags(cmd *cobra.Command) *sweepPlanFlags {
	f := &sweepPlanFlags{}
	f.cf.add(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.records, "records", false, "keep every request's row in the cells (needed to merge into a .csv report)")
	fl.StringVarP(&f.output, "output", "o", "", "cells file to write (.json)")
	f.stream.add(cmd)
	return f
}

func newSweepPlanCmd() *cobra.Command {
	var f *sweepPlanFlags
	cmd := &cobra.Command{
		Use:   "plan TRACE -s SCENARIO ... --sweep KEY=A,B,C -o cells.json",
		Short: "Write a comparison's cells and the hash of its spec",
		Long: "plan takes compare's flags (kvscope help compare) and writes the comparison's cells: one\n" +
			"per distinct run (scenario at one swept value and one seed), with the spec they come from\n" +
			"(kvscope's version, the trace path, the SHA-256 and size of its content, the flags) and\n" +
			"its hash. The trace is read once here for the report's trace statistics, unless --stream:\n" +
			"then every cell reads the trace anew as it runs, and the merged report is compare\n" +
			"--stream's (no ratios or trace statistics).",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output == "" {
				return usagef("sweep plan: give the cells file with -o (cells.json)")
			}
			if args[0] == "-" {
				return usagef("sweep plan: the trace must be a file every shard can read, not standard input")
			}
			entries, sw, err := f.cf.setup(cmd)
			if err != nil {
				return err
			}
			if err := f.stream.check(cmd, args[0]); err != nil {
				return err
			}
			cp, err := analysis.PlanCompare(entries, analysis.CompareOptions{Seeds: f.cf.seeds, Sweep: sw, KeepRecords: f.records})
			if err != nil {
				return err
			}
			if err := probeWritableAs("cells", f.output); err != nil {
				return err
			}
			opt, err := f.cf.readOptions()
			if err != nil {
				return err
			}
			sum, size, err := analysis.TraceDigest(args[0])
			if err != nil {
				return err
			}
			c := &analysis.SweepCells{
				Spec: analysis.SweepSpec{
					Kind: analysis.CellKindCompare, KVScopeVersion: versionString(),
					Trace: args[0], TraceSHA256: sum, TraceBytes: size,
					Args: flagArgs(cmd, false, "output", "spill-dir"),
				},
				Cells: cp.Cells(),
			}
			p := newPrinter(cmd)
			defer p.Clear()
			if f.stream.on {
				// The cells read the trace; the merge takes its
				// description from them (the planned path kept).
				if c.Trace, err = streamInfo(args[0], opt); err != nil {
					return err
				}
			} else {
				tr, err := loadTrace(cmd, p, args[0], opt)
				p.Clear()
				if err != nil {
					return err
				}
				c.Trace, c.Stats = tr.Info, trace.StatsOf(tr)
			}
			c.SpecHash = c.Spec.Hash()
			if err := analysis.WriteSweepCells(f.output, c); err != nil {
				return fmt.Errorf("cells %s: %w", f.output, err)
			}
			p.Wrote(f.output)
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d cells, spec %s\n", f.output, len(c.Cells), c.SpecHash)
			return nil
		},
	}
	f = newSweepPlanFlags(cmd)
	addOutputFlags(cmd, true)
	return cmd
}

// sweepPlan is a cells file with the comparison re-planned from its spec.
type sweepPlan struct {
	path  string
	cells *analysis.SweepCells
	cp    *analysis.ComparePlan
	// flags is a fresh plan command holding the spec's flags.
	flags   *cobra.Command
	records bool
	opt     trace.ReadOptions
	stream  streamFlags
}

// loadSweepPlan reads a cells file, checks that this kvscope planned it
// and re-plans its cells from the spec, which must give the same cells.
func loadSweepPlan(path string) (*sweepPlan, error) {
	c, err := analysis.ReadSweepCells(path)
	if err != nil {
		return nil, err
	}
	if v := versionString(); c.Spec.KVScopeVersion != v {
		return nil, fmt.Errorf("%s: spec.kvscope_version: planned by kvscope %s, this is %s (plan, run and merge with one kvscope)", path, c.Spec.KVScopeVersion, v)
	}
	var f *sweepPlanFlags
	fresh := &cobra.Command{Use: "plan"}
	f = newSweepPlanFlags(fresh)
	if err := fresh.Flags().Parse(c.Spec.Args); err != nil {
		return nil, fmt.Errorf("%s: spec.args: %s", path, err)
	}
	// The flags' errors are this file's, not the command line's: %s
	// drops their usage class (exit 1, not 2).
	bad := func(err error) error {
		return fmt.Errorf("%s: spec.args: %s", path, err)
	}
	entries, sw, err := f.cf.setup(fresh)
	if err != nil {
		return nil, bad(err)
	}
	cp, err := analysis.PlanCompare(entries, analysis.CompareOptions{Seeds: f.cf.seeds, Sweep: sw, KeepRecords: f.records})
	if err != nil {
		return nil, bad(err)
	}
	if err := c.CheckPlan(path, cp.Cells()); err != nil {
		return nil, err
	}
	opt, err := f.cf.readOptions()
	if err != nil {
		return nil, bad(err)
	}
	sp := &sweepPlan{path: path, cells: c, cp: cp, flags: fresh, records: f.records, opt: opt, stream: f.stream}
	if f.stream.on {
		sp.cp.SetStream(nil, f.stream.options()) // run opens the trace where it is
	}
	return sp, nil
}

// parseShard reads --shard I/N, or /N with I from JOB_COMPLETION_INDEX.
func parseShard(s string, getenv func(string) string) (index, count int, err error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("--shard %q: want I/N (shard I of N, I from 0), or /N to read I from %s", s, jobIndexEnv)
	}
	count, err = strconv.Atoi(ns)
	if err != nil || count < 1 {
		return 0, 0, fmt.Errorf("--shard %q: N %q is not a positive number of shards", s, ns)
	}
	src := "--shard " + s
	if is == "" {
		is = getenv(jobIndexEnv)
		if is == "" {
			return 0, 0, fmt.Errorf("--shard %q: no index given and %s is not set (give --shard I/N)", s, jobIndexEnv)
		}
		src = jobIndexEnv + "=" + is
	}
	index, err = strconv.Atoi(is)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: index %q is not a number", src, is)
	}
	if index < 0 || index >= count {
		return 0, 0, fmt.Errorf("%s: index %d is out of range 0..%d for %d shards", src, index, count-1, count)
	}
	return index, count, nil
}

func newSweepRunCmd() *cobra.Command {
	var (
		cellsPath, shard, out, tracePath string
		spillDir                         string
		retries, parallel                int
	)
	cmd := &cobra.Command{
		Use:   "run --cells cells.json --shard I/N [--out DIR]",
		Short: "Run the cells of one shard and write one result file per cell",
		Long: "run runs the cells whose id i has i mod N = I (--shard I/N; --shard /N reads I from\n" +
			"JOB_COMPLETION_INDEX, as a pod of a Kubernetes Indexed Job does) on every core and writes\n" +
			"DIR/cell-NNNNNN.json for each, atomically, plus a copy of the cells file. A cell whose\n" +
			"result is already there is skipped (a retried shard resumes); a cell whose run fails runs\n" +
			"again up to --retries times, then its failure is written as its result (merge reports it\n" +
			"as compare does) and run exits 1. The trace must have the planned content (SHA-256).",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cellsPath == "" {
				return usagef("sweep run: give the cells file with --cells")
			}
			if shard == "" {
				return usagef("sweep run: give the shard with --shard I/N (or /N to read I from %s)", jobIndexEnv)
			}
			if retries < 0 {
				return usagef("--retries %d: must be at least 0", retries)
			}
			index, count, err := parseShard(shard, os.Getenv)
			if err != nil {
				return usageError{err}
			}
			sp, err := loadSweepPlan(cellsPath)
			if err != nil {
				return err
			}
			if spillDir != "" && !sp.stream.on {
				return usagef("sweep run: --spill-dir is for cells planned with --stream")
			}
			if out == "" {
				out = filepath.Dir(cellsPath)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if err := placeCells(cellsPath, out, sp.cells.SpecHash); err != nil {
				return err
			}
			var ids []int
			skipped := 0
			for id := index; id < len(sp.cells.Cells); id += count {
				if sp.cells.CellDone(out, id) {
					skipped++
					continue
				}
				ids = append(ids, id)
			}
			stdout := cmd.OutOrStdout()
			if len(ids) == 0 {
				fmt.Fprintf(stdout, "shard %d/%d: %d cells, all done already\n", index, count, skipped)
				return nil
			}
			if tracePath == "" {
				tracePath = sp.cells.Spec.Trace
			}
			sum, _, err := analysis.TraceDigest(tracePath)
			if err != nil {
				return err
			}
			if sum != sp.cells.Spec.TraceSHA256 {
				return fmt.Errorf("trace %s: content SHA-256 %s, but the cells were planned on %s (%s: spec.trace_sha256)", tracePath, sum, sp.cells.Spec.TraceSHA256, cellsPath)
			}
			var tr *trace.Trace
			if sp.stream.on {
				so := sp.stream.options()
				so.TempDir = spillDir
				if err := checkDir(spillDir); err != nil {
					return err
				}
				sp.cp.SetStream(sp.stream.open(tracePath, sp.opt, nil), so)
			} else {
				p := newPrinter(cmd)
				defer p.Clear()
				tr, err = loadTrace(cmd, p, tracePath, sp.opt)
				p.Clear()
				if err != nil {
					return err
				}
				// Same content, maybe another path: the runs see the planned one.
				tr.Info.Source = sp.cells.Trace.Source
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			failed := 0
			err = sp.cp.RunCells(ctx, tr, ids, parallel, retries, func(id, attempts int, r analysis.CellResult) error {
				if r.Error != "" {
					failed++
					fmt.Fprintf(cmd.ErrOrStderr(), "kvscope: cell %d failed after %d attempt(s): %s\n", id, attempts, r.Error)
				}
				return sp.cells.WriteCellResult(out, id, attempts, r)
			})
			if err != nil {
				if ctx.Err() != nil {
					return interruptedError{fmt.Errorf("sweep run: interrupted: the cells finished so far are written in %s; run the shard again to finish it", out)}
				}
				return err
			}
			fmt.Fprintf(stdout, "shard %d/%d: %d cells run, %d done already, %d failed; results in %s\n", index, count, len(ids), skipped, failed, out)
			if failed > 0 {
				return fmt.Errorf("sweep run: %d cell(s) failed (their failures are their results: merge reports them)", failed)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cellsPath, "cells", "", "cells file (kvscope sweep plan)")
	fl.StringVar(&shard, "shard", "", "I/N: run shard I of N (cells with id mod N = I); /N reads I from "+jobIndexEnv)
	fl.StringVar(&out, "out", "", "folder of the result files (default: the cells file's folder)")
	fl.StringVar(&tracePath, "trace", "", "trace path here (default: the planned path); its content must be the planned one")
	fl.IntVar(&retries, "retries", 1, "runs again of a cell whose run fails")
	fl.IntVar(&parallel, "parallel", 0, "cells at once (default: GOMAXPROCS)")
	fl.StringVar(&spillDir, "spill-dir", "", "cells planned with --stream: directory for the exact percentiles' values, the charted runs' states and --records' rows (default: the system's temporary directory)")
	addOutputFlags(cmd, true)
	return cmd
}

// placeCells copies the cells file into the results folder (merge finds
// it there), and refuses a folder holding another sweep's.
func placeCells(cellsPath, out, hash string) error {
	dst := filepath.Join(out, cellsName)
	if there, err := analysis.ReadSweepCells(dst); err == nil {
		if there.SpecHash != hash {
			return fmt.Errorf("%s: spec_hash: %s, another sweep's results folder (this sweep is %s): give another --out", dst, there.SpecHash, hash)
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	data, err := os.ReadFile(cellsPath)
	if err != nil {
		return err
	}
	return writeBytes(dst, data)
}

// writeBytes writes b to path atomically.
func writeBytes(path string, b []byte) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

func newSweepMergeCmd() *cobra.Command {
	var cellsPath, output string
	cmd := &cobra.Command{
		Use:   "merge DIR... -o REPORT",
		Short: "Merge the cells' results into the report compare would write",
		Long: "merge reads every result file (cell-NNNNNN.json) in the folders and writes the report of\n" +
			"the planned comparison: the same bytes as `kvscope compare` on one machine with the same\n" +
			"flags and -o. The cells file is --cells, or cells.json in the first folder that has one.\n" +
			"A missing cell, a corrupt result file or a result of another sweep spec is an error that\n" +
			"names it. A .csv report needs cells planned with --records.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if output == "" {
				return usagef("sweep merge: give the report path with -o (extension .md, .html, .json or .csv)")
			}
			format, err := analysis.FormatOf(output)
			if err != nil {
				return usageError{err}
			}
			if cellsPath == "" {
				for _, d := range dirs {
					if p := filepath.Join(d, cellsName); fileExists(p) {
						cellsPath = p
						break
					}
				}
				if cellsPath == "" {
					return usagef("sweep merge: no %s in %s: give the cells file with --cells", cellsName, strings.Join(dirs, ", "))
				}
			}
			sp, err := loadSweepPlan(cellsPath)
			if err != nil {
				return err
			}
			if format == analysis.FormatCSV && !sp.records {
				return usagef("sweep merge: a .csv report needs every request's row: plan the cells with --records")
			}
			if err := probeWritable(output); err != nil {
				return err
			}
			cmp, err := sp.cells.MergeSweep(sp.cp, dirs)
			if err != nil {
				return err
			}
			rep := &analysis.Report{
				Command:    compareCommand(sp.flags, sp.cells.Spec.Trace, output),
				Version:    version,
				Stats:      sp.cells.Stats,
				Comparison: cmp,
			}
			if err := rep.WriteFile(output, format); err != nil {
				return fmt.Errorf("report %s: %w", output, err)
			}
			newPrinter(cmd).Wrote(output)
			return reportFailures(cmd.ErrOrStderr(), rep, output)
		},
	}
	cmd.Flags().StringVar(&cellsPath, "cells", "", "cells file (default: cells.json in the first DIR that has one)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "report path; the extension picks the format: .md, .html, .json, .csv")
	addOutputFlags(cmd, false)
	return cmd
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func newSweepManifestCmd() *cobra.Command {
	o := kubejob.Options{}
	var output string
	cmd := &cobra.Command{
		Use:   "manifest --image IMAGE [--shards N] [--parallelism P]",
		Short: "Print a Kubernetes Indexed Job that runs a sweep's shards",
		Long: "manifest prints a batch/v1 Job (completion mode Indexed, one index per shard) that runs\n" +
			"`kvscope sweep run --cells CELLS --shard /N --out OUT` in every pod; the index comes from\n" +
			"JOB_COMPLETION_INDEX. IMAGE is yours and must hold the kvscope binary (--binary); kvscope\n" +
			"ships no image. The cells file, the trace and the results live on the claim --pvc mounted\n" +
			"at --mount in every pod (relative --cells, --out and --trace are under it). Plan with the\n" +
			"trace's path in the pods, or give it with --trace. Apply with kubectl apply -f, then merge\n" +
			"OUT with kvscope sweep merge.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			job, err := kubejob.Build(o)
			if err != nil {
				return usageError{err}
			}
			b, err := kubejob.YAML(job)
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			return writeBytes(output, b)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Image, "image", "", "container image holding the kvscope binary (yours: kvscope ships none)")
	fl.StringVar(&o.Binary, "binary", "kvscope", "the kvscope binary's path in the image")
	fl.StringVar(&o.Name, "name", "kvscope-sweep", "the Job's name")
	fl.IntVar(&o.Shards, "shards", 4, "shards: the Job's completions (run's N)")
	fl.IntVar(&o.Parallelism, "parallelism", 0, "pods at once (default: --shards)")
	fl.IntVar(&o.Retries, "retries", 2, "runs again of a failed shard (backoffLimitPerIndex)")
	fl.StringVar(&o.PVC, "pvc", "kvscope-sweep", "PersistentVolumeClaim holding the cells, the trace and the results")
	fl.StringVar(&o.Mount, "mount", "/data", "where the claim is mounted in the pods")
	fl.StringVar(&o.Cells, "cells", "cells.json", "cells file in the pods")
	fl.StringVar(&o.Out, "out", "results", "results folder in the pods")
	fl.StringVar(&o.Trace, "trace", "", "trace path in the pods (default: the path the cells were planned with)")
	fl.StringVarP(&output, "output", "o", "", "write the manifest here (default: standard output)")
	return cmd
}
