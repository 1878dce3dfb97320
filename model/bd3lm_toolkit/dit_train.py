"""The x_t (+) x_0 training passes of the DiT backbone, as functions of the backbone (`DITBackbone.forward_train`
and `forward_train_reference` call them), and the literal three-part mask `block_diff_mask`.

Kept apart from `dit.py` because they only schedule attention differently from `step()`: the explicit
split-attention form, the fused SDPA form (torch >= 2.0) and the literal 2n x 2n reference compute the same
function (the tests check they agree to 1e-5).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")  # torch >= 2.0
ATTN_IMPLS = ("explicit", "sdpa")


def forward_train(bb, xt: torch.Tensor, x0: torch.Tensor, block_size: int) -> torch.Tensor:
    """Vectorized x_t (+) x_0 pass of the backbone `bb` (a DITBackbone). Returns logits of the x_t half [B,n,V].

    attn_impl "explicit": split-attention form (below). "sdpa": one fused attention call per layer over
    the 2n tokens with the literal three-part mask (the last layer: the x_t queries only). Both compute
    the same function (tested); fills for masked scores follow the score dtype, so both run under
    bf16 autocast."""
    B, n = xt.shape
    L = block_size
    if n % L:
        raise ValueError(f"sequence length {n} is not a multiple of block size {L}")
    if bb.attn_impl not in ATTN_IMPLS:
        raise ValueError(f"attn_impl {bb.attn_impl!r}: expected one of {ATTN_IMPLS}")
    if bb.attn_impl == "sdpa" and not HAS_SDPA:
        raise RuntimeError("attn_impl 'sdpa' needs torch >= 2.0 (F.scaled_dot_product_attention)")
    nb = n // L
    D = bb.config.head_dim
    scale = 1.0 / math.sqrt(D)
    c = bb.conditioning()
    pos = torch.arange(n, device=xt.device)[None]  # [1, n]: cos/sin broadcast over the batch
    cos, sin = bb.rotary_emb.cos_sin(pos)
    cos2, sin2 = torch.cat([cos, cos], dim=2), torch.cat([sin, sin], dim=2)
    x = bb.vocab_embed(torch.cat([xt, x0], dim=1))
    nl = len(bb.blocks)
    if bb.attn_impl == "sdpa":
        full = bb._train_mask(n, L, xt.device)  # [2n, 2n], rows/cols: x_t then x_0; True = attend
        for li, block in enumerate(bb.blocks):
            mod = block.modulation(c)
            q, k, v = block.qkv(x, mod, cos2, sin2)
            dt = v.dtype  # rotary leaves q, k in fp32; under autocast v is bf16
            if li == nl - 1:
                a = F.scaled_dot_product_attention(q[:, :, :n].to(dt), k.to(dt), v, attn_mask=full[:n])
                x = block.finish(x[:, :n], a, mod)
                break
            a = F.scaled_dot_product_attention(q.to(dt), k.to(dt), v, attn_mask=full)
            x = block.finish(x, a, mod)
        return bb.head(x, c)
    blk = torch.arange(n, device=xt.device) // L
    causal0 = blk[:, None] >= blk[None, :]  # x0 -> x0 (M_BC)
    offset = blk[:, None] > blk[None, :]  # xt -> x0 (M_OBC)
    for li, block in enumerate(bb.blocks):
        mod = block.modulation(c)
        q, k, v = block.qkv(x, mod, cos2, sin2)
        qt, q0 = q[:, :, :n], q[:, :, n:]
        kt, k0 = k[:, :, :n], k[:, :, n:]
        vt, v0 = v[:, :, :n], v[:, :, n:]
        H = q.shape[1]
        # x_t half: keys = earlier x_0 blocks, then its own x_t block; one softmax over both.
        s_t0 = torch.matmul(qt, k0.transpose(-1, -2)) * scale
        neg = torch.finfo(s_t0.dtype).min  # fp32 min overflows a bf16 fill (autocast)
        s_t0 = s_t0.masked_fill(~offset, neg)
        qb = qt.reshape(B, H, nb, L, D)
        kb = kt.reshape(B, H, nb, L, D)
        s_tt = (torch.matmul(qb, kb.transpose(-1, -2)) * scale).reshape(B, H, n, L)
        p = torch.softmax(torch.cat([s_t0, s_tt], dim=-1), dim=-1)
        a_t = torch.matmul(p[..., :n], v0) + torch.matmul(
            p[..., n:].reshape(B, H, nb, L, L), vt.reshape(B, H, nb, L, D)
        ).reshape(B, H, n, D)
        if li == nl - 1:
            # the x_0 half of the last layer is never read: skip it
            x = block.finish(x[:, :n], a_t, mod)
            break
        s_00 = torch.matmul(q0, k0.transpose(-1, -2)) * scale
        s_00 = s_00.masked_fill(~causal0, torch.finfo(s_00.dtype).min)
        a_0 = torch.matmul(torch.softmax(s_00, dim=-1), v0)
        x = block.finish(x, torch.cat([a_t, a_0], dim=2), mod)
    return bb.head(x, c)


def forward_train_reference(bb, xt: torch.Tensor, x0: torch.Tensor, block_size: int) -> torch.Tensor:
    """The literal 2n x 2n three-part mask (block_diff_mask of the reference) on the backbone `bb`. For tests."""
    B, n = xt.shape
    mask = block_diff_mask(n, block_size, xt.device)
    D = bb.config.head_dim
    c = bb.conditioning()
    pos = torch.arange(n, device=xt.device)[None].expand(B, n)
    cos, sin = bb.rotary_emb.cos_sin(pos)
    cos2, sin2 = torch.cat([cos, cos], dim=2), torch.cat([sin, sin], dim=2)
    x = bb.vocab_embed(torch.cat([xt, x0], dim=1))
    for block in bb.blocks:
        mod = block.modulation(c)
        q, k, v = block.qkv(x, mod, cos2, sin2)
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~mask, float("-inf"))
        x = block.finish(x, torch.matmul(torch.softmax(s, dim=-1), v), mod)
    return bb.head(x, c)[:, :n]


def block_diff_mask(n: int, block_size: int, device=None) -> torch.Tensor:
    """[2n, 2n] bool: M_BD | M_OBC | M_BC over x_t (first n) (+) x_0 (last n)."""
    idx = torch.arange(2 * n, device=device)
    is0 = idx >= n
    blk = torch.where(is0, idx - n, idx) // block_size
    q0, k0 = is0[:, None], is0[None, :]
    bq, bk = blk[:, None], blk[None, :]
    diag = (bq == bk) & (q0 == k0)
    obc = (bq > bk) & k0 & ~q0
    bc = (bq >= bk) & k0 & q0
    return diag | obc | bc
