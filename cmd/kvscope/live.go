package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/kvscope/kvscope/analysis"
	"github.com/kvscope/kvscope/replay/live"
	"github.com/kvscope/kvscope/replay/live/liverun"
	"github.com/kvscope/kvscope/replay/sim"
	"github.com/kvscope/kvscope/replay/trace"
	"github.com/spf13/cobra"
)

func newLiveCmd() *cobra.Command {
	var (
		rf                                 readerFlags
		attach, api, router, output        string
		model, modelEvict                  string
		compareEvict, compareProfile       string
		keyEnv, keyFile                    string
		kvEvents                           string
		tf                                 tlsFlags
		timeScale                          float64
		limit, concurrency                 int
		breaker                            int
		tof                                liveTimeoutFlags
		cf                                 liveCacheFlags
		words, adaptive                    bool
		duration                           time.Duration
		seed                               uint64
		backoff                            time.Duration
		probeEvery, scrapeEvery, snapEvery time.Duration
	)
	cmd := &cobra.Command{
		Use:   "live TRACE --attach URL[,URL...] [-o REPORT]",
		Short: "Replay a trace against attached vLLM/sglang workers through kvscope's routers, beside the model",
		Long: "live replays TRACE in real time (× --time-scale) against running workers: the OpenAI\n" +
			"completions API (vLLM, llm-d-inference-sim; prompts as token ids, or --words) or sglang's\n" +
			"/generate (input_ids), streamed, with kvscope's router in front. Each request ends\n" +
			"completed, failed with a reason, timed out, or cancelled; failed attempts are retried by --retries,\n" +
			"an unhealthy worker leaves routing and is probed until it recovers. Per worker it\n" +
			"reports the hit ratio from the responses and from /metrics, and kvscope's own model\n" +
			"of the worker caches. With --compare-evict it simulates the requests sent and gives,\n" +
			"per metric, live − model. The report goes to -o (.json or .md) or Markdown on stdout.\n" +
			"TRACE is read as a stream: a first pass checks and counts it, then the run reads each\n" +
			"request as the previous one is sent, so memory follows the requests in flight, not the\n" +
			"trace (--compare-evict keeps the requests sent, and --sort holds the trace). Requests a\n" +
			"run stopped early never sent are counted (not_sent), without a record each.\n" +
			"API keys come only from --api-key-env or --api-key-file and are sent only to the\n" +
			"attached hosts, never printed. Exit status 1 when no request completed. Ctrl-C stops\n" +
			"sending, cancels the requests in flight, writes the report of what was sent (marked\n" +
			"interrupted) and exits 130; a second Ctrl-C stops at once, without a report.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := liverun.ParseAPI(api)
			if err != nil {
				return usageError{err}
			}
			if attach == "" {
				return usagef("--attach: give the workers' URLs (comma-separated)")
			}
			var eps []live.Endpoint
			for _, u := range strings.Split(attach, ",") {
				ep, err := live.ParseEndpoint(u)
				if err != nil {
					return usageError{err}
				}
				eps = append(eps, ep)
			}
			if words && a != live.OpenAI {
				return usagef("--words: only with --api openai")
			}
			if timeScale <= 0 || limit < 0 || concurrency < 1 || breaker < 1 || duration < 0 {
				return usagef("--time-scale must be > 0, --concurrency and --breaker-failures ≥ 1, --limit and --duration ≥ 0")
			}
			if err := tof.check(); err != nil {
				return err
			}
			if err := cf.check("cache-blocks"); err != nil {
				return err
			}
			var kvEps []live.KVEndpoint
			if kvEvents != "" {
				if kvEps, err = live.ParseKVEndpoints(kvEvents); err != nil {
					return usageError{err}
				}
				if len(kvEps) != len(eps) {
					return usagef("--kv-events: %d endpoints for %d workers: give one per worker, in --attach order", len(kvEps), len(eps))
				}
			}
			if compareProfile != "" && compareEvict == "" {
				return usagef("--compare-profile needs --compare-evict")
			}
			key, err := readKey(keyEnv, keyFile)
			if err != nil {
				return err
			}
			tlsCfg, err := tf.config(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			opt, err := rf.options()
			if err != nil {
				return err
			}
			// The trace is streamed: a first pass checks it whole and
			// counts it (progress, ETA, the requests never reached), keeping
			// counters only; the run reads it again as it sends.
			expect, err := countTrace(args[0], opt, limit)
			if err != nil {
				return err
			}
			stream, err := trace.Open(args[0], opt)
			if err != nil {
				return err
			}
			defer stream.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			// After the first Ctrl-C the default handling is back: a second
			// one ends the process without waiting for the report.
			context.AfterFunc(ctx, stop)
			cfg := live.Config{
				Workers: eps, Router: router, Seed: seed, TimeScale: timeScale, Concurrency: concurrency,
				Adaptive: adaptive, Duration: duration,
				BreakerFailures: breaker, Backoff: backoff, ProbeInterval: probeEvery, ScrapeInterval: scrapeEvery,
				ModelEvict: modelEvict, KVEvents: kvEps,
				Client: live.ClientConfig{API: a, Model: model, Words: words, Key: key, TLS: tlsCfg},
				// The comparison simulates the requests sent: only then
				// does the run keep them.
				KeepPlan: compareEvict != "", Expect: expect,
			}
			tof.apply(&cfg)
			cf.apply(&cfg)
			var done chan struct{}
			// Progress as every command draws it (--progress auto, the
			// default: on a terminal), a line per snapshot.
			pr := newPrinter(cmd)
			if pr.On() {
				ch := make(chan live.Update, 64)
				cfg.Updates, cfg.SnapshotEvery = ch, snapEvery
				done = make(chan struct{})
				go func() {
					defer close(done)
					for u := range ch {
						if s := u.Snapshot; s != nil {
							pr.Final(func() string { return liveProgressLine(*s, concurrency) })
						}
					}
					pr.Clear()
				}()
			}
			res, err := live.RunStream(ctx, live.Limit(stream, limit), cfg)
			if cfg.Updates != nil {
				close(cfg.Updates)
				<-done
			}
			var pe *live.PanicError
			if errors.As(err, &pe) {
				fmt.Fprintf(cmd.ErrOrStderr(), "kvscope: live: the panic's stack (a bug: please report it):\n%s", pe.Stack)
			}
			interrupted := ctx.Err() != nil
			switch {
			case err != nil && res == nil && interrupted:
				return interruptedError{err} // nothing was sent: no report
			case err != nil && (res == nil || !interrupted):
				return err
			}
			var rep *analysis.LiveReport
			if compareEvict != "" {
				sc, err := analysis.LiveModelScenario(res, compareEvict, compareProfile, seed)
				if err != nil {
					return usageError{err}
				}
				// The requests sent, not the ones an interrupted run never
				// got to; simulated even after Ctrl-C (a second one stops it).
				sent := res.SentWorkload()
				run, err := sim.Simulate(context.WithoutCancel(ctx), sent, sc, sim.Options{})
				if err != nil {
					return fmt.Errorf("live: model run: %w", err)
				}
				rep = analysis.CompareLive(res, analysis.LiveModelOf(run.Scenario, analysis.Summary(sent, run, sc)))
			} else {
				rep = analysis.NewLiveReport(res)
			}
			rep.Command = commandLine(cmd, args)
			if output == "" {
				if err := rep.WriteMarkdown(cmd.OutOrStdout()); err != nil {
					return err
				}
			} else {
				if err := rep.WriteFile(output); err != nil {
					return err
				}
				pr.Wrote(output)
				fmt.Fprintf(cmd.OutOrStdout(), "live: %d requests: %d completed, %d failed, %d timed out, %d cancelled; token hit ratio %.4f; report %s\n",
					res.Requests, res.Completed, res.Failed, res.TimedOut, res.Cancelled, rep.LiveSummary.TokenHitRatio, output)
			}
			if interrupted {
				where := "stdout"
				if output != "" {
					where = output
				}
				return interruptedError{fmt.Errorf("live: interrupted (%v): %d of %d requests sent, %d completed, %d cancelled; report of what was sent written to %s",
					context.Cause(ctx), res.Sent, res.Requests, res.Completed, res.Cancelled, where)}
			}
			if res.Completed == 0 && res.Requests > 0 {
				return fmt.Errorf("no request completed (%s)", strings.Join(res.FailReasonList(), ", "))
			}
			return nil
		},
	}
	rf.addNoSeed(cmd, "tokens per block for traces without prefix data (Azure; default 16)")
	fl := cmd.Flags()
	fl.StringVar(&attach, "attach", "", "workers' base URLs, comma-separated (http or https, no credentials)")
	fl.StringVar(&api, "api", "openai", "worker protocol: openai (/v1/completions) or sglang (/generate)")
	fl.StringVar(&router, "router", "round_robin", "router spec (a replay/route name with params, e.g. cache_aware, llmd:precise=true)")
	fl.Float64Var(&timeScale, "time-scale", 1, "multiply the trace's arrival times (0.1 = ten times faster)")
	fl.IntVar(&limit, "limit", 0, "replay only the first N requests (0 = all)")
	fl.IntVar(&concurrency, "concurrency", 16, "requests in flight at most")
	tof.add(fl, "")
	fl.IntVar(&breaker, "breaker-failures", 3, "consecutive failed attempts that take a worker out of routing (its circuit breaker)")
	fl.DurationVar(&backoff, "backoff", 200*time.Millisecond, "wait before the first retry (doubling, at most 16×)")
	fl.DurationVar(&probeEvery, "probe-interval", 500*time.Millisecond, "how often an unhealthy worker is probed (GET /health)")
	fl.DurationVar(&scrapeEvery, "scrape-interval", time.Second, "how often /metrics is read during the run")
	fl.DurationVar(&snapEvery, "progress-interval", time.Second, "interval of the progress line (completed, failed, rate, hit ratio, ETA)")
	fl.DurationVar(&duration, "duration", 0, "stop sending after this long (0 = no limit); requests in flight finish, the rest are reported as not sent")
	fl.BoolVar(&adaptive, "adaptive-concurrency", false, "lower the in-flight cap below --concurrency when workers push back (AIMD: halve on a 429 or stall, +1 per cap's worth of successes)")
	addOutputFlags(cmd, true)
	cf.add(fl, "", "cache-blocks")
	fl.StringVar(&model, "model", "kvscope", "model name sent with OpenAI requests")
	fl.BoolVar(&words, "words", false, "send prompts as words (for servers that count words, e.g. llm-d-inference-sim --force-dummy-tokenizer)")
	fl.StringVar(&kvEvents, "kv-events", "", "the workers' KV cache events, one endpoint per worker in --attach order, comma-separated: "+
		"bind:tcp://127.0.0.1:PORT (llm-d-inference-sim dials its --zmq-endpoint) or connect:tcp://HOST:PORT (vLLM's publisher binds); "+
		"a mirror of each worker's cache predicts each request's hit and feeds precise routers (not with --words)")
	fl.StringVar(&modelEvict, "model-evict", "", "eviction policy of kvscope's model of each worker (default server_lru for openai, lru for sglang)")
	fl.StringVar(&compareEvict, "compare-evict", "", "simulate the same requests with this eviction policy and report live − model per metric")
	fl.StringVar(&compareProfile, "compare-profile", "", "gpuprofile for the comparison's engine latency model (default: the linear model)")
	fl.Uint64Var(&seed, "seed", 1, "seed for randomized routers and the comparison")
	fl.StringVar(&keyEnv, "api-key-env", "", "read the API key from this environment variable")
	fl.StringVar(&keyFile, "api-key-file", "", "read the API key from this file")
	tf.add(fl, "")
	fl.StringVarP(&output, "output", "o", "", "write the report here (.json, else Markdown); default Markdown on stdout")
	return cmd
}

// countTrace reads the trace at path once, keeping counters only: the
// requests a live run replays (at most limit, when limit > 0) and the
// last one's arrival. A bad record stops it with the reader's error
// (FILE:LINE: field: reason), before anything is sent.
func countTrace(path string, opt trace.ReadOptions, limit int) (live.Expect, error) {
	s, err := trace.Open(path, opt)
	if err != nil {
		return live.Expect{}, err
	}
	defer s.Close()
	var e live.Expect
	var r trace.Request
	for limit <= 0 || e.Requests < limit {
		err := s.NextInto(&r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return live.Expect{}, err
		}
		e.Requests++
		e.LastArrival = r.Arrival
	}
	return e, nil
}

// readKey reads the API key from an environment variable or a file, never
// from the command line (which other users can see).
func readKey(env, file string) (live.Secret, error) {
	switch {
	case env != "" && file != "":
		return live.Secret{}, usagef("give --api-key-env or --api-key-file, not both")
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return live.Secret{}, usagef("--api-key-env %s: the variable is not set", env)
		}
		k := live.NewSecret(v)
		if err := k.Check(); err != nil {
			return live.Secret{}, fmt.Errorf("--api-key-env %s: %w", env, err)
		}
		return k, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return live.Secret{}, fmt.Errorf("--api-key-file: %w", err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return live.Secret{}, fmt.Errorf("--api-key-file %s: empty", file)
		}
		k := live.NewSecret(string(b))
		if err := k.Check(); err != nil {
			return live.Secret{}, fmt.Errorf("--api-key-file %s: %w", file, err)
		}
		return k, nil
	}
	return live.Secret{}, nil
}

// commandLine rebuilds the command for the report from the flags given,
// quoted for a POSIX shell (a value with a space or a ';' stays one
// argument). Keys never appear on the command line (only the names of
// their variable or file), so nothing needs hiding.
func commandLine(cmd *cobra.Command, args []string) string {
	parts := append([]string{"kvscope", "live"}, args...)
	return analysis.ShellQuote(append(parts, flagArgs(cmd, true)...))
}

// liveProgressLine is one progress line of a live run: what finished and
// how, the rate, the hit ratio of the responses so far, the in-flight cap
// when an adaptive limit lowered it, and the time left.
func liveProgressLine(s live.Snapshot, concurrency int) string {
	line := fmt.Sprintf("live: %5.1fs  %d/%d done (%d ok, %d failed), %d sent", s.Elapsed.Seconds(), s.Finished, s.Total, s.Completed, s.Failed, s.Dispatched)
	if sec := s.Elapsed.Seconds(); sec > 0 {
		line += fmt.Sprintf(" · %.1f req/s", float64(s.Finished)/sec)
	}
	line += fmt.Sprintf(" · hit %.3f", s.HitRatio)
	if s.Limit < concurrency {
		line += fmt.Sprintf(" · cap %d/%d", s.Limit, concurrency)
	}
	if eta := s.ETA(); eta > 0 {
		line += " · ETA " + eta.Round(time.Second).String()
	}
	return line
}
