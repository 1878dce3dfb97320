"""Write a random model of the released shape (12 x 768, vocab 50258, GPT-2 tokenizer kind, context 1024) and
export it to a package, for the engine benchmark. Nothing here is committed (models/.cache/ is gitignored).

  bash model/scripts/python.sh -m bd3lm_toolkit.random_package [--out models/.cache/random-owt-b16] [--block-size 16]
      [--dtypes float32,float16] [--layers N --hidden D --heads H --context C]  (overrides, e.g. for a smaller run)

Writes <out>.ckpt/ (official HF layout checkpoint, usable by bench_reference) and <out>/ (package). Skips the
work when both exist and were written with the same options and exporter (--force to redo). When only the
exporter changed (or with --force), an existing checkpoint written with the same config and seed is kept and
only the package is re-exported from it (--new-checkpoint writes the checkpoint again as well).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .checkpoint import write_random_checkpoint
from .config import released_config
from .export import export_package

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.random_package", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "models", ".cache", "random-owt-b16"))
    ap.add_argument("--block-size", type=int, default=16)
    ap.add_argument("--dtypes", default="float32,float16")
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--hidden", type=int, default=None)
    ap.add_argument("--heads", type=int, default=None)
    ap.add_argument("--context", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="re-export even when the package is up to date")
    ap.add_argument("--new-checkpoint", action="store_true", help="write the random checkpoint again even when one with "
                    "the same config and seed exists")
    args = ap.parse_args(argv)
    cfg = released_config(args.block_size)
    changes = {k: v for k, v in {"n_blocks": args.layers, "hidden_dim": args.hidden, "n_heads": args.heads,
                                 "model_length": args.context}.items() if v is not None}
    cfg = cfg.replace(**changes)
    cfg.validate("arguments")
    out = os.path.abspath(args.out)
    ckpt = out + ".ckpt"
    # bump "exporter" when export changes (3: logit_index; 4: flat logit_index [M] and the logit_stats output;
    # 5: FastGelu, q and k rotated together, attention scale folded into W_qkv)
    stamp = {"config": cfg.to_json_dict(), "seed": args.seed, "dtypes": args.dtypes, "exporter": 5}
    stamp_path = os.path.join(out, ".random_package.json")
    old = json.load(open(stamp_path)) if os.path.isfile(stamp_path) else None
    if not args.force and old == stamp:
        print(json.dumps({"package": out, "checkpoint": ckpt, "cached": True}))
        return 0
    t0 = time.time()
    reuse = (not args.new_checkpoint and old is not None and old.get("config") == stamp["config"]
             and old.get("seed") == stamp["seed"] and os.path.isfile(os.path.join(ckpt, "config.json"))
             and os.path.isfile(os.path.join(ckpt, "model.safetensors")))
    if not reuse:
        # output_std 0.05 keeps the logits of a 768-wide random model in a realistic range (not one-hot)
        write_random_checkpoint(ckpt, cfg, seed=args.seed, output_std=0.05)
    t1 = time.time()
    man = export_package(ckpt, out, name=os.path.basename(out)[:64], dtypes=[d for d in args.dtypes.split(",") if d],
                         card_extra="Random weights of the released BD3-LM shape, for benchmarks only: no meaningful text.\n")
    with open(stamp_path, "w") as fh:
        json.dump(stamp, fh)
    print(json.dumps({"package": out, "checkpoint": ckpt, "cached": False, "checkpoint_reused": reuse,
                      "checkpoint_seconds": round(t1 - t0, 1),
                      "export_seconds": round(time.time() - t1, 1), "graphs": man["graphs"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
