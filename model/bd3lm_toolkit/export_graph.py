"""The module that becomes the ONNX graph: the DiT with every adaLN constant of the zero-sigma conditioning
folded into weights (`FoldedDenoiser`), the FastGelu node it emits and the `logit_stats` reduction (`subs_stats`).

Written as PyTorch so that `torch.onnx.export` traces it (`export_onnx.py`); what it computes equals
`BD3LM.step` (the parity tests hold every export to that).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .dit import BD3LM, MASK_FILL, rotate_half


class FastGelu(torch.autograd.Function):
    """tanh-approximated GELU of x + bias, exported as one `com.microsoft` FastGelu node (ONNX Runtime's CPU, CUDA
    and WebGPU providers implement it) instead of the ~10 elementwise nodes the formula spells out: on a GPU a
    small-batch forward is launch-bound, so kernels saved are time saved."""

    @staticmethod
    def forward(ctx, x, bias):  # noqa: D401 - torch.autograd.Function signature
        return F.gelu(x + bias, approximate="tanh")

    @staticmethod
    def symbolic(g, x, bias):
        out = g.op("com.microsoft::FastGelu", x, bias)
        out.setType(x.type())
        return out


class FoldedDenoiser(nn.Module):
    """The DiT with every adaLN constant folded, in the exact graph signature of the package."""

    def __init__(self, model: BD3LM):
        super().__init__()
        bb = model.backbone
        cfg = model.config
        self.n_heads, self.head_dim, self.d = cfg.n_heads, cfg.head_dim, cfg.hidden_dim
        with torch.no_grad():
            c = bb.conditioning()
            self.embedding = nn.Parameter(bb.vocab_embed.embedding.detach().clone())
            self.register_buffer("inv_freq", bb.rotary_emb.inv_freq.detach().clone())
            self.layers = nn.ModuleList()
            # 1/sqrt(head_dim) folded into the query rows of W_qkv (rotary is linear, so scaling q before or
            # after it is the same; exact when head_dim is a power of 4, as in the released shape)
            qkv_scale = torch.ones(3 * cfg.hidden_dim, 1)
            qkv_scale[: cfg.hidden_dim] = 1.0 / math.sqrt(cfg.head_dim)
            for blk in bb.blocks:
                shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = blk.modulation(c)
                L = nn.Module()
                L.ln1_w = nn.Parameter(blk.norm1.weight * (1 + scale_msa))
                L.ln1_b = nn.Parameter(shift_msa.clone())
                L.qkv = nn.Parameter(blk.attn_qkv.weight.detach() * qkv_scale)
                L.out = nn.Parameter(blk.attn_out.weight * gate_msa[:, None])
                L.ln2_w = nn.Parameter(blk.norm2.weight * (1 + scale_mlp))
                L.ln2_b = nn.Parameter(shift_mlp.clone())
                L.fc1_w = nn.Parameter(blk.mlp[0].weight.detach().clone())
                L.fc1_b = nn.Parameter(blk.mlp[0].bias.detach().clone())
                L.fc2_w = nn.Parameter(blk.mlp[2].weight * gate_mlp[:, None])
                L.fc2_b = nn.Parameter(blk.mlp[2].bias * gate_mlp)
                self.layers.append(L)
            shift, scale = bb.output_layer.adaLN_modulation(c)[0].view(2, -1)
            self.lnf_w = nn.Parameter(bb.output_layer.norm_final.weight * (1 + scale))
            self.lnf_b = nn.Parameter(shift.clone())
            self.head_w = nn.Parameter(bb.output_layer.linear.weight.detach().clone())
            self.head_b = nn.Parameter(bb.output_layer.linear.bias.detach().clone())
        self.register_buffer("neg", torch.tensor(MASK_FILL, dtype=torch.float32))
        # SUBS for logit_stats: 0 everywhere, -inf at [MASK], added before the max / logsumexp
        subs = torch.zeros(cfg.vocab_size, dtype=torch.float32)
        subs[cfg.mask_id] = float("-inf")
        self.register_buffer("subs_bias", subs)

    def forward(self, input_ids, position_ids, past_key, past_value, attention_mask, logit_index=None):
        B, Q = input_ids.shape[0], input_ids.shape[1]
        H, D = self.n_heads, self.head_dim
        x = F.embedding(input_ids, self.embedding)
        freqs = position_ids.to(torch.float32).unsqueeze(-1) * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)  # [B,1,Q,D]
        keep = attention_mask.unsqueeze(1)
        neg = self.neg
        pk, pv = [], []
        for i, L in enumerate(self.layers):
            h = F.layer_norm(x, [self.d], L.ln1_w, L.ln1_b, 1e-5)
            qkv = torch.matmul(h, L.qkv.t()).view(B, Q, 3, H, D).permute(2, 0, 3, 1, 4)
            # q and k rotated together: one rotary (7 graph nodes) instead of one each
            qk = qkv[:2]
            qk = qk * cos + rotate_half(qk) * sin
            q, k, v = qk[0], qk[1], qkv[2]
            pk.append(k)
            pv.append(v)
            kk = torch.cat([past_key[i], k], dim=2)
            vv = torch.cat([past_value[i], v], dim=2)
            s = torch.matmul(q, kk.transpose(-1, -2))  # q carries 1/sqrt(D) (folded into W_qkv)
            s = torch.where(keep, s, neg)
            a = torch.matmul(torch.softmax(s, dim=-1), vv)
            a = a.transpose(1, 2).reshape(B, Q, self.d)
            x = x + torch.matmul(a, L.out.t())
            h = F.layer_norm(x, [self.d], L.ln2_w, L.ln2_b, 1e-5)
            h = FastGelu.apply(torch.matmul(h, L.fc1_w.t()), L.fc1_b)
            x = x + torch.matmul(h, L.fc2_w.t()) + L.fc2_b
        if logit_index is not None:
            # [M] flat indices row * Q + position -> hidden states [M,d]; norm and output layer run on those rows only
            x = torch.index_select(x.reshape(-1, self.d), 0, logit_index)
        h = F.layer_norm(x, [self.d], self.lnf_w, self.lnf_b, 1e-5)
        logits = torch.matmul(h, self.head_w.t()) + self.head_b
        return logits, torch.stack(pk), torch.stack(pv), subs_stats(logits, self.subs_bias)


def subs_stats(logits: torch.Tensor, subs_bias: torch.Tensor) -> torch.Tensor:
    """[..., V] logits -> [..., 2]: [max, logsumexp] over the vocabulary with the [MASK] column excluded (subs_bias
    is 0 everywhere and -inf there). The logsumexp is spelled out (max + log(sum(exp(z - max)))), so the graph
    has ReduceMax/Exp/ReduceSum/Log rather than relying on a runtime's ReduceLogSumExp."""
    z = logits + subs_bias
    mx = torch.amax(z, dim=-1, keepdim=True)
    lse = mx + torch.log(torch.sum(torch.exp(z - mx), dim=-1, keepdim=True))
    return torch.cat([mx, lse], dim=-1)
