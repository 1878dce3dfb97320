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

# The layers, the training passes and the initialisations live in sibling modules (one job each); they are
# re-exported here because the rest of the toolkit and the tests import them from `dit`.
from . import dit_train
from .config import BD3LMConfig
from .dit_init import init_weights, training_init  # noqa: F401 - re-exported
from .dit_layers import (DDiTBlock, DDitFinalLayer, EmbeddingLayer, LayerNorm, Rotary,  # noqa: F401 - re-exported
                         TimestepEmbedder, apply_rotary, modulate, rotate_half)
from .dit_train import ATTN_IMPLS, HAS_SDPA, block_diff_mask  # noqa: F401 - re-exported

MASK_FILL = -1e9  # finite: a fully masked (padding) row stays finite


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
        """Vectorized x_t (+) x_0 pass (logits of the x_t half [B,n,V]); see `dit_train.forward_train`."""
        return dit_train.forward_train(self, xt, x0, block_size)

    def forward_train_reference(self, xt: torch.Tensor, x0: torch.Tensor, block_size: int) -> torch.Tensor:
        """The literal 2n x 2n three-part mask. For tests."""
        return dit_train.forward_train_reference(self, xt, x0, block_size)


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


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def param_shapes(config: BD3LMConfig) -> List[Tuple[str, Tuple[int, ...]]]:
    """Expected names and shapes of an official-layout checkpoint."""
    m = BD3LM(config)
    out = [(k, tuple(v.shape)) for k, v in m.state_dict().items()]
    return out
