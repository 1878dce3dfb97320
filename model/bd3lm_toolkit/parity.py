"""ONNX Runtime (onnxruntime-node) vs PyTorch parity for a model package.

  bash model/scripts/python.sh -m bd3lm_toolkit.parity --package models/kjv-bd3lm-b16 --ckpt <checkpoint-dir>

Cases (PyTorch reference = the unfolded DiT's `step`): past length 0; one block of past; full context;
positions beyond the context (sliding window, absolute positions); a ragged batch (rows with different past
lengths, padded and masked; each row must equal that sequence run alone) plus a fully masked padding row; and
the folded step [previous clean block ; current block] vs commit-then-step.

A package whose manifest declares `logit_index` gets every step position in the cases above (the flat index
0..B*Q-1, logits reshaped to [B,Q,V]), plus `logit_index` cases: flat index lists (row * Q + position) of the
positions a sampler asks for (one masked position as first hitting does, every masked position of the block as
ddpm/confidence do, ragged rows asking for different numbers of positions and the padding row for none, one
out of order with duplicates, the current half of the folded step); their logits must equal the matching rows
of the full logits. A package whose manifest declares the `logit_stats` output has it checked in every case
against [max, logsumexp] over the vocabulary without the [MASK] column, computed in float64 from the PyTorch
logits (and from the graph's own logits).

Report: {dtype: {case: {check: value}}}; every check is a max |diff| except `*_rel` (max |diff| / max |reference|
over the compared tensor) and `ms` (run time). `max_abs(report)` / `max_rel(report)` summarize per dtype.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from .dit import BD3LM


def block_causal(n: int, L: int) -> torch.Tensor:
    b = torch.arange(n) // L
    return b[:, None] >= b[None, :]


@torch.no_grad()
def history_kv(model: BD3LM, tokens: torch.Tensor, start: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """K/V of a clean history [1,N] at absolute positions start.. (block-causal, as the commit passes write it)."""
    N = tokens.shape[1]
    L = model.config.block_size
    pos = torch.arange(start, start + N)[None]
    _, k, v = model.step(tokens, pos, attention_mask=block_causal(N, L)[None])
    return k, v


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


@torch.no_grad()
def build_cases(model: BD3LM, seed: int = 0) -> List[Dict]:
    """Returns [{name, inputs: (ids, pos, pk, pv, mask), expect: {logits, present_key, present_value}, rows}]."""
    cfg = model.config
    L, C, V, mask_id = cfg.block_size, cfg.model_length, cfg.vocab_size, cfg.mask_id
    g = torch.Generator().manual_seed(seed)

    def rand_tokens(n):
        return torch.randint(0, min(V - 2, 256) if cfg.tokenizer == "bytes" else V - 2, (1, n), generator=g)

    def noisy_block():
        x = rand_tokens(L)
        x[torch.rand(1, L, generator=g) < 0.5] = mask_id
        if not bool((x == mask_id).any()):  # a denoising step always has a masked position (no extra draws)
            x[0, L - 1] = mask_id
        return x

    cases = []

    def add(name, ids, pos, pk, pv, mask, rows=None):
        lg, k, v = model.step(ids, pos, pk, pv, mask)
        cases.append({"name": name, "inputs": (ids, pos, pk, pv, mask),
                      "expect": {"logits": lg, "present_key": k, "present_value": v}, "rows": rows})

    # 1. past length 0 (first block, BOS at 0)
    ids = noisy_block()
    ids[0, 0] = cfg.bos_id
    empty = torch.zeros(cfg.n_blocks, 1, cfg.n_heads, 0, cfg.head_dim)
    add("past0", ids, torch.arange(L)[None], empty, empty, torch.ones(1, L, L, dtype=torch.bool))
    # 2. one block of past
    hist = rand_tokens(L)
    pk, pv = history_kv(model, hist)
    add("past1block", noisy_block(), torch.arange(L, 2 * L)[None], pk, pv, torch.ones(1, L, 2 * L, dtype=torch.bool))
    # 3. full context: past C - L, step fills the window
    P = C - L
    hist = rand_tokens(P)
    pk, pv = history_kv(model, hist)
    add("full_context", noisy_block(), torch.arange(P, C)[None], pk, pv, torch.ones(1, L, C, dtype=torch.bool))
    # 4. beyond the context: window of C - L past tokens at absolute positions (start .. start+P-1), step after it
    start = 4096 + 3 * L + C  # the step sits at positions far beyond context_length (rotary precision)
    hist = rand_tokens(P)
    pk, pv = history_kv(model, hist, start=start)
    pos = torch.arange(start + P, start + P + L)[None]
    add("beyond_context", noisy_block(), pos, pk, pv, torch.ones(1, L, P + L, dtype=torch.bool))
    # 5. ragged batch: row 0 has 3 blocks of past, row 1 has 1 block (padded, masked), row 2 is pure padding
    P0, P1 = 3 * L, L
    h0, h1 = rand_tokens(P0), rand_tokens(P1)
    k0, v0 = history_kv(model, h0)
    k1, v1 = history_kv(model, h1)
    pad = lambda t, n: torch.cat([t, torch.full((*t.shape[:3], n - t.shape[3], t.shape[4]), 7.0)], dim=3)  # noqa: E731
    pk = torch.cat([k0, pad(k1, P0), torch.full_like(k0, 3.0)], dim=1)
    pv = torch.cat([v0, pad(v1, P0), torch.full_like(v0, -3.0)], dim=1)
    b0, b1 = noisy_block(), noisy_block()
    ids = torch.cat([b0, b1, torch.full((1, L), mask_id)], dim=0)
    pos = torch.cat([torch.arange(P0, P0 + L)[None], torch.arange(P1, P1 + L)[None], torch.zeros(1, L, dtype=torch.long)])
    mask = torch.zeros(3, L, P0 + L, dtype=torch.bool)
    mask[0] = True
    mask[1, :, :P1] = True
    mask[1, :, P0:] = True
    # row 2: fully masked (padding) -> must stay finite
    alone = [model.step(b0, torch.arange(P0, P0 + L)[None], k0, v0, torch.ones(1, L, P0 + L, dtype=torch.bool)),
             model.step(b1, torch.arange(P1, P1 + L)[None], k1, v1, torch.ones(1, L, P1 + L, dtype=torch.bool))]
    add("ragged_batch", ids, pos, pk, pv, mask, rows=alone)
    # 6. folded commit: [clean block b ; noisy block b+1] in one step vs commit-then-step
    P = 2 * L
    hist = rand_tokens(P)
    pk, pv = history_kv(model, hist)
    clean, cur = rand_tokens(L), noisy_block()
    ids = torch.cat([clean, cur], dim=1)
    pos = torch.arange(P, P + 2 * L)[None]
    mask = torch.ones(1, 2 * L, P + 2 * L, dtype=torch.bool)
    mask[0, :L, P + L:] = False  # the clean block does not see the current block
    _, ck, cv = model.step(clean, torch.arange(P, P + L)[None], pk, pv, torch.ones(1, L, P + L, dtype=torch.bool))
    sep = model.step(cur, torch.arange(P + L, P + 2 * L)[None], torch.cat([pk, ck], 3), torch.cat([pv, cv], 3),
                     torch.ones(1, L, P + 2 * L, dtype=torch.bool))
    add("folded_commit", ids, pos, pk, pv, mask, rows=[(None, ck, cv), sep])
    return cases


def _max(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def _rel(a, b) -> float:
    """max |a - b| / max |b| (b the reference)."""
    return _max(a, b) / max(float(np.abs(np.asarray(b, dtype=np.float64)).max()), 1e-30)


def _compare(r: Dict[str, float], key: str, got, want) -> None:
    r[key] = _max(got, want)
    if key in ("logits", "logit_stats"):
        r[key + "_rel"] = _rel(got, want)


def max_abs(report: Dict[str, Dict[str, Dict[str, float]]]) -> Dict[str, float]:
    """{dtype: max |diff| over every case and check} (relative checks and run times left out)."""
    return {dt: max(v for case in r.values() for k, v in case.items() if k != "ms" and not k.endswith("_rel"))
            for dt, r in report.items()}


def max_rel(report: Dict[str, Dict[str, Dict[str, float]]]) -> Dict[str, Dict[str, float]]:
    """{dtype: {logits|logit_stats: max relative diff vs PyTorch over every case}}."""
    out: Dict[str, Dict[str, float]] = {}
    for dt, r in report.items():
        for k in ("logits", "logit_stats"):
            vals = [case[k + "_rel"] for case in r.values() if k + "_rel" in case]
            if vals:
                out.setdefault(dt, {})[k] = max(vals)
    return out


def run_parity(package_dir: str, model: BD3LM, dtypes=None, seed: int = 0) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Returns {dtype: {case: {check: value}}} (see the module docstring); raises if any output is not finite
    or has the wrong shape or dtype."""
    from .ort_node import run_cases

    man = json.load(open(os.path.join(package_dir, "manifest.json")))
    has_index = "logit_index" in man["io"]["inputs"]
    has_stats = "logit_stats" in man["io"]["outputs"]
    cfg = model.config
    V, M = cfg.vocab_size, cfg.mask_id
    cases = build_cases(model, seed)
    extra = logit_index_cases(cases, M, cfg.block_size) if has_index else []
    by = {c["name"]: c for c in cases}
    report: Dict[str, Dict[str, Dict[str, float]]] = {}
    L = cfg.block_size
    for gph in man["graphs"]:
        dt = gph["dtype"]
        if dtypes and dt not in dtypes:
            continue
        feeds = []
        for c in cases:
            ids = c["inputs"][0]
            feeds.append(_feeds(*c["inputs"], dt, all_positions(*ids.shape) if has_index else None))
        for x in extra:
            feeds.append(_feeds(*by[x["base"]]["inputs"], dt, x["index"]))
        outs = run_cases(os.path.join(package_dir, gph["file"]), feeds)
        for o in outs:
            for k in ("logits", "logit_stats"):
                if k in o and o[k].dtype != np.float32:
                    raise AssertionError(f"{dt}: {k} dtype {o[k].dtype}, expected float32")
            if has_stats and "logit_stats" not in o:
                raise AssertionError(f"{dt}: the manifest declares logit_stats, the graph does not return it")
        rep, li_rep = {}, {}
        for c, o in zip(cases, outs):
            B, Q = c["inputs"][0].shape
            want_shape = {"logits": (B * Q, V) if has_index else (B, Q, V), "logit_stats": (B * Q, 2) if has_index else (B, Q, 2)}
            for k, shp in want_shape.items():
                if k in o:
                    if tuple(o[k].shape) != shp:
                        raise AssertionError(f"{dt} {c['name']}: {k} {tuple(o[k].shape)}, expected {shp}")
                    o[k] = o[k].reshape(B, Q, -1)
        full = {c["name"]: o for c, o in zip(cases, outs)}
        for x, o in zip(extra, outs[len(cases):]):
            idx, real = x["index"], x["real"]
            got = o["logits"]
            if got.shape != (len(idx), V) or not np.all(np.isfinite(got)):
                raise AssertionError(f"{dt} {x['name']}: logits {got.shape}, expected {(len(idx), V)}, finite")
            want_ort = full[x["base"]]["logits"].reshape(-1, V)[idx]
            want_pt = by[x["base"]]["expect"]["logits"].numpy().reshape(-1, V)[idx]
            r = {"ms": round(o["__ms"], 3), "vs_full_rows": _max(got, want_ort)}
            _compare(r, "logits", got[real], want_pt[real])
            if has_stats:
                st = o["logit_stats"]
                if st.shape != (len(idx), 2) or not np.all(np.isfinite(st)):
                    raise AssertionError(f"{dt} {x['name']}: logit_stats {st.shape}, expected {(len(idx), 2)}, finite")
                r["stats_vs_full_rows"] = _max(st, full[x["base"]]["logit_stats"].reshape(-1, 2)[idx])
                _compare(r, "logit_stats", st[real], subs_stats64(want_pt[real], M))
                r["stats_vs_own_logits"] = _max(st, subs_stats64(got, M))
            li_rep[x["name"]] = r
        for c, o in zip(cases, outs):
            for k in ("logits", "present_key", "present_value") + (("logit_stats",) if has_stats else ()):
                if not np.all(np.isfinite(o[k].astype(np.float32))):
                    raise AssertionError(f"{dt} {c['name']}: non-finite {k}")
            r = {"ms": round(o["__ms"], 3)}
            ex = c["expect"]
            rows = slice(None)
            if c["name"] == "ragged_batch":
                # rows 0/1 vs PyTorch batch and vs each sequence alone; row 2 is padding (finite only)
                rows = slice(0, 2)
                _compare(r, "logits", o["logits"][:2], ex["logits"][:2])
                r["present_key"] = _max(o["present_key"][:, :2], ex["present_key"][:, :2])
                r["present_value"] = _max(o["present_value"][:, :2], ex["present_value"][:, :2])
                r["rows_vs_alone"] = max(_max(o["logits"][i], c["rows"][i][0][0]) for i in range(2))
            elif c["name"] == "folded_commit":
                for k in ("logits", "present_key", "present_value"):
                    _compare(r, k, o[k], ex[k])
                ck, cv = c["rows"][0][1], c["rows"][0][2]
                r["commit_kv_vs_separate"] = max(_max(o["present_key"][:, :, :, :L], ck), _max(o["present_value"][:, :, :, :L], cv))
                r["step_logits_vs_separate"] = _max(o["logits"][:, L:], c["rows"][1][0])
            else:
                for k in ("logits", "present_key", "present_value"):
                    _compare(r, k, o[k], ex[k])
            if has_stats:
                _compare(r, "logit_stats", o["logit_stats"][rows], subs_stats64(ex["logits"].numpy()[rows], M))
                r["stats_vs_own_logits"] = _max(o["logit_stats"], subs_stats64(o["logits"], M))
            rep[c["name"]] = r
        report[dt] = {**rep, **li_rep}
    return report


def main(argv=None) -> int:
    from .checkpoint import load_checkpoint

    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.parity", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True)
    ap.add_argument("--ckpt", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rep = run_parity(args.package, load_checkpoint(args.ckpt))
    print(json.dumps({"max_abs_diff": max_abs(rep), "max_rel_diff": max_rel(rep), "cases": rep}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
