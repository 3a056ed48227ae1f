// Package measured reads what a real serving run measured, so that it can
// be put beside kvscope's prediction of the same workload: inference-perf's
// request lifecycle reports (summary_lifecycle_metrics.json for the run,
// stage_N_lifecycle_metrics.json per load stage) and whole experiment
// folders (LoadExperiment: the inference-perf configuration, the vLLM
// server settings of exp-config.yaml, the reports present). The workload
// itself is generated from the configuration by replay/trace/infperf; this
// package holds the truth it is compared with. It must not import
// terminal code.
//
// It lives in analysis, not replay, because it is the measured side of a
// comparison: a later `kvscope validate` runs the trace through the engine
// model and compares the per-stage results with these reports.
//
// # What the reports hold (inference-perf's reportgen/base.py,
// summarize_requests, at 3b6f82a and 7de5ef2)
//
//   - load_summary: count (every request sent: successes + failures),
//     schedule_delay (send time − scheduled time); per stage also
//     requested_rate, achieved_rate (count / send_duration) and
//     send_duration (first to last send).
//   - successes: count; latency.request_latency (end − send),
//     time_to_first_token (first streamed token − send),
//     time_per_output_token ((last − first token time) / (tokens − 1)),
//     normalized_time_per_output_token (latency / output tokens, 0 when
//     none), inter_token_latency (every gap between streamed token times,
//     pooled over requests); throughput (tokens and requests per second of
//     successes over first send to last end); prompt_len (later
//     prompt_tokens, with the server's cached-token total) and output_len
//     as inference-perf's tokenizer counted them. TTFT, TPOT and ITL cover
//     only requests with more than one token time.
//   - failures: count, request_latency, prompt_len (prompt_tokens).
//   - Each list is summarised as mean, min, max and percentiles (0.1, 1,
//     5, 10, 25, median, 75, 90, 95, 99, 99.9 by default) by numpy's
//     linear interpolation, or null when empty. Times are seconds.
//
// Reading: known fields are type-checked and unknown fields ignored (the
// reports gain fields across versions: goodput, multimodal, token usage);
// load_summary.count must equal successes.count + failures.count. Errors
// read "FILE:LINE: field.path: reason".
//
// # Experiments
//
// An experiment folder (as in inference-sim/training, and
// ../shared/vllm-groundtruth) holds exp-config.yaml (model,
// tensor_parallelism, max_model_len, max_num_batched_tokens, max_num_seqs,
// app; every key required, no other allowed) and results/ with
// config.yaml and the reports. The reports must belong to the
// configuration: stage numbers within its stages, each stage's
// requested_rate equal to its configured rate, and a summary count equal
// to the sum of the stage counts when every stage report is present.
package measured
