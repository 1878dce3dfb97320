"""PyTorch reference-sampler timing (the baseline the engine benchmark compares against).

  bash model/scripts/python.sh -m bd3lm_toolkit.bench_reference --ckpt <dir> --json [--blocks 2] [--threads 2]
      [--algorithm cached-queries|released|released-nocache] [--max-forwards 4] [--device cpu|cuda]

--device cuda runs the forwards (weights, K/V or q|k|v window cache) on the GPU in fp32; the token choice stays
on the CPU as in the reference (one row of logits is copied back per forward, which is also a sync). Timers are
read after torch.cuda.synchronize(), so queued GPU work is counted.

Algorithms (--algorithm):
  cached-queries (default): `ReferenceSampler`, which attends only the block's L' queries against a post-rotary
               K/V cache (cost per forward barely grows with the window).
  released:    a cost model of the released BD3-LM sampler (kuleshov-group/bd3lms): per layer the cache holds the
               packed PRE-rotary q|k|v of the whole window; every call computes the block's q|k|v, concatenates,
               re-applies rotary to the whole window, computes attention for ALL window positions (no mask), then
               keeps the last L' rows for attn_out/MLP/logits. O(window^2) per forward. The prompt is prefilled in
               one block-causal pass (not timed). Only the first --max-forwards forwards of a block are timed (a
               full window costs seconds per forward on 2 cores); tokens_per_s is then extrapolated to first
               hitting as 1000 * L' / ((L' + 1) * ms_per_forward) (L' denoising forwards + 1 commit per block,
               the window length, hence the cost, constant within a block). This is the released code's
               `sampling.kv_cache=true` path (its sampling scripts set it), which allocates its cache with
               device='cuda' in bf16 (models/dit.py and models/hf/modeling_bd3lm.py `reset_kv_cache`): in the
               released code it cannot run on a CPU at all.
  released-nocache: the released sampler with its config default `sampling.kv_cache: False` (configs/config.yaml),
               the only released mode that runs on a CPU: every denoising forward runs the WHOLE DiT over the
               window (up to context_length tokens, block-causal mask), casts the window's logits to float64
               (`self.forward(x, ...).to(torch.float64)` before `[:, -block_size:]`), keeps the block's rows,
               exp + full-sort nucleus. First hitting: L' forwards per block, no commit forward; tokens_per_s =
               1000 / ms_per_forward. The same --max-forwards extrapolation.

Two measurements, batch 1, first-hitting (L' denoising forwards + 1 commit forward per block), top-p 0.9:
  start:       generation right after BOS (past grows from 0)
  full_window: the prompt fills the window (context_length - L' tokens are committed first, not timed); every
               generated block then attends to a full window and the window slides.
Prints one JSON object (with --json) or a readable summary.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch

from .checkpoint import load_checkpoint
from .dit import BD3LM, MASK_FILL, apply_rotary, modulate
from .sampler import ReferenceSampler, SamplerOptions, nucleus, subs_probs

ALGORITHMS = ("cached-queries", "released", "released-nocache")


class ReleasedWindow:
    """The released sampler's per-layer cache and forward (see the module doc), batch 1.

    cache[i]: [1, S, 3, H, D] pre-rotary packed q|k|v of the window at layer i; row 0 is at absolute position
    `first_position`. `forward(ids, start, store)` runs the block at positions start.. (start must follow the
    cache) and returns its logits [Q, V]; with store=True the block's q|k|v are appended and the window slides
    to context_length - L' tokens (oldest dropped)."""

    def __init__(self, model: BD3LM):
        self.bb = model.eval().backbone
        self.cfg = model.config
        self.device = next(model.parameters()).device
        self.cache = [None] * self.cfg.n_blocks
        self.first_position = 0

    @property
    def length(self) -> int:
        return 0 if self.cache[0] is None else self.cache[0].shape[1]

    @torch.no_grad()
    def forward(self, ids, start: int, store: bool, block_causal: bool = False) -> torch.Tensor:
        bb, cfg = self.bb, self.cfg
        H, D, L = cfg.n_heads, cfg.head_dim, cfg.block_size
        Q = len(ids)
        P = self.length
        if P and start != self.first_position + P:
            raise ValueError(f"block at {start} does not follow the cache ({self.first_position} + {P})")
        if not P:
            self.first_position = start
        c = bb.conditioning()
        positions = torch.arange(self.first_position, start + Q, device=self.device)[None]
        cos, sin = bb.rotary_emb.cos_sin(positions)  # rotary over the whole window, every call
        keep = None
        if block_causal:
            blk = positions[0] // L
            keep = blk[:, None] >= blk[None, :]
        x = bb.vocab_embed(torch.tensor([ids], device=self.device))
        new = []
        for i, block in enumerate(bb.blocks):
            mod = block.modulation(c)
            h = modulate(block.norm1(x), mod[0], mod[1])
            qkv = block.attn_qkv(h).view(1, Q, 3, H, D)
            new.append(qkv)
            full = qkv if self.cache[i] is None else torch.cat([self.cache[i], qkv], dim=1)
            full = full.permute(2, 0, 3, 1, 4)  # [3, 1, H, S, D]
            q, k, v = apply_rotary(full[0], cos, sin), apply_rotary(full[1], cos, sin), full[2]
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D)  # all window positions as queries
            if keep is not None:
                s = torch.where(keep, s, torch.full_like(s, MASK_FILL))
            a = torch.matmul(torch.softmax(s, dim=-1), v)[:, :, -Q:]  # keep the last Q rows
            x = block.finish(x, a, mod)
        logits = bb.head(x, c)[0]
        if store:
            for i, qkv in enumerate(new):
                self.cache[i] = qkv if self.cache[i] is None else torch.cat([self.cache[i], qkv], dim=1)
            drop = self.length - (cfg.model_length - L)
            if drop > 0:
                self.cache = [t[:, drop:].contiguous() for t in self.cache]
                self.first_position += drop
        return logits

    def prefill(self, ids, start: int = 0) -> None:
        """Commit complete prompt blocks in one block-causal pass (same values as one commit per block)."""
        if ids:
            self.forward(ids, start, store=True, block_causal=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reveal_first_hitting(x: list, logits: torch.Tensor, mask_id: int, vocab_size: int, g: torch.Generator) -> None:
    """One first-hitting step of the released sampler on block `x` (in place): Exp(1) noise for the block, a
    uniformly chosen masked position, top-p 0.9 nucleus of its SUBS probabilities, the exponential race."""
    noise = torch.empty(len(x), vocab_size).exponential_(generator=g)
    masked = [i for i, t in enumerate(x) if t == mask_id]
    j = masked[int(torch.randint(len(masked), (1,), generator=g))]
    p, _ = nucleus(subs_probs(logits[j:j + 1].cpu(), mask_id, 1.0), 0.9)
    x[j] = int(torch.argmax(p[0] / noise[j].to(torch.float64)))


def measure_released(model, prompt, max_forwards: int, seed: int) -> dict:
    cfg = model.config
    L, V, M = cfg.block_size, cfg.vocab_size, cfg.mask_id
    g = torch.Generator().manual_seed(seed)
    win = ReleasedWindow(model)
    n_full = len(prompt) // L
    win.prefill(prompt[:n_full * L])
    rest = prompt[n_full * L:]
    start = n_full * L
    x = rest + [M] * (L - len(rest))
    past = win.length
    sync(win.device)
    t0 = time.time()
    fw = tokens = 0
    with torch.no_grad():
        while M in x and fw < max_forwards:
            logits = win.forward(x, start, store=False)
            fw += 1
            reveal_first_hitting(x, logits, M, V, g)
            tokens += 1
        if M not in x:
            win.forward(x, start, store=True)  # commit
            fw += 1
    sync(win.device)
    secs = time.time() - t0
    ms = 1000 * secs / max(fw, 1)
    return {"tokens": tokens, "seconds": round(secs, 4), "tokens_per_s": round(1000 * L / ((L + 1) * ms), 3),
            "forwards": fw, "ms_per_forward": round(ms, 3), "past_length_start": past,
            "tokens_per_s_basis": "1000 * L' / ((L' + 1) * ms_per_forward): first hitting, extrapolated"}


def measure_released_nocache(model, prompt, max_forwards: int, seed: int) -> dict:
    """The released sampler without a cache (see the module doc): whole-window forwards."""
    cfg = model.config
    L, V, M, W = cfg.block_size, cfg.vocab_size, cfg.mask_id, cfg.model_length
    g = torch.Generator().manual_seed(seed)
    n_full = len(prompt) // L
    rest = prompt[n_full * L:]
    committed = prompt[:n_full * L][-(W - L):] if W > L else []  # the window: at most context_length tokens
    x = rest + [M] * (L - len(rest))
    device = next(model.parameters()).device
    sync(device)
    t0 = time.time()
    fw = tokens = 0
    with torch.no_grad():
        while M in x and fw < max_forwards:
            window = ReleasedWindow(model)  # no cache: every position of the window goes through every layer
            logits = window.forward(committed + x, 0, store=False, block_causal=True)
            p_x0 = logits.to(torch.float64)[-L:]  # as released: the cast covers the whole window's logits
            fw += 1
            reveal_first_hitting(x, p_x0, M, V, g)
            tokens += 1
    sync(device)
    secs = time.time() - t0
    ms = 1000 * secs / max(fw, 1)
    return {"tokens": tokens, "seconds": round(secs, 4), "tokens_per_s": round(1000 / ms, 3),
            "forwards": fw, "ms_per_forward": round(ms, 3), "past_length_start": len(committed),
            "tokens_per_s_basis": "1000 / ms_per_forward: first hitting, L' whole-window forwards per block, extrapolated"}


def measure(model, prompt, blocks: int, seed: int) -> dict:
    L = model.config.block_size
    n_new = blocks * L - (len(prompt) % L)
    s = ReferenceSampler(model, SamplerOptions(top_p=0.9, max_new_tokens=n_new, stop_on_eos=False, seed=seed))
    r = s.generate(prompt)
    gen_s = r["seconds"] - r["prompt_seconds"]
    fw = r["forwards"] - r["prompt_forwards"]
    return {"tokens": r["generated"], "seconds": round(gen_s, 4), "tokens_per_s": round(r["generated"] / gen_s, 3),
            "forwards": fw, "ms_per_forward": round(1000 * gen_s / max(fw, 1), 3), "past_length_start": (len(prompt) // L) * L}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.bench_reference", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True, help="checkpoint folder (config.json + model.safetensors)")
    ap.add_argument("--blocks", type=int, default=2, help="generated blocks per measurement")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--algorithm", choices=ALGORITHMS, default="cached-queries")
    ap.add_argument("--max-forwards", type=int, default=4, help="released: timed forwards per point")
    ap.add_argument("--device", default="cpu", help="cpu (default) | cuda[:i] | auto (cuda when available)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev_name = args.device
    if dev_name == "auto":
        dev_name = "cuda" if torch.cuda.is_available() else "cpu"
    if dev_name.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    device = torch.device(dev_name)
    t0 = time.time()
    model = load_checkpoint(args.ckpt).to(device)
    sync(device)
    load_s = time.time() - t0
    cfg = model.config
    L, W = cfg.block_size, cfg.model_length
    g = torch.Generator().manual_seed(args.seed)
    hi = 256 if cfg.tokenizer == "bytes" else cfg.vocab_size - 2
    window_prompt = [cfg.bos_id] + torch.randint(0, hi, (W - L - 1,), generator=g).tolist()
    if args.algorithm in ("released", "released-nocache"):
        run = measure_released if args.algorithm == "released" else measure_released_nocache
        run(model, [cfg.bos_id], 1, args.seed)  # warm-up
        start = run(model, [cfg.bos_id], args.max_forwards, args.seed)
        full = run(model, window_prompt, args.max_forwards, args.seed)
    else:
        # warm-up: one block (first calls at a new shape are slow)
        measure(model, [cfg.bos_id], 1, args.seed)
        start = measure(model, [cfg.bos_id], args.blocks, args.seed)
        full = measure(model, window_prompt, args.blocks, args.seed)
    out = {
        "impl": "pytorch-reference", "algorithm": args.algorithm, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "device": str(device),
        **({"gpu": torch.cuda.get_device_name(device)} if device.type == "cuda" else {}),
        "ckpt": args.ckpt, "load_seconds": round(load_s, 2),
        "shape": {"layers": cfg.n_blocks, "hidden": cfg.hidden_dim, "heads": cfg.n_heads, "vocab": cfg.vocab_size,
                  "block_size": L, "context_length": W},
        "batch_size": 1, "start": start, "full_window": full,
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k in ("start", "full_window"):
            r = out[k]
            print(f"{k:12s} {r['tokens_per_s']:8.2f} tok/s  {r['ms_per_forward']:8.2f} ms/forward  ({r['tokens']} tokens, past from {r['past_length_start']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
