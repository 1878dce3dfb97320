"""Export a BD3-LM checkpoint folder to a model package (docs/model-package.md, format version 1).

  npm run model:export -- --from <checkpoint-dir> --out models/<name> [--dtypes float32,float16] [--name N]
      [--no-logit-index]

The graph is the KV-cached denoiser: inputs input_ids/position_ids [B,Q] int64, past_key/past_value [L,B,H,P,D],
attention_mask bool [B,Q,P+Q], logit_index int64 [M] (flat indices row * Q + position into the batch's B*Q step
positions, any order, duplicates allowed; --no-logit-index leaves it out and the graph returns logits for all
B x Q positions); outputs logits float32 [M,V] (raw; [B,Q,V] without logit_index), present_key/present_value
[L,B,H,Q,D] (the step tokens' K/V, keys post-rotary) and logit_stats float32 [M,2] ([B,Q,2] without
logit_index): per logits row [max, logsumexp] over the vocabulary without the [MASK] column (SUBS), from the
same float32 logits. The final hidden states [B,Q,d] are flattened to [B*Q,d] and gathered at logit_index
before the final norm and output layer, so only the M positions asked for pay for the vocabulary-wide
projection. The adaLN modulation of the constant zero-sigma conditioning is computed once and folded: into the
LayerNorm scale/bias (shift, 1 + scale) and into the output projections (gates), so sigma_map and adaLN are not
in the graph. Fewer, larger nodes, because a small-batch forward on a GPU is launch-bound: the attention scale is
folded into the query rows of W_qkv, q and k are rotated together, and the MLP's bias + tanh GELU is one
`com.microsoft` FastGelu node (ONNX Runtime's CPU, CUDA and WebGPU providers implement it; the package is
therefore for ONNX Runtime) - 14 nodes fewer per layer on the WebGPU provider.

The float16 graph stores weight matrices and past/present K/V as float16 and computes in float32 inside (weights are
cast once when the session loads; K/V cast at the graph edge); logits and logit_stats stay float32.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
from typing import Dict, List, Optional

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from .checkpoint import CheckpointError, load_checkpoint
from .config import BD3LMConfig
from .dit import BD3LM, MASK_FILL, count_parameters, rotate_half

OPSET = 17
# ONNX Runtime's contrib operators (FastGelu); every provider the worker uses registers it.
CONTRIB_DOMAIN = "com.microsoft"
GRAPH_FILES = {"float32": "model.onnx", "float16": "model.fp16.onnx"}
INPUTS = ["input_ids", "position_ids", "past_key", "past_value", "attention_mask"]
LOGIT_INDEX = "logit_index"
LOGIT_STATS = "logit_stats"
OUTPUTS = ["logits", "present_key", "present_value", LOGIT_STATS]


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


def _to_fp16(src: str, dst: str) -> None:
    """Weights and past/present K/V as float16; compute stays float32 (Cast at the graph edge)."""
    m = onnx.load(src)
    g = m.graph
    new_inits, casts = [], []
    for init in g.initializer:
        # matrices only: vectors (biases, LayerNorm scale/shift, rotary inv_freq) stay float32. inv_freq in
        # float16 would put rotary angles off by up to ~5e-4 * position radians.
        if init.data_type == TensorProto.FLOAT and len(init.dims) >= 2:
            arr = numpy_helper.to_array(init).astype(np.float16)
            h = numpy_helper.from_array(arr, name=init.name + "__fp16")
            new_inits.append(h)
            casts.append(helper.make_node("Cast", [h.name], [init.name], to=TensorProto.FLOAT, name=init.name + "__cast"))
        else:
            new_inits.append(init)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    # past_key/past_value: float16 inputs cast to float32
    for inp in g.input:
        if inp.name in ("past_key", "past_value"):
            inner = inp.name + "__f32"
            for node in g.node:
                for i, n in enumerate(node.input):
                    if n == inp.name:
                        node.input[i] = inner
            casts.append(helper.make_node("Cast", [inp.name], [inner], to=TensorProto.FLOAT, name=inp.name + "__cast"))
            inp.type.tensor_type.elem_type = TensorProto.FLOAT16
    tail = []
    for out in g.output:
        if out.name in ("present_key", "present_value"):
            inner = out.name + "__f32"
            for node in g.node:
                for i, n in enumerate(node.output):
                    if n == out.name:
                        node.output[i] = inner
            tail.append(helper.make_node("Cast", [inner], [out.name], to=TensorProto.FLOAT16, name=out.name + "__cast"))
            out.type.tensor_type.elem_type = TensorProto.FLOAT16
    nodes = casts + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)


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


def export_package(model_or_dir, out_dir: str, name: Optional[str] = None, dtypes=("float32", "float16"),
                   card_extra: str = "", source: Optional[str] = None, training: Optional[Dict] = None,
                   logit_index: bool = True) -> Dict:
    """Writes the package; `logit_index=False` exports the graph without the `logit_index` input (logits for
    every step position, the format before that input existed)."""
    if isinstance(model_or_dir, str):
        model = load_checkpoint(model_or_dir)
        source = source or model_or_dir
    else:
        model = model_or_dir.eval()
        source = source or "(in memory)"
    cfg = model.config
    name = name or os.path.basename(os.path.normpath(out_dir))
    for dt in dtypes:
        if dt not in GRAPH_FILES:
            raise SystemExit(f"unknown dtype {dt!r} (float32, float16)")
    os.makedirs(out_dir, exist_ok=True)
    graphs = []
    with tempfile.TemporaryDirectory() as tmp:
        f32 = os.path.join(tmp, "model.onnx")
        _export_fp32(model, f32, logit_index)
        for dt in dtypes:
            dst = os.path.join(out_dir, GRAPH_FILES[dt])
            if dt == "float32":
                shutil.copyfile(f32, dst)
            else:
                _to_fp16(f32, dst)
            graphs.append({"dtype": dt, "file": GRAPH_FILES[dt], "sha256": _sha256(dst), "bytes": os.path.getsize(dst)})
    if training is None and cfg.training:
        tr = cfg.training
        training = {"objective": tr.get("objective", "bd3lm"), "block_size": int(tr.get("block_size", cfg.block_size))}
        if tr.get("noise_interval") and training["objective"] == "bd3lm":
            training["noise_interval"] = [float(x) for x in tr["noise_interval"]]
    man = manifest_for(cfg, name, graphs, training, logit_index)
    with open(os.path.join(out_dir, "manifest.json"), "w") as fh:
        json.dump(man, fh, indent=2)
        fh.write("\n")
    card = os.path.join(out_dir, "README.md")
    with open(card, "w") as fh:
        fh.write(default_card(cfg, name, count_parameters(model), source, man, card_extra))
    return man


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="src", required=True, help="checkpoint folder (config.json + model.safetensors or pytorch_model.bin)")
    ap.add_argument("--out", required=True, help="package folder to write")
    ap.add_argument("--name", default=None, help="package name (default: the folder name)")
    ap.add_argument("--dtypes", default="float32,float16")
    ap.add_argument("--card-extra", default=None, help="markdown file appended to the generated README card")
    ap.add_argument("--no-logit-index", action="store_true",
                    help="leave the logit_index input out (logits for every step position, as before it existed)")
    args = ap.parse_args(argv)
    extra = open(args.card_extra).read() if args.card_extra else ""
    try:
        man = export_package(args.src, args.out, args.name, [d.strip() for d in args.dtypes.split(",") if d.strip()], extra,
                             logit_index=not args.no_logit_index)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"out": args.out, "graphs": man["graphs"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
