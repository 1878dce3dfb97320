"""The parity cases: PyTorch inputs and expected outputs of the unfolded DiT's `step` for each situation a
package graph must handle (past length 0, one block of past, full context, beyond the context, a ragged batch
with a padding row, the folded step). What they are and why: the module docstring of `parity.py`."""
from __future__ import annotations

from typing import Dict, List, Tuple

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
