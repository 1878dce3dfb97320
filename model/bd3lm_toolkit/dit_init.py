"""Weight initialisations of a BD3LM: random weights for tests and benchmarks (`init_weights`) and the
from-scratch training init (`training_init`). They only fill parameters in place, by name."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn

# `model` is a BD3LM; typed as nn.Module because dit.py re-exports these functions, so importing BD3LM here
# would make the two modules import each other.
ModelT = nn.Module


def init_weights(model: ModelT, std: float = 0.02, output_std: Optional[float] = None, seed: Optional[int] = None,
                 adaln_std: float = 0.5) -> ModelT:
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


def training_init(model: ModelT, std: float = 0.02, seed: Optional[int] = None) -> ModelT:
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
