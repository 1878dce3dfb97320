"""The BD3-LM objective: masked forward process per block, SUBS parameterisation, NELBO with 1/t weights.

Everything runs on the device of the tokens (training) or of the model (evaluation, grid search); random draws
come from a generator on that device. On the CPU the draws are the same as before the device support existed."""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch

NEG_INF = -1e6  # what the reference adds to the [MASK] logit


def sample_t(batch: int, num_blocks: int, eps_min: float, eps_max: float, generator: Optional[torch.Generator] = None,
             antithetic: bool = True, device: Optional[torch.device] = None) -> torch.Tensor:
    """One mask rate per (sequence, block), low-discrepancy over the batch: the B*nb draws are stratified
    into B*nb equal slices of [0, 1), then mapped into [eps_min, eps_max]. Returns [B, nb] on `device`
    (default: the generator's, else the CPU)."""
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    if eps_min >= 1 and eps_max >= 1:
        return torch.ones(batch, num_blocks, device=device)
    u = torch.rand(batch, num_blocks, generator=generator, device=device)
    if antithetic:
        m = batch * num_blocks
        offset = (torch.arange(m, dtype=torch.float32, device=device) / m).view(batch, num_blocks)
        u = (u / m + offset) % 1
    return u * (eps_max - eps_min) + eps_min


def q_xt(x0: torch.Tensor, t_tok: torch.Tensor, mask_id: int, generator: Optional[torch.Generator] = None,
         keep_first: bool = True) -> torch.Tensor:
    """Mask each token independently with probability t (its block's rate). The first token (BOS) is kept."""
    move = torch.rand(x0.shape, generator=generator, device=x0.device) < t_tok
    xt = torch.where(move, torch.full_like(x0, mask_id), x0)
    if keep_first:
        xt[:, 0] = x0[:, 0]
    return xt


def subs_log_probs(logits: torch.Tensor, mask_id: int) -> torch.Tensor:
    """log p_theta(x0 | xt) under SUBS for masked positions: [MASK] logit -> -inf, log-softmax.
    (Unmasked positions are carried over; their loss is zero and they are handled by the caller.)"""
    logits = logits.float().clone()
    logits[..., mask_id] += NEG_INF
    return torch.log_softmax(logits, dim=-1)


def token_nll(model, x0: torch.Tensor, block_size: int, eps_min: float, eps_max: float, mask_id: int,
              generator: Optional[torch.Generator] = None, split: bool = True) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-token NELBO terms [B, n]: (1/t) * -log p(x0_i | ...) at masked positions, 0 elsewhere.

    Returns (nll [B,n], xt [B,n], t per token [B,n])."""
    B, n = x0.shape
    nb = n // block_size
    t = sample_t(B, nb, eps_min, eps_max, generator, device=x0.device)
    t_tok = t.repeat_interleave(block_size, dim=1)
    if eps_min >= 1 and eps_max >= 1:
        xt = torch.full_like(x0, mask_id)
        xt[:, 0] = x0[:, 0]
    else:
        xt = q_xt(x0, t_tok, mask_id, generator)
    bb = model.backbone if hasattr(model, "backbone") else model
    logits = bb.forward_train(xt, x0, block_size) if split else bb.forward_train_reference(xt, x0, block_size)
    logp = subs_log_probs(logits, mask_id)
    lp = torch.gather(logp, -1, x0[..., None])[..., 0]
    masked = xt == mask_id
    nll = torch.where(masked, -lp / t_tok, torch.zeros_like(lp))
    return nll, xt, t_tok


def training_loss(model, x0: torch.Tensor, block_size: int, eps_min: float, eps_max: float, mask_id: int,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    nll, _, _ = token_nll(model, x0, block_size, eps_min, eps_max, mask_id, generator)
    return nll.mean()  # the reference divides by all tokens during training


def model_device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def evaluate(model, seqs: torch.Tensor, block_size: int, mask_id: int, batch_size: int = 16, repeats: int = 1,
             seed: int = 1234, eps_min: Optional[float] = None, eps_max: float = 1.0) -> Dict[str, float]:
    """NELBO per token on held-out sequences with t ~ U[1e-3, 1] (exact NLL for block size 1, where t = 1).
    The first token (BOS) is excluded. Returns nll (nats), ppl, bits per byte/token."""
    if eps_min is None:
        eps_min = 1.0 if block_size == 1 else 1e-3
    dev = model_device(model)
    g = torch.Generator(device=dev).manual_seed(seed)
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    for _ in range(repeats):
        for i in range(0, len(seqs), batch_size):
            x0 = seqs[i:i + batch_size].to(dev)
            nll, _, _ = token_nll(model, x0, block_size, eps_min, eps_max, mask_id, g)
            total += float(nll[:, 1:].sum())
            count += nll[:, 1:].numel()
    model.train(was_training)
    mean = total / max(count, 1)
    return {"nll": mean, "ppl": math.exp(mean), "bits_per_token": mean / math.log(2), "tokens": count}


def interval_grid(widths: Sequence[float] = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9),
                  step: float = 0.05) -> List[Tuple[float, float]]:
    out = []
    for w in widths:
        k = 0
        while True:
            lo = round(k * step, 4)
            hi = round(lo + w, 4)
            if hi > 1.0 + 1e-9:
                break
            out.append((max(lo, 1e-3), hi))
            k += 1
    return out


@torch.no_grad()
def search_interval(model, seqs: torch.Tensor, block_size: int, mask_id: int, intervals=None, batch_size: int = 16,
                    seed: int = 4321) -> Dict[str, object]:
    """Grid search of the clipped schedule: for each [beta, omega], the variance of the per-(sequence, block)
    NELBO estimate on held-out data; the best interval has the lowest variance (the paper's criterion)."""
    intervals = intervals or interval_grid()
    dev = model_device(model)
    was_training = model.training
    model.eval()
    results = []
    for lo, hi in intervals:
        g = torch.Generator(device=dev).manual_seed(seed)
        vals = []
        for i in range(0, len(seqs), batch_size):
            x0 = seqs[i:i + batch_size].to(dev)
            nll, _, _ = token_nll(model, x0, block_size, lo, hi, mask_id, g)
            vals.append(nll.view(nll.shape[0], -1, block_size).mean(-1).flatten())
        v = torch.cat(vals)
        results.append({"interval": [lo, hi], "var": float(v.var()), "mean": float(v.mean())})
    model.train(was_training)
    best = min(results, key=lambda r: r["var"])
    return {"best": best["interval"], "results": results}
