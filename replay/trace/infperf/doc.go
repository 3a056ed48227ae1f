// Package infperf turns an inference-perf configuration into a kvscope
// trace: the requests its load stages would send, as block chains at their
// send times, each tagged with its stage. It owns the configuration's
// schema (ParseConfig, LoadConfig), the modelled data generators and load
// timers, and the generator (Params, a gen.Generator, so `kvscope gen
// inference-perf CONFIG` writes it like kvscope's own generators). It
// imports replay/trace, replay/trace/gen and internal/yamlpos; it knows no
// caches, timing models or terminals. Measured results of a run are read by
// analysis/measured.
//
// # Source
//
// inference-perf is kubernetes-sigs/inference-perf. What is modelled here
// was read from its source at two commits:
//
//   - 7de5ef2ed6f7934e0ecbc8297e593f79e68430c0 (2026-08-19, the newest
//     read; "HEAD" below): inference_perf/config/{config.py,common.py,
//     datagen/config.py,loadgen/config.py},
//     inference_perf/datagen/synthetic/{shared_prefix,random,synthetic}_datagen.py,
//     inference_perf/utils/numeric/distribution/utils.py,
//     inference_perf/apis/user_session.py,
//     inference_perf/loadgen/{load_timer.py,load_generator.py},
//     inference_perf/reportgen/base.py.
//   - 3b6f82a03d75212b06c5e0bdef7710b04c033300 (2025-11-07): the
//     results/config.yaml files of ../shared/vllm-groundtruth hold exactly
//     the keys of inference_perf/config.py between b81afa4 (2025-10-15,
//     which added load.circuit_breakers and request_timeout) and ad40050
//     (2025-11-14, which added data.trace and load.trace); 3b6f82a is the
//     last commit before ad40050. Its datagen/shared_prefix_datagen.py,
//     loadgen/load_timer.py and loadgen/load_generator.py behave as below.
//
// The schema read is the union of both: data.shared_prefix's aliases
// (num_unique_system_prompts, num_users_per_system_prompt), lengths given
// as integers or distributions, seed and enable_multi_turn_chat exist only
// at HEAD and are optional.
//
// # Configuration
//
// Top-level keys are inference-perf's (api, data, load, metrics, report,
// storage, server, tokenizer, circuit_breakers); an unknown one is an error,
// as at HEAD (StrictBaseModel: extra keys forbidden). data and load are
// read strictly: every key must be one inference-perf knows, every value
// of the right type, and a setting that changes the workload in a way
// kvscope does not model is an error naming it (other data types,
// multimodal content, a chat template or the chat API, lengths from a
// trace file, LoRA traffic splits, the concurrent and trace load types, a
// sweep, whose stages are found at run time). The other sections do not
// shape the requests; only api.type, api.streaming, server.type,
// server.model_name, server.ignore_eos and tokenizer.pretrained_model_name_or_path
// are read, for labels. Absent keys take inference-perf's defaults (data
// type mock, 10 groups of 10 prompts, system prompt 100, question 50,
// output 50 tokens; load type constant, interval 1 s; Distribution min 10,
// max 1024, mean 512, std_dev 200, type normal). Errors read
// "FILE:LINE: field.path: reason".
//
// # Requests (facts of inference-perf)
//
//   - A stage sends N = int(rate × duration) requests (run_stage), and
//     numbers them 0 … N-1 afresh: every stage calls the data generator's
//     get_data() anew.
//   - shared_prefix: num_groups groups; each group has one system prompt
//     of system_prompt_len tokens and num_prompts_per_group prompts, each
//     the system prompt followed by a question of question_len tokens
//     (HEAD samples system_prompt_len once per group and question_len,
//     output_len once per prompt when they are distributions). All
//     prompts are generated once, then shuffled once (3b6f82a: Python's
//     random.shuffle; HEAD: numpy permutation), and request i of every
//     stage is prompt i mod (groups × prompts) of that one shuffled list,
//     with its output_len as max_tokens. So each stage walks the same
//     order from its start, and a prompt is sent again, word for word,
//     every groups × prompts requests.
//   - enable_multi_turn_chat (HEAD): one session per prompt; request i
//     goes to the session of prompt i mod (groups × prompts). The worker
//     looks sessions up by id and starts them empty (the system prompt the
//     datagen gives them is not used), each request sends the session's
//     context, a space and the prompt (system prompt + question), and the
//     reply appends the prompt sent and the reply to the context. Since
//     b32f9e5 (2026-04-29) sessions are cleared at the end of every stage.
//     So the k-th request of a prompt within a stage carries k copies of
//     the prompt and the k-1 replies between them.
//   - random: input and output lengths are lists of total_count values
//     drawn once; request i of every stage takes entry i (an index past
//     the lists fails in inference-perf); each prompt is fresh random
//     tokens. synthetic: the same lengths, each prompt a slice of a text
//     corpus at a random offset.
//   - Lengths from distributions: shared_prefix samples with
//     sample_from_distribution (normal, skew_normal by Azzalini's
//     two-normal method with mean and std_dev as location and scale,
//     lognormal moment-matched to mean and std_dev, uniform over
//     [min, max+1), poisson, fixed = int(mean)); random and synthetic with
//     generate_distribution (normal with mean inside [min, max], lognormal
//     shifted by min, uniform over [min, max), fixed; skew_normal and
//     poisson are refused). Both clip to [min, max], round and clip again.
//     A plain integer is that length exactly.
//   - constant load (ConstantLoadTimer): the stage's N send times are N
//     exponential gaps scaled so that they sum to the duration: the last
//     at the stage's end, the others falling as N-1 sorted uniform times
//     over the stage (random, not evenly spaced). poisson load (PoissonLoadTimer): for each second a
//     Poisson(rate) count, spread over that second by the constant rule
//     (a second drawing 0 is skipped); with worker processes (num_workers
//     > 0, the default) the stage takes the first N times, so it may end
//     before or after its duration; with num_workers: 0 it sends every
//     time before the duration instead (and a constant stage's last time,
//     at the end up to float rounding, is dropped when not before it).
//   - Stages: each stage's timer starts one second after the stage begins
//     (worker processes only: "start_time = perf_counter() + 1"); the next
//     stage begins after every request of the previous one has finished
//     and load.interval has passed.
//
// # Choices kvscope makes
//
//   - Tokens become block ids (SPEC §1): a prompt is cut every block_size
//     tokens (--block-size, default 16, vLLM's CUDA default). A block
//     shared by a group is one that ends inside its system prompt; the
//     block holding the system prompt/question boundary and all after it
//     belong to the prompt (and recur whenever the prompt is resent).
//     Groups share nothing. Only full blocks get ids: a partial last block
//     becomes tail tokens without an id (Request.TailTokens), because vLLM
//     hashes and caches full blocks only. (kvscope's other generators give
//     a partial block an id of its own; here it would let a resent prompt
//     hit tokens vLLM recomputes.) vLLM also caps a hit at prompt − 1
//     tokens, recomputing the last block of a fully cached prompt whose
//     length is a multiple of the block size; that is a lookup rule for
//     the engine model, not the trace's, and is not applied here.
//   - Multi-turn: the conversation is one token stream cut into blocks;
//     a block is shared with the same prompt's conversations in other
//     stages (and the group) while it lies inside the first copy of the
//     prompt, and is the conversation's own after that (replies are
//     sampled anew, so later content differs). Each request after the
//     first of its conversation carries Parent (the previous request) and
//     Turn (1-based within the stage); Session is stage × prompts +
//     prompt. ThinkS is 0: inference-perf sends a turn at its scheduled
//     time or, if later, when the previous turn has completed, which a
//     trace's open-loop time cannot express (the arrival is the schedule).
//     The conversation grows without limit, as in inference-perf, whose
//     request fails once it exceeds the server's max_model_len; kvscope
//     assumes every turn succeeded.
//   - Lengths are the configured token counts. The server sees slightly
//     different counts: a BOS token, and at 3b6f82a the drift of decoding
//     random token ids to text and encoding that text again (the measured
//     prompt_len of the Llama-2-7B codegen run averages 591.63 tokens for
//     100 + 466 configured). The measured lengths are in the lifecycle
//     reports (analysis/measured).
//   - random and synthetic prompts share no block (random: fresh random
//     tokens; synthetic: slices of one corpus at random offsets, which
//     share a prefix only when two offsets coincide, ignored here).
//   - Times: stage 0's timer starts at 0; its first request comes one
//     gap later. Stage k+1's timer starts at stage k's last send time plus
//     load.interval (a negative interval is no pause, as Python's sleep
//     does) plus the one-second lead with worker processes. inference-perf
//     waits also for stage k's requests to finish; a trace cannot know
//     when, so a backlog that real runs drain between stages can spill
//     into the next stage in a simulation: the "stage=N" tag lets a
//     consumer apply that barrier. Send times are rounded to the
//     nanosecond from float64 seconds within the stage.
//   - Draws: kvscope reproduces the distributions, not numpy's draws.
//     Each purpose has its own stream from --seed (gen.Stream: the prompt
//     order, the lengths of system prompts, questions and outputs (drawn
//     group-major), the input and output length lists, and per stage its
//     send-time gaps and per-second counts), so changing one stage never
//     moves another's times. Normal draws use Marsaglia's polar method;
//     Poisson draws the multiplication method below a mean of 10 and
//     Hörmann's PTRS above, as numpy does; rounding is half away from zero
//     (SPEC §3), where numpy rounds half to even. inference-perf's own
//     seeds (shared_prefix.seed, load.base_seed) are read and recorded,
//     not used.
//   - Not modelled, and not an error: the client's concurrency cap
//     (num_workers × worker_max_concurrency; the reports' schedule_delay
//     shows how late requests were sent), request timeouts and circuit
//     breakers (which end requests or stages early; the reports count
//     what was sent), server.ignore_eos: false (the output is then at most
//     output_len; the trace says output_len).
//
// Request ID and Index are the 0-based position in the trace. Tags are
// "stage=N" and, for shared_prefix, "group=G".
package infperf
