"""A package's `manifest.json` (`manifest_for`) and its default README card (`default_card`, which the demo
cards of `card.py` extend), plus the graph file checksum they record."""
from __future__ import annotations

import hashlib
import json
from typing import Dict, List, Optional

from .config import BD3LMConfig
from .export_onnx import OUTPUTS, graph_inputs


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_for(cfg: BD3LMConfig, name: str, graphs: List[Dict], training: Optional[Dict], logit_index: bool = True) -> Dict:
    man = {
        "format": "bd3lm-onnx",
        "format_version": 1,
        "name": name,
        "architecture": {
            "num_layers": cfg.n_blocks, "hidden_size": cfg.hidden_dim, "num_heads": cfg.n_heads,
            "head_dim": cfg.head_dim, "mlp_hidden_size": cfg.mlp_hidden,
        },
        "vocab_size": cfg.vocab_size,
        "mask_token_id": cfg.mask_id,
        "bos_token_id": cfg.bos_id,
        "eos_token_id": cfg.eos_id,
        "tokenizer": {"kind": cfg.tokenizer},
        "block_size": cfg.block_size,
        "context_length": cfg.model_length,
        "rotary_base": cfg.rotary_base,
        "graphs": graphs,
        "io": {"inputs": {k: k for k in graph_inputs(logit_index)}, "outputs": {k: k for k in OUTPUTS}},
    }
    if training:
        man["training"] = training
    return man


def default_card(cfg: BD3LMConfig, name: str, params: int, source: str, man: Dict, extra: str = "") -> str:
    tr = cfg.training or {}
    lines = [
        f"# {name}",
        "",
        "A BD3-LM (block diffusion language model) exported to ONNX by `bd3lm_toolkit` "
        "(docs/model-package.md, format version 1).",
        "",
        "| field | value |",
        "|---|---|",
        f"| architecture | DiT, {cfg.n_blocks} layers x d={cfg.hidden_dim}, {cfg.n_heads} heads (head dim {cfg.head_dim}), MLP {cfg.mlp_hidden} |",
        f"| parameters | {params:,} in the checkpoint (adaLN/sigma_map folded away in the graph) |",
        f"| vocabulary | {cfg.vocab_size} ({cfg.tokenizer}); [MASK] = {cfg.mask_id}, BOS = EOS = {cfg.bos_id} |",
        f"| block size L' | {cfg.block_size} |",
        f"| context length | {cfg.model_length} |",
        f"| source checkpoint | `{source}` |",
    ]
    if tr:
        lines.append(f"| training | {json.dumps(tr, sort_keys=True)} |")
    lines += ["", "## Graphs", ""]
    for gph in man["graphs"]:
        lines.append(f"- `{gph['file']}` ({gph['dtype']}, {gph['bytes']:,} bytes, sha256 `{gph['sha256']}`)")
    lines += [
        "",
        "Graph I/O: `input_ids`/`position_ids` int64 [B,Q]; `past_key`/`past_value` [L,B,H,P,D] (post-rotary keys; P may be 0); "
        "`attention_mask` bool [B,Q,P+Q]; "
        + ("`logit_index` int64 [M] (flat indices row * Q + position of the step positions that get logits, M >= 1, any "
           "order, duplicates allowed); outputs `logits` float32 [M,V] "
           if "logit_index" in man["io"]["inputs"] else "outputs `logits` float32 [B,Q,V] ")
        + "(raw: SUBS is the sampler's job), "
        "`present_key`/`present_value` [L,B,H,Q,D]"
        + (", `logit_stats` float32 " + ("[M,2]" if "logit_index" in man["io"]["inputs"] else "[B,Q,2]")
           + " (per logits row: max and logsumexp over the vocabulary without [MASK])"
           if "logit_stats" in man["io"]["outputs"] else "")
        + ". The float16 graph has float16 weight matrices and K/V (vectors such as rotary frequencies stay float32) and "
        "computes in float32.",
    ]
    if extra:
        lines += ["", extra.rstrip()]
    return "\n".join(lines) + "\n"
