"""ONNX Runtime feeds for the parity cases and the `logit_index` side of them: flat index lists (row * Q +
position) a sampler asks for, and the float64 `logit_stats` reference ([max, logsumexp] without [MASK])."""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np


def _feeds(ids, pos, pk, pv, mask, dtype, logit_index: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    fd = np.float16 if dtype == "float16" else np.float32
    feeds = {"input_ids": ids.numpy().astype(np.int64), "position_ids": pos.numpy().astype(np.int64),
             "past_key": pk.numpy().astype(fd), "past_value": pv.numpy().astype(fd), "attention_mask": mask.numpy()}
    if logit_index is not None:
        feeds["logit_index"] = np.ascontiguousarray(logit_index, dtype=np.int64)
    return feeds


def all_positions(batch: int, step: int) -> np.ndarray:
    """logit_index that asks for every step position (flat 0..B*Q-1): the graph then returns the full logits as
    [B*Q, V] (row-major: reshape to [B, Q, V])."""
    return np.arange(batch * step, dtype=np.int64)


def flat_index(rows: List[List[int]], step: int) -> np.ndarray:
    """[M] flat logit_index from per-row position lists: row r position j -> r * step + j (a row may be empty)."""
    flat = [r * step + j for r, pos in enumerate(rows) for j in pos]
    if not flat:
        raise ValueError("logit_index needs at least one position")
    return np.array(flat, dtype=np.int64)


def subs_stats64(logits, mask_id: int) -> np.ndarray:
    """[..., V] logits -> [..., 2] float64: [max, logsumexp] over v != mask_id (what `logit_stats` holds)."""
    z = np.asarray(logits, dtype=np.float64).copy()
    z[..., mask_id] = -np.inf
    mx = z.max(axis=-1, keepdims=True)
    lse = mx + np.log(np.exp(z - mx).sum(axis=-1, keepdims=True))
    return np.concatenate([mx, lse], axis=-1)


def logit_index_cases(cases: List[Dict], mask_id: int, block_size: int) -> List[Dict]:
    """[{name, base, index [M], real [M] bool}]: flat positions a sampler asks for, on the inputs of the named base
    case; `real` marks the indices into rows that are not padding (compared against PyTorch)."""
    by = {c["name"]: c for c in cases}

    def masked(case, row, lo=0):
        ids = case["inputs"][0][row].tolist()
        return [i for i in range(lo, len(ids)) if ids[i] == mask_id]

    p0 = masked(by["past0"], 0)
    rag = by["ragged_batch"]
    Qr = rag["inputs"][0].shape[1]
    r0, r1 = masked(rag, 0), masked(rag, 1)
    Qf = by["folded_commit"]["inputs"][0].shape[1]
    fold = masked(by["folded_commit"], 0, block_size)
    Q0 = by["past0"]["inputs"][0].shape[1]
    # out of order with duplicates: row 1 before row 0, a repeated position, and one index into the padding row 2
    shuffled = [Qr + r1[-1], r0[0], Qr + r1[-1], 2 * Qr + 1, r0[-1], r0[0]]
    out = [
        {"name": "li_past0_one", "base": "past0", "index": flat_index([p0[len(p0) // 2:len(p0) // 2 + 1]], Q0)},
        {"name": "li_past0_masked", "base": "past0", "index": flat_index([p0], Q0)},
        # rows of different lengths (row 1 asks for two positions), the padding row 2 for none
        {"name": "li_ragged_batch", "base": "ragged_batch", "index": flat_index([r0, r1[:2], []], Qr)},
        {"name": "li_ragged_one", "base": "ragged_batch", "index": flat_index([r0[-1:], r1[:1], []], Qr)},
        {"name": "li_ragged_shuffled", "base": "ragged_batch", "index": np.array(shuffled, dtype=np.int64)},
        {"name": "li_folded_step", "base": "folded_commit", "index": flat_index([fold], Qf)},
        {"name": "li_folded_one", "base": "folded_commit", "index": flat_index([fold[:1]], Qf)},
    ]
    for x in out:
        Q = by[x["base"]]["inputs"][0].shape[1]
        x["real"] = x["index"] // Q < (2 if x["base"] == "ragged_batch" else by[x["base"]]["inputs"][0].shape[0])
    return out
