package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kvscope/kvscope/replay/scenario"
)

// helpTopics are `kvscope help TOPIC` pages: what help, the explorer and
// reports cite, since the project's SPEC is not shipped with the binary.
// A command without Run is a help topic to cobra.
func helpTopics() []*cobra.Command {
	return []*cobra.Command{
		{
			Use:   "scenario",
			Short: "The scenario string: router+evict and the run's keys",
			Long: "A scenario is everything that decides a run, written as one string (-s) and\n" +
				"written back, every default spelled and keys sorted, into every result so it can\n" +
				"be rerun:\n\n" +
				"  scenario := router [':' params] '+' evict [':' params] { ';' key '=' value }\n" +
				"  params   := key '=' value { ',' key '=' value }\n\n" +
				"e.g. lbgr:preset=code+rlt;workers=4;cache_tokens=200000;latency=linear:miss_ms=0.15;seed=1\n\n" +
				"Routers, eviction policies and latency models, with their parameters, defaults and\n" +
				"ranges: kvscope list routers --long, kvscope list evictions --long, kvscope list\n" +
				"latency --long (latency=vllm:… models vLLM's scheduler and block pool per worker;\n" +
				"its pool replaces the cache size from the profile). Keys:\n" +
				"  " + strings.Join(scenario.Keys, ", ") + "\n" +
				"(cache_tokens and cache_blocks exclude each other). A -s may give just router+evict:\n" +
				"the flags (--workers, --cache-tokens, --latency, …) fill the keys it leaves out.\n\n" +
				"Capacity is in tokens (cache_tokens: a block weighs its token count, sglang's token\n" +
				"pool) or in trace blocks (cache_blocks: every block weighs 1, paged engines). Without\n" +
				"either, the capacity comes from the profile; without a profile every command uses\n" +
				"the same default, " + fmt.Sprint(scenario.DefaultCacheTokens) + " tokens per worker in whole blocks of the trace\n" +
				"(2000 blocks of 512 tokens, 16000 of 64), and the result's scenario names the blocks.\n" +
				"workers defaults to " + fmt.Sprint(scenario.DefaultWorkers) + ", latency to linear (0.15 ms per missed token), seed to 1.\n" +
				"oversize=error|fail|bypass says what happens to a request larger than the cache:\n" +
				"stop before the run (naming the size that holds every request), fail it, or serve\n" +
				"it uncached. rate=R re-times arrivals as a Poisson process from the seed; randomized\n" +
				"scenarios (rlt, random_leaf, random, p2c, dynamo with temperature > 0, llmd's exact\n" +
				"ties, rate re-timing) are worth several seeds (--seeds N).",
		},
		{
			Use:   "bounds",
			Short: "Competitive ratios against opt and the Belady bound, and the paper's bounds",
			Long: "Competitive ratios replay each worker's request sequence alone, in the order its\n" +
				"prefills started, under the policy, under opt (the offline optimum: farthest next\n" +
				"use among unpinned leaves) and under the Belady bound; a ratio is the policy's misses\n" +
				"over theirs.\n\n" +
				"With capacity B and L the longest input + output of the worker's sequence, both in\n" +
				"the cache's unit, k = B − L + 1 is the room the policy really controls (n/a when\n" +
				"k < 1). The bounds shown are the paper's asymptotic form with the classical paging\n" +
				"constants, exact only in block mode (cache_blocks): leaf-LRU is k-competitive in\n" +
				"the worst case (lru bound k); randomized marking such as rlt is at most 2·H_k; no\n" +
				"randomized policy beats H_k, where H_k = 1 + 1/2 + … + 1/k ≈ ln k + 0.5772.\n\n" +
				"kvscope gen cycle --k K builds the workload that separates them: with a cache of K\n" +
				"blocks, lru misses every request after the first round, opt about once per K.",
		},
	}
}
