"""Sampler fixtures for the TypeScript engine: recording a reference-sampler run with its noise and reveal
positions (`make_fixture`), and replaying one in PyTorch (`replay_fixture`). Format: model/README.md."""
from __future__ import annotations

from typing import Dict, List

import torch

from .dit import BD3LM
from .sampler_core import ReferenceSampler, SamplerOptions
from .sampler_math import b64_f32


def make_fixture(model: BD3LM, package: str, prompt: List[int], options: SamplerOptions, graph_dtype: str = "float32",
                 note: str = "") -> Dict:
    s = ReferenceSampler(model, options)
    res = s.generate(prompt, record=True)
    cfg = model.config
    return {
        "format": "bd3lm-sampler-fixture",
        "version": 1,
        "note": note,
        "package": package,
        "graph_dtype": graph_dtype,
        "vocab_size": cfg.vocab_size,
        "mask_token_id": cfg.mask_id,
        "eos_token_id": cfg.eos_id,
        "block_size": cfg.block_size,
        "context_length": cfg.model_length,
        "prompt_ids": list(prompt),
        "top_p": options.top_p,
        "temperature": options.temperature,
        "max_new_tokens": options.max_new_tokens,
        "stop_on_eos": options.stop_on_eos,
        "entropy_threshold": options.entropy_threshold,
        "entropy_window": options.entropy_window,
        "noise_encoding": "base64 little-endian float32, row-major [block_size, vocab_size]",
        "blocks": res["blocks"],
        "final_tokens": res["tokens"],
        "stop_reason": res["stop_reason"],
        "forwards": res["forwards"],
    }


def replay_fixture(model: BD3LM, fx: Dict) -> Dict:
    """Re-run a fixture with its recorded noise and reveal positions (used by the tests; the TypeScript engine
    does the same with ONNX Runtime)."""
    L, V = fx["block_size"], fx["vocab_size"]
    by_block = {b["index"]: b for b in fx["blocks"]}
    opts = SamplerOptions(top_p=fx["top_p"], temperature=fx["temperature"], max_new_tokens=fx["max_new_tokens"],
                          stop_on_eos=fx["stop_on_eos"], entropy_threshold=fx["entropy_threshold"],
                          entropy_window=fx["entropy_window"])
    s = ReferenceSampler(model, opts)
    return s.generate(
        fx["prompt_ids"], record=True,
        noise_source=lambda b, i: torch.from_numpy(b64_f32(by_block[b]["steps"][i]["noise"], (L, V)).copy()),
        reveal_source=lambda b, i, masked: by_block[b]["steps"][i]["revealed"],
    )
