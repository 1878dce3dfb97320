"""The token-choice arithmetic of the reference sampler: SUBS probabilities in float64, the nucleus cut, the
decision margins recorded in fixtures, the entropy stop rule, and the base64 float32 noise encoding of fixtures."""
from __future__ import annotations

import base64
import math
from typing import Dict, List, Tuple

import numpy as np
import torch


def f32_b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def b64_f32(s: str, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4").reshape(shape)


def subs_probs(logits: torch.Tensor, mask_id: int, temperature: float) -> torch.Tensor:
    """[L,V] float32 logits -> float64 probabilities with the [MASK] entry zeroed (SUBS)."""
    z = logits.to(torch.float64) / temperature
    z[:, mask_id] = -math.inf
    return torch.softmax(z, dim=-1)


def nucleus(p: torch.Tensor, top_p: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Keep, per row, the most probable tokens whose cumulative probability (sorted descending, ties by lower
    id first) is <= top_p, always at least the first; renormalise. Returns (probs, kept count per row)."""
    if top_p >= 1.0:
        return p, (p > 0).sum(-1)
    _, order = torch.sort(p, dim=-1, descending=True, stable=True)  # ties: lower id first
    sp = torch.gather(p, -1, order)
    keep_sorted = torch.cumsum(sp, dim=-1) <= top_p
    keep_sorted[..., 0] = True
    keep = torch.zeros_like(keep_sorted)
    keep.scatter_(-1, order, keep_sorted)
    q = torch.where(keep, p, torch.zeros_like(p))
    return q / q.sum(-1, keepdim=True), keep.sum(-1)


def _margins(p_full: torch.Tensor, p: torch.Tensor, noise: torch.Tensor, top_p: float) -> Dict[str, float]:
    """How far this step is from a decision flip (for judging replay robustness): the relative gap between the
    best and second-best p/E score, and the distance of the nucleus cut from top_p (cumulative probability just
    before and at the first dropped token)."""
    score = p / noise.to(torch.float64)
    top2 = torch.topk(score, 2).values
    gap = float((top2[0] - top2[1]) / top2[0]) if top2[0] > 0 else 0.0
    if top_p >= 1.0:
        cut = 1.0
    else:
        sp = torch.sort(p_full, descending=True).values
        cs = torch.cumsum(sp, 0)
        k = int((cs <= top_p).sum())
        lo = float(cs[k - 1]) if k >= 1 else 0.0
        hi = float(cs[k]) if k < len(cs) else 1.0
        cut = min(abs(top_p - lo), abs(hi - top_p))
    return {"score_gap": gap, "nucleus_cut": cut}


def entropy_nats(tokens: List[int]) -> float:
    _, counts = np.unique(np.asarray(tokens), return_counts=True)
    f = counts / counts.sum()
    return float(-(f * np.log(f)).sum())
