#!/usr/bin/env python3
"""kvscope gpuprofile measurement harness.

Times engine iterations of a Llama-3.1-8B-shaped model (HF transformers
LlamaForCausalLM, random bf16 weights created on the GPU, no checkpoint) and
writes one CSV row per grid point as it goes. `kvscope profile fit` reads the
CSV. See README.md beside this file for the grid, the method and the command.

KV cache: the model runs with use_cache=False and a registered attention
function ("kvscope") keeps the KV of every layer in preallocated buffers, as a
paged engine does: new keys/values are written into the buffer at their
positions and attention reads the whole context (flash/efficient SDPA, GQA
native, lower-right causal for new tokens on top of cached ones). This avoids
two artefacts of HF's own caches that no serving engine has: DynamicCache
copies the whole cache (torch.cat) every step, and HF's SDPA path expands
8 KV heads to 32 (repeat_kv) whenever a mask is present. Cached context is
filled with random values: attention time does not depend on the values.
"""

import argparse
import datetime
import math
import os
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F


def log(*a):
    print(*a, flush=True)


# --------------------------------------------------------------------------
# attention with engine-like KV buffers


class KVStore:
    """Per-point KV buffers: bufs[layer] = (k, v), each [B, kv_heads, S, D]."""

    def __init__(self):
        self.bufs = None
        self.offset = 0  # position of the first new token in the buffers
        self.calls = 0


STORE = KVStore()
# Whether SDPA is given 8 KV heads for 32 query heads (enable_gqa) or the KV is
# expanded first; decided per attention shape by check_attend().
GQA_NATIVE = {"decode": True, "causal": True, "lower_right": True}


def shape_class(lq, lk):
    if lq == 1:
        return "decode"
    return "causal" if lq == lk else "lower_right"


# How new tokens on top of cached ones attend (lower-right causal mask):
# "flash_direct" calls the flash kernel, whose causal flag means lower-right
# when query and key lengths differ, with 8 KV heads for 32 query heads;
# "causal_bias" goes through torch's CausalBias dispatch (which may pick the
# slower memory-efficient kernel); "repeat" expands the KV heads first.
# check_attend() keeps the first that computes the right thing.
LOWER_RIGHT_MODES = ["flash_direct", "causal_bias", "repeat"]
LOWER_RIGHT_MODE = "flash_direct"


def attend(q, k, v, scale):
    """q [B,H,Lq,D]; k,v [B,Hkv,Lk,D]; lower-right causal when Lq < Lk."""
    lq, lk = q.shape[2], k.shape[2]
    cls = shape_class(lq, lk)
    if cls == "lower_right":
        if LOWER_RIGHT_MODE == "flash_direct":
            return torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, 0.0, True, False, scale=scale)[0]
        if LOWER_RIGHT_MODE == "repeat" and k.shape[1] != q.shape[1]:
            g = q.shape[1] // k.shape[1]
            k = k.repeat_interleave(g, dim=1)
            v = v.repeat_interleave(g, dim=1)
        from torch.nn.attention.bias import causal_lower_right

        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=causal_lower_right(lq, lk), scale=scale, enable_gqa=k.shape[1] != q.shape[1]
        )
    if not GQA_NATIVE[cls] and k.shape[1] != q.shape[1]:
        g = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
    gqa = k.shape[1] != q.shape[1]
    if cls == "decode":
        return F.scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=gqa)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale, enable_gqa=gqa)


def kvscope_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    STORE.calls += 1
    kb, vb = STORE.bufs[module.layer_idx]
    off = STORE.offset
    n = key.shape[2]
    kb[:, :, off : off + n].copy_(key)
    vb[:, :, off : off + n].copy_(value)
    end = off + n
    k = kb if end == kb.shape[2] else kb[:, :, :end]
    v = vb if end == vb.shape[2] else vb[:, :, :end]
    out = attend(query, k, v, scaling)
    return out.transpose(1, 2).contiguous(), None


def no_mask(*args, **kwargs):
    return None


def reference_attend(q, k, v, scale):
    q, k, v = q.float(), k.float(), v.float()
    g = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(g, dim=1)
    v = v.repeat_interleave(g, dim=1)
    lq, lk = q.shape[2], k.shape[2]
    s = (q @ k.transpose(-1, -2)) * scale
    i = torch.arange(lq, device=q.device)[:, None]
    j = torch.arange(lk, device=q.device)[None, :]
    s = s.masked_fill(j > i + (lk - lq), float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def check_attend(meta):
    """Per shape class, use GQA-native SDPA if it computes the right thing,
    else expand the KV heads first (slower, recorded in the CSV header)."""
    torch.manual_seed(0)
    cases = {"decode": [(3, 1, 77), (2, 1, 1000)], "causal": [(2, 64, 64), (1, 333, 333)],
             "lower_right": [(2, 37, 137), (1, 300, 1324)]}
    paths = []
    global LOWER_RIGHT_MODE
    for cls, shapes in cases.items():
        ok = False
        options = LOWER_RIGHT_MODES if cls == "lower_right" else (True, False)
        for native in options:
            if cls == "lower_right":
                LOWER_RIGHT_MODE = native
            else:
                GQA_NATIVE[cls] = native
            try:
                worst = 0.0
                for b, lq, lk in shapes:
                    q = torch.randn(b, 32, lq, 128, device="cuda", dtype=torch.bfloat16)
                    k = torch.randn(b, 8, lk, 128, device="cuda", dtype=torch.bfloat16)
                    v = torch.randn(b, 8, lk, 128, device="cuda", dtype=torch.bfloat16)
                    out = attend(q, k, v, 128**-0.5).float()
                    ref = reference_attend(q, k, v, 128**-0.5)
                    rel = ((out - ref).norm() / ref.norm()).item()
                    worst = max(worst, rel if math.isfinite(rel) else float("inf"))
                log(f"attention check {cls} {native}: worst rel err {worst:.2e}")
                if worst < 2e-2:
                    label = native if cls == "lower_right" else ("gqa_native" if native else "repeat_kv")
                    paths.append(f"{cls}:{label}:{worst:.1e}")
                    ok = True
                    break
            except Exception as e:  # noqa: BLE001
                log(f"attention check {cls} {native} raised: {e!r}")
        if not ok:
            raise SystemExit(f"attention check failed for {cls} on both paths")
    meta["attention"] = "sdpa " + " ".join(paths)


# --------------------------------------------------------------------------
# model


def register_attention():
    from transformers import AttentionInterface

    try:
        from transformers import AttentionMaskInterface
    except ImportError:
        from transformers.masking_utils import AttentionMaskInterface
    AttentionInterface.register("kvscope", kvscope_attention)
    AttentionMaskInterface.register("kvscope", no_mask)


def set_attn(model, name):
    try:
        model.set_attn_implementation(name)
    except Exception as e:  # noqa: BLE001
        log(f"set_attn_implementation({name}) failed ({e!r}); setting config directly")
        model.config._attn_implementation = name


def llama_config(tiny=False):
    from transformers import LlamaConfig

    if tiny:
        kw = dict(vocab_size=1000, hidden_size=512, intermediate_size=1024, num_hidden_layers=2,
                  num_attention_heads=8, num_key_value_heads=2, head_dim=64,
                  max_position_embeddings=4096)
    else:
        # Llama-3.1-8B's config.json shape (meta-llama/Llama-3.1-8B).
        kw = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                  max_position_embeddings=131072)
    kw.update(rms_norm_eps=1e-5, tie_word_embeddings=False)
    try:
        return LlamaConfig(rope_theta=500000.0, **kw)
    except Exception:  # noqa: BLE001
        return LlamaConfig(**kw)


def build_model(cfg):
    from transformers import LlamaForCausalLM

    torch.manual_seed(1234)
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(prev)
    model = model.to(torch.bfloat16).eval()
    with torch.no_grad():
        for p in model.parameters():  # explicit random init: never time zeros
            if p.dim() >= 2:
                p.normal_(0.0, 0.02)
    return model


def alloc_bufs(cfg, batch, length, fill=True):
    kvh = cfg.num_key_value_heads
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    bufs = []
    for _ in range(cfg.num_hidden_layers):
        k = torch.empty(batch, kvh, length, hd, device="cuda", dtype=torch.bfloat16)
        v = torch.empty_like(k)
        if fill:
            k.normal_()
            v.normal_()
        bufs.append((k, v))
    return bufs


def forward(model, ids, start):
    """One iteration: ids [B, n] new tokens at positions start..start+n-1."""
    b, n = ids.shape
    pos = torch.arange(start, start + n, device="cuda").unsqueeze(0).expand(b, n)
    STORE.offset = start
    return model(input_ids=ids, position_ids=pos, use_cache=False, logits_to_keep=1)


def check_graph(model, cfg, meta):
    """On the full model: a replayed graph must give the eager forward's logits
    for the same inputs, for each kind of point (prefill, prefill on cached
    context, decode, batched prefill)."""
    worst = 0.0
    for kind, b, n, c, x in [("prefill", 1, 512, 0, 0), ("prefill", 1, 256, 1024, 0),
                             ("decode", 4, 1, 0, 1024), ("prefill", 2, 256, 0, 0)]:
        start, length = (c, c + n) if kind == "prefill" else (x, x + 1)
        torch.manual_seed(11)
        STORE.bufs = alloc_bufs(cfg, b, length, fill=start > 0)
        ids = torch.randint(0, cfg.vocab_size, (b, n), device="cuda")
        with torch.inference_mode():
            ref = forward(model, ids, start).logits.float().clone()
            g, out = capture(lambda: forward(model, ids, start))  # noqa: B023
            out.logits.fill_(float("nan"))  # the replay must rewrite it
            g.replay()
            torch.cuda.synchronize()
            got = out.logits.float()
        rel = ((got - ref).norm() / ref.norm()).item()
        worst = max(worst, rel if math.isfinite(rel) else float("inf"))
        STORE.bufs = None
        del g, out, ids
    torch.cuda.empty_cache()
    log(f"graph check: replay vs eager worst rel err {worst:.2e}")
    meta["graph_check_rel_err"] = f"{worst:.2e}"
    if not worst < 1e-2:
        raise SystemExit(f"graph check failed: rel err {worst}")


def check_model(meta):
    """Tiny model: kvscope attention (prefix, then new tokens on top) must give
    HF sdpa's last-token logits over the whole sequence."""
    cfg = llama_config(tiny=True)
    model = build_model(cfg)
    set_attn(model, "sdpa")
    c, n = 300, 77
    torch.manual_seed(7)
    ids = torch.randint(0, cfg.vocab_size, (2, c + n), device="cuda")
    with torch.inference_mode():
        ref = model(input_ids=ids, use_cache=False, logits_to_keep=1).logits[:, -1].float()
        set_attn(model, "kvscope")
        STORE.calls = 0
        STORE.bufs = alloc_bufs(cfg, 2, c + n, fill=False)
        forward(model, ids[:, :c], 0)
        out = forward(model, ids[:, c:], c).logits[:, -1].float()
    rel = ((out - ref).norm() / ref.norm()).item()
    log(f"model check: kvscope vs sdpa rel err {rel:.2e}, attention calls {STORE.calls}")
    meta["model_check_rel_err"] = f"{rel:.2e}"
    STORE.bufs = None
    del model
    torch.cuda.empty_cache()
    if STORE.calls == 0:
        raise SystemExit("model check: the kvscope attention function was never called")
    if not rel < 5e-2:
        raise SystemExit(f"model check failed: rel err {rel}")


# --------------------------------------------------------------------------
# timing


def time_it(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(repeats):
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        ts.append(s.elapsed_time(e))
    return ts


def capture(fn):
    """Capture fn (one forward) in a CUDA graph, after one eager run on a side
    stream (lazy initialisation, as torch.cuda.graph's docs ask). Returns the
    graph and the output tensors it rewrites on each replay."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        out = fn()
    return g, out


def ceilings(meta):
    torch.manual_seed(3)
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    ts = time_it(lambda: a @ b, 3, 20)
    tflops = 2 * n**3 / (statistics.median(ts) * 1e-3) / 1e12
    del a, b
    src = torch.randn(1 << 30, device="cuda", dtype=torch.bfloat16)  # 2 GiB
    dst = torch.empty_like(src)
    ts = time_it(lambda: dst.copy_(src), 3, 20)
    gbs = 2 * src.numel() * 2 / (statistics.median(ts) * 1e-3) / 1e9
    del src, dst
    torch.cuda.empty_cache()
    meta["ceiling_matmul_bf16_tflops"] = f"{tflops:.1f}"
    meta["ceiling_matmul_shape"] = "8192x8192x8192 random bf16, median of 20"
    meta["ceiling_copy_gbps"] = f"{gbs:.1f}"
    meta["ceiling_copy_note"] = "2 GiB device-to-device copy, bytes read + written, median of 20"
    log(f"ceilings: matmul {tflops:.1f} TFLOP/s, copy {gbs:.1f} GB/s")
    attention_ceilings(meta)


def attention_ceilings(meta, n=8192, new=1024):
    """The two attention kernels alone, through attend() as the forward calls
    them (Llama-3.1-8B heads: 32 query, 8 KV, head_dim 128; q in HF's
    [B, L, H, D]-then-transposed layout), at the largest sizes the fit uses
    (n new tokens causal; new tokens on n cached, lower-right): TFLOP/s of
    the attention FLOPs the Go model counts (4*H*D per query-key pair,
    causal pairs n(n+1)/2). `kvscope profile fit` takes these as the
    attention efficiencies instead of fitting them: in a forward of at most
    8,192 tokens attention is a small share of the time, too small to tell
    its efficiency apart from the linear layers' (the fit overpredicted
    32,768-token prefills by 19% when it tried)."""
    torch.manual_seed(4)
    h, hkv, d = 32, 8, 128
    scale = d**-0.5
    out = {}
    for label, lq, lk in (("causal", n, n), ("cached", new, n + new)):
        q = torch.randn(1, lq, h, d, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
        k = torch.randn(1, hkv, lk, d, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(1, hkv, lk, d, device="cuda", dtype=torch.bfloat16)
        ts = time_it(lambda: attend(q, k, v, scale), 3, 20)
        pairs = lq * (lk - lq) + lq * (lq + 1) / 2
        out[label] = 4 * h * d * pairs / (statistics.median(ts) * 1e-3) / 1e12
        del q, k, v
    torch.cuda.empty_cache()
    meta["ceiling_attention_causal_tflops"] = f"{out['causal']:.1f}"
    meta["ceiling_attention_cached_tflops"] = f"{out['cached']:.1f}"
    meta["ceiling_attention_shape"] = (f"attend() alone, 32 q / 8 kv heads, head_dim 128: causal {n} new; "
                                       f"cached {new} new on {n} cached (lower-right); median of 20")
    log(f"attention ceilings: causal {out['causal']:.1f} TFLOP/s, cached {out['cached']:.1f} TFLOP/s")


def grid():
    pts = []
    # uncached prefill, batch 1 (small: < 1024 new; large: >= 1024)
    for n in list(range(128, 1024, 16)) + list(range(1024, 8193, 256)) + [10240, 12288, 16384, 20480, 24576, 32768]:
        pts.append(("prefill", 1, n, 0, 0))
    # decode: batch x context <= 900k tokens
    for b in [1, 2, 4, 8, 16, 32, 64, 96, 128, 192, 256]:
        for x in [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]:
            if b * x <= 900_000:
                pts.append(("decode", b, 1, 0, x))
    # new tokens on top of cached context
    for c in [1024, 2048, 4096, 6144, 8192, 12288, 16384]:
        for n in [64, 128, 256, 512, 1024, 2048, 4096, 8192]:
            pts.append(("prefill", 1, n, c, 0))
    for c in [1024, 8192, 16384]:
        pts.append(("prefill", 1, 16384, c, 0))
    # batched prefill (b sequences of n new tokens each, nothing cached)
    for b in [2, 4, 8, 16]:
        for n in [128, 256, 512, 1024, 2048, 4096]:
            if b * n <= 32768:
                pts.append(("prefill", b, n, 0, 0))
    return pts


def run_point(model, cfg, pt, warmup, repeats, runtime="eager"):
    """Times one grid point. runtime "graphs" captures the forward in a CUDA
    graph and times its replays (one launch per iteration, as engines run
    their iterations); "eager" times the Python forward itself."""
    kind, b, n, c, x = pt
    g = torch.Generator(device="cuda")
    g.manual_seed(b * 1_000_003 + n * 101 + c * 7 + x)
    if kind == "prefill":
        STORE.bufs = alloc_bufs(cfg, b, c + n, fill=c > 0)
        ids = torch.randint(0, cfg.vocab_size, (b, n), device="cuda", generator=g)
        fn = lambda: forward(model, ids, c)  # noqa: E731
    else:
        STORE.bufs = alloc_bufs(cfg, b, x + 1, fill=True)
        ids = torch.randint(0, cfg.vocab_size, (b, 1), device="cuda", generator=g)
        fn = lambda: forward(model, ids, x)  # noqa: E731
    g = None
    try:
        with torch.inference_mode():
            if runtime == "graphs":
                g, _ = capture(fn)
                return time_it(g.replay, warmup, repeats)
            return time_it(fn, warmup, repeats)
    finally:
        STORE.bufs = None
        del ids, fn, g


def heavy(pt):
    kind, b, n, c, x = pt
    return (kind == "prefill" and b * n > 8192) or (kind == "decode" and b * x > 400_000)


def write_header(f, meta):
    for k in sorted(meta):
        f.write(f"# {k}={meta[k]}\n")
    f.write("kind,batch,new_tokens,cached_tokens,context_tokens,median_ms,min_ms,max_ms,repeats\n")
    f.flush()


def run_sequential(model, cfg, pts, args, meta, t0):
    """Each point: warm-up, then its repeats back to back."""
    first = {}  # point -> median, for the recheck
    with open(args.out, "w") as f:
        write_header(f, meta)
        done = 0
        for i, pt in enumerate(pts):
            if time.time() - t0 > args.budget_s:
                f.write(f"# stopped: budget of {args.budget_s:.0f}s reached after {done} of {len(pts)} points\n")
                log(f"budget reached after {done} points")
                break
            hv = heavy(pt)
            try:
                ts = run_point(model, cfg, pt, 1 if hv else 2, args.heavy_repeats if hv else args.repeats, args.runtime)
            except torch.cuda.OutOfMemoryError as e:
                f.write(f"# skipped {pt}: out of memory\n")
                log(f"OOM at {pt}: {e}")
                torch.cuda.empty_cache()
                continue
            except Exception as e:  # noqa: BLE001
                f.write(f"# skipped {pt}: {type(e).__name__}\n")
                log(f"error at {pt}: {e!r}")
                traceback.print_exc()
                torch.cuda.empty_cache()
                continue
            kind, b, n, c, x = pt
            med = statistics.median(ts)
            first[pt] = med
            f.write(f"{kind},{b},{n},{c},{x},{med:.4f},{min(ts):.4f},{max(ts):.4f},{len(ts)}\n")
            f.flush()
            done += 1
            if kind == "decode":
                torch.cuda.empty_cache()
            log(f"[{i + 1}/{len(pts)} {time.time() - t0:6.1f}s] {kind} b={b} new={n} cached={c} ctx={x}: {med:.3f} ms")
        else:
            f.write(f"# complete: {done} of {len(pts)} points in {time.time() - t0:.0f}s\n")
        if args.recheck_every > 0:
            recheck(model, cfg, pts[:: args.recheck_every], first, args, f, t0)


def recheck(model, cfg, pts, first, args, f, t0):
    """Times some points again after the whole grid and writes how far each
    new median is from the first (comment lines): the run's repeatability."""
    diffs = []
    for pt in pts:
        if pt not in first or time.time() - t0 > args.budget_s:
            continue
        hv = heavy(pt)
        ts = run_point(model, cfg, pt, 1 if hv else 2, args.heavy_repeats if hv else args.repeats, args.runtime)
        med = statistics.median(ts)
        d = 100 * (med - first[pt]) / first[pt]
        diffs.append(abs(d))
        kind, b, n, c, x = pt
        f.write(f"# recheck {kind},{b},{n},{c},{x}: {med:.4f} ms ({d:+.2f}%)\n")
        torch.cuda.empty_cache()
    if diffs:
        diffs.sort()
        f.write(f"# recheck_points={len(diffs)}\n")
        f.write(f"# recheck_median_abs_diff_pct={statistics.median(diffs):.2f}\n")
        f.write(f"# recheck_max_abs_diff_pct={diffs[-1]:.2f}\n")
        log(f"recheck: {len(diffs)} points, median |diff| {statistics.median(diffs):.2f}%, max {diffs[-1]:.2f}%")


def run_interleaved(model, cfg, pts, args, meta, t0):
    """Pass 0 (untimed) then args.repeats timed passes; each pass visits every
    point once in its own fixed shuffled order, so a slow spell of the host or
    GPU lands on different points in different passes and the per-point median
    is robust to it. Raw samples are written as they come (<out>.samples.csv);
    the summary CSV is written at the end."""
    import random

    samples = {pt: [] for pt in pts}
    raw_path = args.out.replace(".csv", "") + "_samples.csv"
    stopped = None
    with open(raw_path, "w") as raw:
        raw.write("pass,kind,batch,new_tokens,cached_tokens,context_tokens,ms\n")
        for p in range(args.repeats + 1):
            order = list(pts)
            random.Random(p).shuffle(order)
            for pt in order:
                if time.time() - t0 > args.budget_s:
                    stopped = f"budget of {args.budget_s:.0f}s reached in pass {p}"
                    break
                try:
                    ts = run_point(model, cfg, pt, 1 if args.runtime == "graphs" else 0, 1, args.runtime)
                except torch.cuda.OutOfMemoryError as e:
                    log(f"OOM at {pt} pass {p}: {e}")
                    torch.cuda.empty_cache()
                    continue
                except Exception as e:  # noqa: BLE001
                    log(f"error at {pt} pass {p}: {e!r}")
                    traceback.print_exc()
                    torch.cuda.empty_cache()
                    continue
                if pt[0] == "decode":
                    torch.cuda.empty_cache()
                kind, b, n, c, x = pt
                raw.write(f"{p},{kind},{b},{n},{c},{x},{ts[0]:.4f}\n")
                if p > 0:
                    samples[pt].append(ts[0])
            raw.flush()
            log(f"pass {p} done at {time.time() - t0:.1f}s")
            if stopped:
                break
    with open(args.out, "w") as f:
        write_header(f, meta)
        done = 0
        for pt in pts:
            ts = samples[pt]
            if len(ts) < 5:
                f.write(f"# skipped {pt}: only {len(ts)} timed samples\n")
                continue
            kind, b, n, c, x = pt
            f.write(f"{kind},{b},{n},{c},{x},{statistics.median(ts):.4f},{min(ts):.4f},{max(ts):.4f},{len(ts)}\n")
            done += 1
        if stopped:
            f.write(f"# stopped: {stopped}\n")
        f.write(f"# complete: {done} of {len(pts)} points in {time.time() - t0:.0f}s\n")
    log(f"wrote {done} points")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="CSV path, written as points finish")
    ap.add_argument("--budget-s", type=float, default=480, help="stop starting points after this")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per point (interleaved: passes)")
    ap.add_argument("--heavy-repeats", type=int, default=5, help="sequential order only: repeats of heavy points")
    ap.add_argument("--limit", type=int, default=0, help="only the first N grid points (testing)")
    ap.add_argument("--order", choices=["interleaved", "sequential"], default=None,
                    help="interleaved: timed passes over the shuffled grid (default for eager); "
                         "sequential: each point's repeats back to back (default for graphs)")
    ap.add_argument("--runtime", choices=["graphs", "eager"], default="graphs",
                    help="graphs: capture each point's forward in a CUDA graph and time its replays (default); "
                         "eager: time the Python forward")
    ap.add_argument("--recheck-every", type=int, default=8,
                    help="sequential order: after the grid, time every Nth point again and record the drift (0: off)")
    ap.add_argument("--ceilings-only", action="store_true",
                    help="measure the ceilings alone and print them as the CSV's comment lines (no grid)")
    args = ap.parse_args()
    if args.order is None:
        args.order = "sequential" if args.runtime == "graphs" else "interleaved"
    t0 = time.time()
    import transformers

    assert torch.cuda.is_available(), "no CUDA device"
    meta = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gpu": torch.cuda.get_device_name(0),
        "gpu_memory_bytes": str(torch.cuda.get_device_properties(0).total_memory),
        "torch": torch.__version__,
        "cuda": str(torch.version.cuda),
        "transformers": transformers.__version__,
        "python": sys.version.split()[0],
        "model": "LlamaForCausalLM shaped like Llama-3.1-8B, random bf16 weights",
        "runtime": ("CUDA graphs: each point's forward (HF modeling code, eager kernels) captured once in a "
                    "torch.cuda.CUDAGraph and replayed" if args.runtime == "graphs" else
                    "eager PyTorch: the Python forward, no CUDA graphs, no torch.compile"),
        "timing": ("CUDA events around one graph replay" if args.runtime == "graphs" else
                   "CUDA events around one forward after synchronize") + "; median of repeats after warm-up",
    }
    check_attend(meta)
    register_attention()
    if args.ceilings_only:
        c = {}
        ceilings(c)
        with open(args.out, "w") as f:
            f.writelines(f"# {k}={c[k]}\n" for k in sorted(c))
        return
    check_model(meta)
    ceilings(meta)
    cfg = llama_config()
    model = build_model(cfg)
    set_attn(model, "kvscope")
    meta["parameters"] = str(sum(p.numel() for p in model.parameters()))
    log(f"model built: {meta['parameters']} parameters, {time.time() - t0:.1f}s since start")

    # smoke: one point of each kind, one repeat, before writing anything
    for pt in [("prefill", 1, 512, 0, 0), ("prefill", 1, 256, 1024, 0), ("decode", 4, 1, 0, 1024), ("prefill", 2, 256, 0, 0)]:
        ts = run_point(model, cfg, pt, 1, 1, args.runtime)
        log(f"smoke {pt}: {ts[0]:.2f} ms")
    if STORE.calls == 0:
        raise SystemExit("kvscope attention never called on the full model")
    if args.runtime == "graphs":
        check_graph(model, cfg, meta)

    pts = grid()
    if args.limit:
        pts = pts[: args.limit]
    meta["grid_points"] = str(len(pts))
    meta["order"] = args.order
    if args.order == "interleaved":
        meta["repeats"] = (f"{args.repeats} timed passes over the whole grid, each in a fixed shuffled order "
                           "(random.Random(pass)), after one untimed warm-up pass; median per point across passes")
        run_interleaved(model, cfg, pts, args, meta, t0)
    else:
        meta["repeats"] = (f"{args.repeats} timed repeats per point ({args.heavy_repeats} for heavy points) back to back "
                           "after warm-up (2, heavy 1); median per point")
        run_sequential(model, cfg, pts, args, meta, t0)
    log(f"done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
