package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kvscope/kvscope/internal/progress"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/kvscope/kvscope/replay/trace/gen"
	"github.com/kvscope/kvscope/replay/trace/infperf"
)

// newGenCmd is `kvscope gen NAME [flags]`: one subcommand per generator of
// SPEC §3, each flag defaulting to SPEC's table (the package gen defaults).
func newGenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gen NAME [flags]",
		Short: "Generate a synthetic workload trace (" + strings.Join(genNames(), ", ") + ")",
		Long: "gen writes a synthetic trace in kvscope's native JSONL (or Mooncake JSONL).\n" +
			"The same flags and --seed give the same bytes.",
		Example: "  kvscope gen gsp -o gsp.jsonl\n" +
			"  kvscope gen multiturn --clients 1000 --think-s 2 -o mt.jsonl\n" +
			"  kvscope gen cycle --k 64 -o cycle.jsonl\n" +
			"  kvscope gen inference-perf results/config.yaml -o run.jsonl",
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("gen: name a generator: %s", strings.Join(genNames(), ", "))
			}
			return usagef("gen: unknown generator %q (choose %s)", args[0], strings.Join(genNames(), ", "))
		},
	}
	cmd.AddCommand(newGenGSPCmd(), newGenMultiturnCmd(), newGenLongdocCmd(), newGenCycleCmd(), newGenInferencePerfCmd())
	return cmd
}

// genNames lists the generators: SPEC §3's and inference-perf's, sorted.
func genNames() []string { return slices.Sorted(slices.Values(append(gen.Names(), "inference-perf"))) }

// genOutput holds the flags every generator shares.
type genOutput struct {
	seed   uint64
	out    string
	format string
}

func (o *genOutput) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Uint64Var(&o.seed, "seed", 1, "random seed: the same flags and seed give the same bytes")
	f.StringVarP(&o.out, "output", "o", "-", "output file, written atomically (- for standard output)")
	f.StringVar(&o.format, "format", "native", "output format: "+writerList(" or "))
	addOutputFlags(cmd, true)
}

// write validates g, then streams it to the output. Parameter errors are
// usage errors (exit 2) and name the flag.
func (o *genOutput) write(cmd *cobra.Command, g gen.Generator) error {
	if err := g.Validate(); err != nil {
		return usagef("gen %s: %w", g.Name(), err)
	}
	to, ok := writerFormat(o.format)
	if !ok {
		return usagef("gen %s: --format: unknown format %q (choose %s)", g.Name(), o.format, writerList(", "))
	}
	p := outPrinter(cmd, o.out)
	defer p.Clear()
	emit := func(w io.Writer) error {
		cw := progress.NewWriter(w)
		tw, err := to.NewWriter(cw, g.TraceBlockSize(), "kvscope gen "+g.Canonical())
		if err != nil {
			return err
		}
		// Chains are dense ids of first appearance: written as they are,
		// unless the generator names wider ids (multiturn past 2^32 blocks).
		var names trace.IDNames
		if w, ok := g.(gen.Wide); ok {
			names = w.IDNames()
		}
		n, start := int64(0), time.Now()
		err = g.Generate(func(r *trace.Request) error {
			n++
			p.Update(func() string {
				s := "generating " + g.Name() + ": " + progress.Count(n) + " requests, " + progress.Size(cw.N())
				if r := progress.Rate(float64(n), time.Since(start), "requests"); r != "" {
					s += " · " + r
				}
				return s
			})
			return tw.Write(r, names)
		})
		if err != nil {
			return err
		}
		return tw.Flush()
	}
	if o.out == "" || o.out == "-" {
		// The writers buffer; Flush ends every write.
		if err := emit(cmd.OutOrStdout()); err != nil {
			return fmt.Errorf("gen %s: %w", g.Name(), err)
		}
		return nil
	}
	if err := trace.WriteFileAtomic(o.out, emit); err != nil {
		return fmt.Errorf("gen %s: %s: %w", g.Name(), o.out, err)
	}
	p.Wrote(o.out)
	return nil
}

// intsFlag parses a comma-separated list flag into dst; a bad list is a
// usage error.
func intsFlag(g gen.Generator, name, value string, dst *[]int) error {
	v, err := gen.ParseInts(name, value)
	if err != nil {
		return usagef("gen %s: %w", g.Name(), err)
	}
	*dst = v
	return nil
}

func newGenGSPCmd() *cobra.Command {
	p := gen.DefaultGSP()
	var o genOutput
	lens, order := "512,1024,2048,4096,8192", string(p.Order)
	cmd := &cobra.Command{
		Use:   "gsp",
		Short: "sglang's generated-shared-prefix workload (the paper's main benchmark)",
		Long: "Groups of prompts share a prefix; group g has L_g = total_lens[g % len] tokens, of which\n" +
			"S_g = clamp(round(prefix_ratio·L_g), 1, L_g-1) are shared and the rest is a unique question.\n" +
			"Poisson arrivals at --rate.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := intsFlag(&p, "total-lens", lens, &p.TotalLens); err != nil {
				return err
			}
			p.Order, p.Seed = gen.Order(order), o.seed
			return o.write(cmd, &p)
		},
	}
	f := cmd.Flags()
	f.IntVar(&p.Groups, "groups", p.Groups, "number of prompt groups (shared prefixes)")
	f.IntVar(&p.PromptsPerGroup, "prompts-per-group", p.PromptsPerGroup, "prompts in each group")
	f.Float64Var(&p.PrefixRatio, "prefix-ratio", p.PrefixRatio, "shared fraction of each prompt, in [0, 1]")
	f.StringVar(&lens, "total-lens", lens, "prompt lengths in tokens, cycled over the groups")
	f.IntVar(&p.OutputLen, "output-len", p.OutputLen, "output tokens per request")
	f.StringVar(&order, "order", order, "prompt order: random (global shuffle), grouped, round_robin")
	f.Float64Var(&p.Rate, "rate", p.Rate, "Poisson arrival rate, requests per second (inf: all at 0)")
	f.IntVar(&p.BlockSize, "block-size", p.BlockSize, "tokens per block")
	o.addFlags(cmd)
	return cmd
}

func newGenMultiturnCmd() *cobra.Command {
	p := gen.DefaultMultiturn()
	var o genOutput
	turns := "2,4,6,8"
	cmd := &cobra.Command{
		Use:   "multiturn",
		Short: "multi-turn conversations, each request carrying the whole history",
		Long: "Client c holds turns[c % len] turns; each request is the whole history plus a new user\n" +
			"message. Clients start as Poisson arrivals at --rate; a turn arrives at the previous one's\n" +
			"arrival + its service time under the linear model (0.15 ms per missed token) + --think-s.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := intsFlag(&p, "turns", turns, &p.Turns); err != nil {
				return err
			}
			p.Seed = o.seed
			return o.write(cmd, &p)
		},
	}
	f := cmd.Flags()
	f.IntVar(&p.Clients, "clients", p.Clients, "number of clients (conversations)")
	f.StringVar(&turns, "turns", turns, "turns per conversation, cycled over the clients")
	f.IntVar(&p.UserLen, "user-len", p.UserLen, "tokens per user message")
	f.IntVar(&p.OutputLen, "output-len", p.OutputLen, "output tokens per request (each reply)")
	f.Float64Var(&p.Rate, "rate", p.Rate, "Poisson rate of client starts per second (inf: all at 0)")
	f.Float64Var(&p.ThinkS, "think-s", p.ThinkS, "think time before each later turn, seconds")
	f.IntVar(&p.BlockSize, "block-size", p.BlockSize, "tokens per block")
	o.addFlags(cmd)
	return cmd
}

func newGenLongdocCmd() *cobra.Command {
	p := gen.DefaultLongdoc()
	var o genOutput
	lens := "1024,2048,4096,8192"
	cmd := &cobra.Command{
		Use:   "longdoc",
		Short: "long documents with short questions (the paper's Loogle setting)",
		Long: "Each prompt is a document (doc_lens[d % len] tokens) followed by a unique question;\n" +
			"the questions of all documents are spread by a global shuffle. Poisson arrivals at --rate.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := intsFlag(&p, "doc-lens", lens, &p.DocLens); err != nil {
				return err
			}
			p.Seed = o.seed
			return o.write(cmd, &p)
		},
	}
	f := cmd.Flags()
	f.IntVar(&p.Docs, "docs", p.Docs, "number of documents")
	f.StringVar(&lens, "doc-lens", lens, "document lengths in tokens, cycled over the documents")
	f.IntVar(&p.Questions, "questions", p.Questions, "questions per document")
	f.IntVar(&p.QuestionLen, "question-len", p.QuestionLen, "tokens per question")
	f.IntVar(&p.OutputLen, "output-len", p.OutputLen, "output tokens per request")
	f.Float64Var(&p.Rate, "rate", p.Rate, "Poisson arrival rate, requests per second (inf: all at 0)")
	f.IntVar(&p.BlockSize, "block-size", p.BlockSize, "tokens per block")
	o.addFlags(cmd)
	return cmd
}

func newGenCycleCmd() *cobra.Command {
	p := gen.DefaultCycle()
	var o genOutput
	cmd := &cobra.Command{
		Use:   "cycle",
		Short: "k+1 prefixes cycled in a fixed order (adversarial for LRU)",
		Long: "k+1 distinct prefixes of --prefix-blocks blocks, requested in the order 0..k, 0..k, ...\n" +
			"for --rounds rounds, one request per millisecond. With a cache of k blocks LRU misses every\n" +
			"request after the first round; the optimum misses once every k.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("rounds") && p.Rounds < 1 {
				return usagef("gen cycle: --rounds: must be at least 1 (got %d)", p.Rounds)
			}
			p.Seed = o.seed
			return o.write(cmd, &p)
		},
	}
	f := cmd.Flags()
	f.IntVar(&p.K, "k", p.K, "cache size the cycle is built for: k+1 prefixes")
	f.IntVar(&p.PrefixBlocks, "prefix-blocks", p.PrefixBlocks, "blocks per prefix")
	f.IntVar(&p.Rounds, "rounds", 0, "passes over the k+1 prefixes (default k+1)")
	f.IntVar(&p.OutputLen, "output-len", p.OutputLen, "output tokens per request")
	f.IntVar(&p.BlockSize, "block-size", p.BlockSize, "tokens per block")
	o.addFlags(cmd)
	return cmd
}

func newGenInferencePerfCmd() *cobra.Command {
	p := infperf.Params{BlockSize: infperf.DefaultBlockSize}
	var o genOutput
	cmd := &cobra.Command{
		Use:   "inference-perf CONFIG",
		Short: "the workload of an inference-perf configuration (shared_prefix, random, synthetic; constant, poisson)",
		Long: "Reads an inference-perf configuration (its input YAML, or the results/config.yaml it writes)\n" +
			"and writes the requests its load stages send: the data generator's prompts as block chains\n" +
			"(a shared_prefix group's system prompt is a chain its prompts share; only full blocks have\n" +
			"ids, as vLLM caches only full blocks) at the load's send times, each request tagged with its\n" +
			"stage (\"stage=N\") and, for shared_prefix, its group (\"group=G\"). Stages follow each\n" +
			"other without the drain inference-perf waits for. kvscope draws from --seed, not from\n" +
			"inference-perf's numpy streams: the trace has the run's distributions, not its draws.\n" +
			"--format mooncake cannot hold the tokens past the last full block (they have no id) and\n" +
			"fails on them; it works when every prompt fills its blocks (--block-size 1).",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := infperf.LoadConfig(args[0])
			if err != nil {
				return fmt.Errorf("gen inference-perf: %w", err)
			}
			p.Config, p.Seed = c, o.seed
			return o.write(cmd, &p)
		},
	}
	cmd.Flags().IntVar(&p.BlockSize, "block-size", p.BlockSize, "tokens per block (vLLM's default is 16)")
	o.addFlags(cmd)
	return cmd
}
