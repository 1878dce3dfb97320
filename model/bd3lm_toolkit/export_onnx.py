"""Tracing the folded DiT to an ONNX opset 17 graph with the package's input/output names, then tidying the
traced graph (merging duplicate initializers, declaring the output shapes the exporter cannot infer).

The float16 conversion of the traced graph is `export_fp16.py`; manifest and card are `export_manifest.py`.
"""
from __future__ import annotations

import hashlib
from typing import Dict, List

import onnx
import torch

from .config import BD3LMConfig
from .dit import BD3LM
from .export_graph import FoldedDenoiser

OPSET = 17
# ONNX Runtime's contrib operators (FastGelu); every provider the worker uses registers it.
CONTRIB_DOMAIN = "com.microsoft"
GRAPH_FILES = {"float32": "model.onnx", "float16": "model.fp16.onnx"}
INPUTS = ["input_ids", "position_ids", "past_key", "past_value", "attention_mask"]
LOGIT_INDEX = "logit_index"
LOGIT_STATS = "logit_stats"
OUTPUTS = ["logits", "present_key", "present_value", LOGIT_STATS]


def graph_inputs(logit_index: bool) -> List[str]:
    return INPUTS + [LOGIT_INDEX] if logit_index else list(INPUTS)


def _export_fp32(model: BD3LM, path: str, logit_index: bool = True) -> None:
    cfg = model.config
    folded = FoldedDenoiser(model).eval()
    B, Q, P = 2, 3, 5
    ids = torch.randint(0, cfg.vocab_size, (B, Q))
    pos = torch.arange(P, P + Q)[None].expand(B, Q).contiguous()
    pk = torch.randn(cfg.n_blocks, B, cfg.n_heads, P, cfg.head_dim)
    pv = torch.randn(cfg.n_blocks, B, cfg.n_heads, P, cfg.head_dim)
    mask = torch.ones(B, Q, P + Q, dtype=torch.bool)
    args = (ids, pos, pk, pv, mask)
    if logit_index:
        # M = 4: not B, Q, B*Q or P, so it is its own axis; out of order, with a duplicate
        args = args + (torch.tensor([5, 0, 5, 2], dtype=torch.long),)
    dyn = {
        "input_ids": {0: "batch", 1: "step"},
        "position_ids": {0: "batch", 1: "step"},
        "past_key": {1: "batch", 3: "past"},
        "past_value": {1: "batch", 3: "past"},
        "attention_mask": {0: "batch", 1: "step", 2: "total"},
        "logits": {0: "num_logits"} if logit_index else {0: "batch", 1: "step"},
        "present_key": {1: "batch", 3: "step"},
        "present_value": {1: "batch", 3: "step"},
        LOGIT_STATS: {0: "num_logits"} if logit_index else {0: "batch", 1: "step"},
    }
    if logit_index:
        dyn[LOGIT_INDEX] = {0: "num_logits"}
    with torch.no_grad():
        torch.onnx.export(
            folded, args, path, input_names=graph_inputs(logit_index), output_names=OUTPUTS,
            dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True,
            custom_opsets={CONTRIB_DOMAIN: 1},
        )
    m = onnx.load(path)
    _dedupe_initializers(m)
    _declare_output_shapes(m, cfg, logit_index)
    m.producer_name = "bd3lm_toolkit"
    onnx.save(m, path)


def _declare_output_shapes(m: onnx.ModelProto, cfg: BD3LMConfig, logit_index: bool) -> None:
    """The exporter cannot infer shapes through the contrib FastGelu node, so the outputs' fixed dimensions
    (vocabulary, layers, heads, head_dim) would be left symbolic; declare them as the contract has them."""
    rows = ["num_logits"] if logit_index else ["batch", "step"]
    kv = [cfg.n_blocks, "batch", cfg.n_heads, "step", cfg.head_dim]
    shapes = {"logits": rows + [cfg.vocab_size], LOGIT_STATS: rows + [2], "present_key": kv, "present_value": kv}
    for out in m.graph.output:
        dims = out.type.tensor_type.shape.dim
        del dims[:]
        for size in shapes[out.name]:
            dim = dims.add()
            if isinstance(size, int):
                dim.dim_value = size
            else:
                dim.dim_param = size


def _dedupe_initializers(m: onnx.ModelProto) -> int:
    """Merge byte-identical initializers (constant folding can duplicate weights)."""
    seen: Dict[tuple, str] = {}
    rename: Dict[str, str] = {}
    keep = []
    for init in m.graph.initializer:
        key = (init.data_type, tuple(init.dims), hashlib.sha256(init.raw_data or init.SerializeToString()).hexdigest())
        if key in seen and init.raw_data:
            rename[init.name] = seen[key]
        else:
            seen[key] = init.name
            keep.append(init)
    if not rename:
        return 0
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    for node in m.graph.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    return len(rename)
