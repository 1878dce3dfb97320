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
import json
import os
import shutil
import sys
import tempfile
from typing import Dict, Optional

# The graph module, the tracing, the float16 conversion and the manifest/card live in sibling modules (one job
# each); their names are re-exported here because callers import them from `export`.
from .checkpoint import CheckpointError, load_checkpoint
from .dit import BD3LM, count_parameters  # noqa: F401 - BD3LM re-exported
from .export_fp16 import _to_fp16
from .export_graph import FastGelu, FoldedDenoiser, subs_stats  # noqa: F401 - re-exported
from .export_manifest import _sha256, default_card, manifest_for
from .export_onnx import (CONTRIB_DOMAIN, GRAPH_FILES, INPUTS, LOGIT_INDEX, LOGIT_STATS, OPSET,  # noqa: F401
                          OUTPUTS, _declare_output_shapes, _dedupe_initializers, _export_fp32, graph_inputs)


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
