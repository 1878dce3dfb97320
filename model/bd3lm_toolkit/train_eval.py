"""The trainer's final evaluation record: held-out NLL/bits per byte of the EMA model (exact NLL for L' = 1,
NELBO with t ~ U[1e-3, 1] otherwise) and, with `--final-search`, the grid search of the noise interval."""
from __future__ import annotations

import argparse
from typing import Dict, Optional, Tuple

import torch

from .dit import BD3LM
from .objective import evaluate, interval_grid, search_interval


def final_eval(args: argparse.Namespace, em: BD3LM, vseqs: torch.Tensor, vsmall: torch.Tensor, mask_id: int, step: int,
               tokens_seen: int, elapsed: float, interval: Tuple[float, float], stopped: Optional[str],
               device: torch.device, use_bf16: bool) -> Dict:
    """The `final_eval` log record (without `final_seconds`, which the caller adds); `em` is the EMA model."""
    eps_min, eps_max = interval
    fseqs = vseqs if args.final_eval_seqs <= 0 else vseqs[: args.final_eval_seqs]
    ev = evaluate(em, fseqs, args.block_size, mask_id, repeats=1 if args.block_size == 1 else args.final_eval_repeats,
                  batch_size=args.eval_batch_size)
    rec = {"event": "final_eval", "step": step, "tokens": tokens_seen, "train_seconds": round(elapsed, 1),
           "val_nll": round(ev["nll"], 5), "val_bpb": round(ev["bits_per_token"], 5), "val_ppl": round(ev["ppl"], 4),
           "val_tokens": ev["tokens"], "bound": "exact NLL" if args.block_size == 1 else "NELBO, t ~ U[1e-3, 1]"}
    rec.update({"interval": [float(eps_min), float(eps_max)], "stopped": stopped, "device": str(device),
                "bf16": use_bf16, "attn_impl": em.backbone.attn_impl})
    if args.final_search and args.block_size > 1:
        grid = interval_grid(step=args.final_search_step) + [(1e-3, 1.0)]
        trained = (float(eps_min), float(min(eps_max, 1.0)))
        if trained not in grid:
            grid.append(trained)
        sr = search_interval(em, vsmall, args.block_size, mask_id, grid, batch_size=args.eval_batch_size)
        by = {tuple(r["interval"]): r for r in sr["results"]}
        best = by[tuple(sr["best"])]
        rec["search"] = {"seqs": int(len(vsmall)), "grid_step": args.final_search_step, "criterion": "lowest variance",
                         "best": sr["best"], "best_var": best["var"], "best_mean": best["mean"],
                         "full_var": by[(1e-3, 1.0)]["var"], "trained": list(trained), "trained_var": by[trained]["var"],
                         "results": sr["results"]}
    return rec
