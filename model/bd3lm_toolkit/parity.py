"""ONNX Runtime (onnxruntime-node) vs PyTorch parity for a model package.

  bash model/scripts/python.sh -m bd3lm_toolkit.parity --package models/kjv-bd3lm-b16 --ckpt <checkpoint-dir>

Cases (PyTorch reference = the unfolded DiT's `step`): past length 0; one block of past; full context;
positions beyond the context (sliding window, absolute positions); a ragged batch (rows with different past
lengths, padded and masked; each row must equal that sequence run alone) plus a fully masked padding row; and
the folded step [previous clean block ; current block] vs commit-then-step.

A package whose manifest declares `logit_index` gets every step position in the cases above (the flat index
0..B*Q-1, logits reshaped to [B,Q,V]), plus `logit_index` cases: flat index lists (row * Q + position) of the
positions a sampler asks for (one masked position as first hitting does, every masked position of the block as
ddpm/confidence do, ragged rows asking for different numbers of positions and the padding row for none, one
out of order with duplicates, the current half of the folded step); their logits must equal the matching rows
of the full logits. A package whose manifest declares the `logit_stats` output has it checked in every case
against [max, logsumexp] over the vocabulary without the [MASK] column, computed in float64 from the PyTorch
logits (and from the graph's own logits).

Report: {dtype: {case: {check: value}}}; every check is a max |diff| except `*_rel` (max |diff| / max |reference|
over the compared tensor) and `ms` (run time). `max_abs(report)` / `max_rel(report)` summarize per dtype.
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

# The cases, the logit_index feeds and the comparison live in sibling modules (one job each); their names are
# re-exported here because the tests and `demo.py` import them from `parity`.
from .dit import BD3LM  # noqa: F401 - re-exported
from .parity_cases import block_causal, build_cases, history_kv  # noqa: F401 - re-exported
from .parity_check import _compare, _max, _rel, max_abs, max_rel, run_parity  # noqa: F401 - re-exported
from .parity_index import _feeds, all_positions, flat_index, logit_index_cases, subs_stats64  # noqa: F401


def main(argv=None) -> int:
    from .checkpoint import load_checkpoint

    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.parity", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True)
    ap.add_argument("--ckpt", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rep = run_parity(args.package, load_checkpoint(args.ckpt))
    print(json.dumps({"max_abs_diff": max_abs(rep), "max_rel_diff": max_rel(rep), "cases": rep}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
