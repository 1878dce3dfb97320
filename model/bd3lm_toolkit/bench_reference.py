"""PyTorch reference-sampler timing (the baseline the engine benchmark compares against).

  bash model/scripts/python.sh -m bd3lm_toolkit.bench_reference --ckpt <dir> --json [--blocks 2] [--threads 2]

Two measurements, batch 1, first-hitting (L' denoising forwards + 1 commit forward per block), top-p 0.9:
  start:       generation right after BOS (past grows from 0)
  full_window: the prompt fills the window (context_length - L' tokens are committed first, not timed); every
               generated block then attends to a full window and the window slides.
Prints one JSON object (with --json) or a readable summary.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from .checkpoint import load_checkpoint
from .sampler import ReferenceSampler, SamplerOptions


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
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    model = load_checkpoint(args.ckpt)
    load_s = time.time() - t0
    cfg = model.config
    L, W = cfg.block_size, cfg.model_length
    g = torch.Generator().manual_seed(args.seed)
    hi = 256 if cfg.tokenizer == "bytes" else cfg.vocab_size - 2
    # warm-up: one block (first calls at a new shape are slow)
    measure(model, [cfg.bos_id], 1, args.seed)
    start = measure(model, [cfg.bos_id], args.blocks, args.seed)
    window_prompt = [cfg.bos_id] + torch.randint(0, hi, (W - L - 1,), generator=g).tolist()
    full = measure(model, window_prompt, args.blocks, args.seed)
    out = {
        "impl": "pytorch-reference", "torch": torch.__version__, "threads": torch.get_num_threads(),
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
