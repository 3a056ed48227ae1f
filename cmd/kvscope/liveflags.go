package main

import (
	"time"

	"github.com/kvscope/kvscope/replay/live"
	"github.com/spf13/pflag"
)

// liveTimeoutFlags are the live driver's per-request limits and retries,
// declared once for `live` and `open --attach`: without them a worker
// that accepts a request and never answers holds it forever.
type liveTimeoutFlags struct {
	retries                  int
	timeout, firstTok, stall time.Duration
}

func (f *liveTimeoutFlags) add(fl *pflag.FlagSet, prefix string) {
	fl.IntVar(&f.retries, "retries", 1, prefix+"further attempts after a retryable failure (connection, 5xx, 429, stall, cut stream, capacity rejection), each on the router's next choice")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, prefix+"whole-request timeout")
	fl.DurationVar(&f.firstTok, "first-token-timeout", time.Minute, prefix+"send → first streamed token timeout")
	fl.DurationVar(&f.stall, "stall-timeout", 30*time.Second, prefix+"longest gap between two streamed chunks")
}

// check rejects negative values (0 is no limit).
func (f *liveTimeoutFlags) check() error {
	if f.retries < 0 || f.timeout < 0 || f.firstTok < 0 || f.stall < 0 {
		return usagef("--retries, --timeout, --first-token-timeout and --stall-timeout must be ≥ 0")
	}
	return nil
}

// apply sets the limits on cfg.
func (f *liveTimeoutFlags) apply(cfg *live.Config) {
	cfg.Retries = f.retries
	cfg.Client.Timeout, cfg.Client.FirstTokenTimeout, cfg.Client.StallTimeout = f.timeout, f.firstTok, f.stall
}

// liveCacheFlags size kvscope's model of each live worker's cache when
// /metrics does not (sglang, or a vLLM without cache_config_info).
// blocksName is the cache flag's name: --cache-blocks for `live`,
// --live-cache-blocks for `open`, whose --cache-blocks sizes the modeled
// scenarios in trace blocks.
type liveCacheFlags struct {
	cacheBlocks, serverBlockSize int
}

func (f *liveCacheFlags) add(fl *pflag.FlagSet, prefix, blocksName string) {
	fl.IntVar(&f.cacheBlocks, blocksName, 0, prefix+"each worker's KV cache in server blocks (default: /metrics: vLLM's cache_config_info, sglang's max_total_num_tokens)")
	fl.IntVar(&f.serverBlockSize, "server-block-size", 0, prefix+"the workers' tokens per block (default: /metrics, else 16 for openai, 1 for sglang)")
}

func (f *liveCacheFlags) check(blocksName string) error {
	if f.cacheBlocks < 0 || f.serverBlockSize < 0 {
		return usagef("--%s and --server-block-size must be ≥ 0", blocksName)
	}
	return nil
}

func (f *liveCacheFlags) apply(cfg *live.Config) {
	cfg.CacheBlocks, cfg.ServerBlockSize = f.cacheBlocks, f.serverBlockSize
}
