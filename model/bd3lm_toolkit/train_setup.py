"""The model a training run starts from: a checkpoint given by `--init-from` (its block size and interval
replaced, optionally the [MASK] embedding reset to the mean row), or a fresh demo-shaped model with the
from-scratch init."""
from __future__ import annotations

import argparse
from typing import Tuple

import torch

from .checkpoint import load_checkpoint
from .config import BD3LMConfig, demo_config
from .dit import BD3LM, training_init


def build_model(args: argparse.Namespace, eps_min: float, eps_max: float) -> Tuple[BD3LM, BD3LMConfig]:
    """The initial model and its config (on the CPU); draws from torch's global generator, which the caller seeds."""
    if args.init_from:
        base = load_checkpoint(args.init_from)
        cfg = base.config.replace(block_size=args.block_size, sampling_eps_min=eps_min, sampling_eps_max=min(eps_max, 1.0),
                                  training=None)
        model = BD3LM(cfg)
        model.load_state_dict(base.state_dict())
        if args.mask_row == "mean":
            with torch.no_grad():
                emb = model.backbone.vocab_embed.embedding
                emb[cfg.mask_id] = torch.cat([emb[: cfg.mask_id], emb[cfg.mask_id + 1:]]).mean(0)
        del base
    else:
        cfg = demo_config(args.block_size, args.context).replace(
            n_blocks=args.layers, hidden_dim=args.hidden, n_heads=args.heads, sampling_eps_min=eps_min,
            sampling_eps_max=min(eps_max, 1.0))
        model = training_init(BD3LM(cfg), seed=args.seed)
    if cfg.model_length != args.context:
        raise SystemExit(f"--context {args.context} differs from the initial checkpoint's model_length {cfg.model_length}")
    return model, cfg
