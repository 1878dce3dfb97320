"""The trainer's schedules: the EMA of the weights (and an EMA copy of the model for evals and saves), the
learning-rate curve, and the clipped noise interval chosen by `--noise-interval`."""
from __future__ import annotations

import math

import torch

from .dit import BD3LM


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: p.detach().clone() for k, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # warm-up so early EMA is not dominated by the init
        named = list(model.named_parameters())
        if named and named[0][1].device.type == "cuda":
            # same arithmetic in two multi-tensor kernels instead of two kernels per parameter
            sh = [self.shadow[k] for k, _ in named]
            torch._foreach_mul_(sh, d)
            torch._foreach_add_(sh, [p.detach() for _, p in named], alpha=1 - d)
            return
        for k, p in named:
            self.shadow[k].mul_(d).add_(p.detach(), alpha=1 - d)

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        for k, p in model.named_parameters():
            p.copy_(self.shadow[k])


def lr_at(progress: float, base: float, warmup_frac: float, min_frac: float) -> float:
    if progress < warmup_frac:
        return base * max(progress / warmup_frac, 0.01)
    p = min(1.0, (progress - warmup_frac) / max(1e-9, 1 - warmup_frac))
    return base * (min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def parse_interval(s: str, block_size: int):
    if block_size == 1:
        return (1.0, 1.0)  # L' = 1: full masking, the loss is the exact AR NLL
    if s == "full":
        return (1e-3, 1.0)
    if s == "paper":
        return (0.45, 0.95) if block_size <= 4 else (0.3, 0.8)
    lo, hi = (float(x) for x in s.split(","))
    if not 0 < lo < hi <= 1:
        raise SystemExit(f"--noise-interval {s}: need 0 < beta < omega <= 1")
    return (lo, hi)


def ema_model(model: BD3LM, ema: EMA) -> BD3LM:
    """A copy of the model with the EMA weights, on the model's device, same attention implementation."""
    dev = next(model.parameters()).device
    m = BD3LM(model.config).to(dev)
    m.load_state_dict(model.state_dict())
    ema.copy_to(m)
    m.backbone.attn_impl = model.backbone.attn_impl
    return m.eval()
