"""The layers of the released DiT (kuleshov-group/bd3lms, models/hf/modeling_bd3lm.py): LayerNorm, the sigma
embedding, rotary, the DiT block, the final layer and the token embedding, plus the small functions they share.

The classes live here and `dit.py` assembles them; their attribute names are the checkpoint's parameter names
(`backbone.blocks.{i}.attn_qkv`, ...), so none may be renamed.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

class LayerNorm(nn.Module):
    """LayerNorm with a weight and no bias, computed in fp32 (as released)."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones([dim]))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.float(), [self.dim]) * self.weight


class TimestepEmbedder(nn.Module):
    """sigma_map: sinusoidal embedding (256) -> Linear -> SiLU -> Linear."""

    def __init__(self, hidden: int, freq_dim: int = 256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden, bias=True), nn.SiLU(), nn.Linear(hidden, hidden, bias=True))
        self.freq_dim = freq_dim

    @staticmethod
    def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(0, half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.timestep_embedding(t, self.freq_dim))


class Rotary(nn.Module):
    def __init__(self, dim: int, base: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq)

    def cos_sin(self, positions: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """positions [B, S] (int) -> cos, sin [B, 1, S, D] (fp32)."""
        freqs = positions.to(torch.float32)[..., None] * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + rotate_half(x) * sin


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class DDiTBlock(nn.Module):
    def __init__(self, dim: int, n_heads: int, cond_dim: int, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__()
        self.n_heads = n_heads
        self.norm1 = LayerNorm(dim)
        self.attn_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.attn_out = nn.Linear(dim, dim, bias=False)
        self.norm2 = LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim, bias=True), nn.GELU(approximate="tanh"), nn.Linear(mlp_ratio * dim, dim, bias=True)
        )
        self.adaLN_modulation = nn.Linear(cond_dim, 6 * dim, bias=True)
        self.dropout = dropout

    # -- pieces shared by all attention schedules ------------------------------------------------------
    def qkv(self, x: torch.Tensor, mod: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """x [B,S,d] -> q, k (post-rotary), v as [B,H,S,D]."""
        shift, scale = mod[0], mod[1]
        h = modulate(self.norm1(x), shift, scale)
        B, S, d = h.shape
        qkv = self.attn_qkv(h).view(B, S, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin), v

    def finish(self, x_skip: torch.Tensor, attn: torch.Tensor, mod: torch.Tensor) -> torch.Tensor:
        """attn [B,H,S,D] -> residual stream after attention and MLP."""
        gate_msa, shift_mlp, scale_mlp, gate_mlp = mod[2], mod[3], mod[4], mod[5]
        B, H, S, D = attn.shape
        a = attn.transpose(1, 2).reshape(B, S, H * D)
        a = F.dropout(self.attn_out(a), p=self.dropout, training=self.training)
        x = x_skip + gate_msa * a
        m = self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        m = F.dropout(m, p=self.dropout, training=self.training)
        return x + gate_mlp * m

    def modulation(self, c: torch.Tensor) -> torch.Tensor:
        """c [1, cond] -> [6, d] (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp)."""
        return self.adaLN_modulation(c)[0].view(6, -1)


class DDitFinalLayer(nn.Module):
    def __init__(self, hidden: int, out: int, cond_dim: int):
        super().__init__()
        self.norm_final = LayerNorm(hidden)
        self.linear = nn.Linear(hidden, out)
        self.adaLN_modulation = nn.Linear(cond_dim, 2 * hidden, bias=True)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c)[0].view(2, -1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class EmbeddingLayer(nn.Module):
    def __init__(self, dim: int, vocab: int):
        super().__init__()
        self.embedding = nn.Parameter(torch.empty((vocab, dim)))
        nn.init.kaiming_uniform_(self.embedding, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding[x]
