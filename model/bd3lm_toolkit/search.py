"""Grid search of the clipped noise schedule U[beta, omega] on held-out NELBO variance (the paper's criterion).

  bash model/scripts/python.sh -m bd3lm_toolkit.search --ckpt <dir> [--seqs 64] [--step 0.05] [--widths 0.5,...,0.9]

Prints JSON: the interval with the lowest variance of the per-(sequence, block) NELBO estimate, and all
results. Train with it via `npm run model:train -- --noise-interval beta,omega` (or `--search-interval`).
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

from .checkpoint import load_checkpoint
from .data import load_kjv_tokens, split_stream, val_sequences
from .objective import interval_grid, search_interval


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.search", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--block-size", type=int, default=None, help="default: the checkpoint's")
    ap.add_argument("--seqs", type=int, default=64)
    ap.add_argument("--step", type=float, default=0.05)
    ap.add_argument("--widths", default="0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9")
    args = ap.parse_args(argv)
    model = load_checkpoint(args.ckpt)
    L = args.block_size or model.config.block_size
    _, val = split_stream(load_kjv_tokens(), 0.05)
    seqs = val_sequences(val, model.config.model_length)
    seqs = seqs[torch.randperm(len(seqs), generator=torch.Generator().manual_seed(7))[: args.seqs]]
    grid = interval_grid([float(w) for w in args.widths.split(",")], args.step) + [(1e-3, 1.0)]
    res = search_interval(model, seqs, L, model.config.mask_id, grid)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
