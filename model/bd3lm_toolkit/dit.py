"""The BD3-LM DiT backbone as released (kuleshov-group/bd3lms, models/hf/modeling_bd3lm.py), written anew.

Parameter names match the HF checkpoints exactly (prefix `backbone.`). Differences from the reference are only
in how attention is scheduled, never in what is computed:

* `step()` is the KV-cached inference call used by the exporter, the sampler and the parity tests: it takes
  the step tokens, their absolute positions, the cached post-rotary keys/values and a boolean mask, and
  returns logits and the step tokens' own K/V (the ONNX graph has exactly this signature).
* `forward_train()` is the vectorized x_t (+) x_0 training pass. It computes the three-part mask of the paper
  in split form (x_0 block-causal; x_t to earlier x_0 blocks and to its own x_t block, one softmax over
  both) instead of a 2n x 2n masked attention. `forward_train_reference()` is the literal 2n x 2n version.
  With `backbone.attn_impl = "sdpa"` (torch >= 2.0 only, see `HAS_SDPA`; the trainer turns it on for CUDA)
  the same pass uses `F.scaled_dot_product_attention` with the literal boolean mask (`block_diff_mask`), which
  runs fused attention kernels on a GPU; the default "explicit" is the split form above.
* SUBS is not part of the network (it is applied by the loss and by the sampler), as in the reference.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import BD3LMConfig

MASK_FILL = -1e9  # finite: a fully masked (padding) row stays finite
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")  # torch >= 2.0
ATTN_IMPLS = ("explicit", "sdpa")


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


class DITBackbone(nn.Module):
    def __init__(self, config: BD3LMConfig):
        super().__init__()
        self.config = config
        d = config.hidden_dim
        self.vocab_embed = EmbeddingLayer(d, config.vocab_size)
        self.sigma_map = TimestepEmbedder(config.cond_dim)
        self.rotary_emb = Rotary(config.head_dim, base=config.rotary_base)
        self.blocks = nn.ModuleList(
            [DDiTBlock(d, config.n_heads, config.cond_dim, dropout=config.dropout) for _ in range(config.n_blocks)]
        )
        self.output_layer = DDitFinalLayer(d, config.vocab_size, config.cond_dim)
        self.attn_impl = "explicit"  # forward_train's attention: "explicit" (split form) or "sdpa"
        self._mask_cache = {}  # (n, block size, device) -> block_diff_mask, for the sdpa path

    # ------------------------------------------------------------------
    def conditioning(self) -> torch.Tensor:
        """The (constant) conditioning vector: time conditioning is off, so sigma is zero."""
        sigma = torch.zeros(1, device=self.vocab_embed.embedding.device)
        return F.silu(self.sigma_map(sigma))

    def head(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.output_layer(x, c)

    # ------------------------------------------------------------------
    def step(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        past_key: Optional[torch.Tensor] = None,
        past_value: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """KV-cached denoiser call with the ONNX contract.

        input_ids/position_ids [B,Q]; past_key/value [L,B,H,P,D] (post-rotary keys); attention_mask bool
        [B,Q,P+Q] (past columns first). Returns logits [B,Q,V] (raw), present_key/value [L,B,H,Q,D].
        """
        cfg = self.config
        B, Q = input_ids.shape
        H, D = cfg.n_heads, cfg.head_dim
        dev = input_ids.device
        if past_key is None:
            past_key = torch.zeros(cfg.n_blocks, B, H, 0, D, device=dev)
            past_value = torch.zeros(cfg.n_blocks, B, H, 0, D, device=dev)
        P = past_key.shape[3]
        if attention_mask is None:
            attention_mask = torch.ones(B, Q, P + Q, dtype=torch.bool, device=dev)
        c = self.conditioning()
        cos, sin = self.rotary_emb.cos_sin(position_ids)
        x = self.vocab_embed(input_ids)
        keep = attention_mask[:, None]  # [B,1,Q,P+Q]
        pk, pv = [], []
        for i, block in enumerate(self.blocks):
            mod = block.modulation(c)
            q, k, v = block.qkv(x, mod, cos, sin)
            pk.append(k)
            pv.append(v)
            kk = torch.cat([past_key[i].to(k.dtype), k], dim=2)
            vv = torch.cat([past_value[i].to(v.dtype), v], dim=2)
            s = torch.matmul(q, kk.transpose(-1, -2)) / math.sqrt(D)
            s = torch.where(keep, s, torch.full_like(s, MASK_FILL))
            attn = torch.matmul(torch.softmax(s, dim=-1), vv)
            x = block.finish(x, attn, mod)
        logits = self.head(x, c)
        return logits, torch.stack(pk), torch.stack(pv)

    # ------------------------------------------------------------------
    def _train_mask(self, n: int, block_size: int, device: torch.device) -> torch.Tensor:
        key = (n, block_size, str(device))
        m = self._mask_cache.get(key)
        if m is None:
            m = self._mask_cache[key] = block_diff_mask(n, block_size, device)
        return m

    def forward_train(self, xt: torch.Tensor, x0: torch.Tensor, block_size: int) -> torch.Tensor:
        """Vectorized x_t (+) x_0 pass. Returns logits of the x_t half [B,n,V].

        attn_impl "explicit": split-attention form (below). "sdpa": one fused attention call per layer over
        the 2n tokens with the literal three-part mask (the last layer: the x_t queries only). Both compute
        the same function (tested); fills for masked scores follow the score dtype, so both run under
        bf16 autocast."""
        B, n = xt.shape
        L = block_size
        if n % L:
            raise ValueError(f"sequence length {n} is not a multiple of block size {L}")
        if self.attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl {self.attn_impl!r}: expected one of {ATTN_IMPLS}")
        if self.attn_impl == "sdpa" and not HAS_SDPA:
            raise RuntimeError("attn_impl 'sdpa' needs torch >= 2.0 (F.scaled_dot_product_attention)")
        nb = n // L
        D = self.config.head_dim
        scale = 1.0 / math.sqrt(D)
        c = self.conditioning()
        pos = torch.arange(n, device=xt.device)[None]  # [1, n]: cos/sin broadcast over the batch
        cos, sin = self.rotary_emb.cos_sin(pos)
        cos2, sin2 = torch.cat([cos, cos], dim=2), torch.cat([sin, sin], dim=2)
        x = self.vocab_embed(torch.cat([xt, x0], dim=1))
        nl = len(self.blocks)
        if self.attn_impl == "sdpa":
            full = self._train_mask(n, L, xt.device)  # [2n, 2n], rows/cols: x_t then x_0; True = attend
            for li, block in enumerate(self.blocks):
                mod = block.modulation(c)
                q, k, v = block.qkv(x, mod, cos2, sin2)
                dt = v.dtype  # rotary leaves q, k in fp32; under autocast v is bf16
                if li == nl - 1:
                    a = F.scaled_dot_product_attention(q[:, :, :n].to(dt), k.to(dt), v, attn_mask=full[:n])
                    x = block.finish(x[:, :n], a, mod)
                    break
                a = F.scaled_dot_product_attention(q.to(dt), k.to(dt), v, attn_mask=full)
                x = block.finish(x, a, mod)
            return self.head(x, c)
        blk = torch.arange(n, device=xt.device) // L
        causal0 = blk[:, None] >= blk[None, :]  # x0 -> x0 (M_BC)
        offset = blk[:, None] > blk[None, :]  # xt -> x0 (M_OBC)
        for li, block in enumerate(self.blocks):
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
        return self.head(x, c)

    def forward_train_reference(self, xt: torch.Tensor, x0: torch.Tensor, block_size: int) -> torch.Tensor:
        """The literal 2n x 2n three-part mask (block_diff_mask of the reference). For tests."""
        B, n = xt.shape
        mask = block_diff_mask(n, block_size, xt.device)
        D = self.config.head_dim
        c = self.conditioning()
        pos = torch.arange(n, device=xt.device)[None].expand(B, n)
        cos, sin = self.rotary_emb.cos_sin(pos)
        cos2, sin2 = torch.cat([cos, cos], dim=2), torch.cat([sin, sin], dim=2)
        x = self.vocab_embed(torch.cat([xt, x0], dim=1))
        for block in self.blocks:
            mod = block.modulation(c)
            q, k, v = block.qkv(x, mod, cos2, sin2)
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D)
            s = s.masked_fill(~mask, float("-inf"))
            x = block.finish(x, torch.matmul(torch.softmax(s, dim=-1), v), mod)
        return self.head(x, c)[:, :n]


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


class BD3LM(nn.Module):
    """Top-level module: `backbone.*` parameters, plus the clipped-schedule buffers when var_min is set."""

    def __init__(self, config: BD3LMConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.backbone = DITBackbone(config)
        if config.var_min:
            self.register_buffer("sampling_eps_min", torch.tensor(float(config.sampling_eps_min)))
            self.register_buffer("sampling_eps_max", torch.tensor(float(config.sampling_eps_max)))

    def step(self, *args, **kwargs):
        return self.backbone.step(*args, **kwargs)

    def forward_train(self, xt, x0, block_size: Optional[int] = None):
        return self.backbone.forward_train(xt, x0, block_size or self.config.block_size)


def init_weights(model: BD3LM, std: float = 0.02, output_std: Optional[float] = None, seed: Optional[int] = None,
                 adaln_std: float = 0.5) -> BD3LM:
    """Random weights for tests and benchmarks (the reference zero-inits adaLN and the output layer, which
    would make every logit 0): normal(std) matrices, normal(adaln_std) adaLN/sigma_map biases so the folded
    shift/scale/gate constants are non-trivial, zero Linear biases, LayerNorm weights 1."""
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm_final.weight"):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                if "adaLN" in name or "sigma_map" in name:
                    p.normal_(0.0, adaln_std, generator=g)
                else:
                    p.normal_(0.0, std, generator=g)
            else:
                s = output_std if (output_std is not None and "output_layer.linear" in name) else std
                p.normal_(0.0, s, generator=g)
    return model


def training_init(model: BD3LM, std: float = 0.02, seed: Optional[int] = None) -> BD3LM:
    """Initialisation for training from scratch: a plain pre-norm transformer at step 0 (adaLN weights 0,
    shift/scale biases 0, gate biases 1), GPT-2 style normal(0.02) weights with residual projections scaled
    by 1/sqrt(2 * layers)."""
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    nl = model.config.n_blocks
    d = model.config.hidden_dim
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm_final.weight"):
                p.fill_(1.0)
            elif "adaLN_modulation" in name:
                p.zero_()
                if name.endswith("bias") and name.startswith("backbone.blocks."):
                    p.view(6, d)[2].fill_(1.0)
                    p.view(6, d)[5].fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            elif "sigma_map" in name:
                p.normal_(0.0, std, generator=g)
            elif name.endswith("attn_out.weight") or name.endswith("mlp.2.weight"):
                p.normal_(0.0, std / math.sqrt(2 * nl), generator=g)
            else:
                p.normal_(0.0, std, generator=g)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def param_shapes(config: BD3LMConfig) -> List[Tuple[str, Tuple[int, ...]]]:
    """Expected names and shapes of an official-layout checkpoint."""
    m = BD3LM(config)
    out = [(k, tuple(v.shape)) for k, v in m.state_dict().items()]
    return out
