"""Train a BD3-LM (or its L'=1 AR special case) on the byte-level KJV corpus.

  npm run model:train -- --out /tmp/runs/ar --block-size 1 --minutes 25
  npm run model:train -- --out /tmp/runs/b16 --block-size 16 --init-from /tmp/runs/ar/checkpoint --minutes 30
  python3 -m bd3lm_toolkit.train --out /tmp/runs/ar --block-size 1 --minutes 2 --device cuda --bf16 \
      --batch-size 256 --data kjv.txt.xz            (GPU; PYTHONPATH=model)

Writes <out>/checkpoint/ (official HF layout, EMA weights), <out>/state.pt (raw weights, optimizer, EMA, data
RNG: `--resume` continues from it; `--no-state` skips it) and <out>/log.jsonl. See model/README.md.

Devices: `--device auto|cpu|cuda` (auto: cuda when available). On the CPU nothing differs from before the
option existed (same draws, same arithmetic). On CUDA: the token stream, the batch sampling, the EMA, the
optimizer and the evaluation all live on the GPU; TF32 matmuls; `--bf16` runs the forward pass and the loss
under bf16 autocast (parameters, gradients, EMA and AdamW state stay fp32); `--attention auto` uses fused
scaled-dot-product attention (torch >= 2.0) after a preflight on the device checks it against the explicit
split-attention form (falling back to explicit, then to fp32, if a configuration fails or disagrees).
The loss is read back to the host only every `--log-every` steps, so the GPU is never drained per step.

Time: `--minutes` is the training budget (evaluations and saves excluded; the LR schedule follows it).
`--stop-at <unix time>` and SIGTERM end training early but still run the final evaluation and save, so a
driver can hold a hard wall-clock budget without losing the run.
"""
from __future__ import annotations

import argparse
import sys

# The run itself and its parts (device helpers, schedules, preflight, model setup, final eval) live in sibling
# modules (one job each); names other modules and the tests import from `train` are re-exported here.
from .train_device import amp_context, enable_tf32, resolve_device, sync, torch_load  # noqa: F401 - re-exported
from .train_eval import final_eval  # noqa: F401 - re-exported
from .train_loop import run
from .train_preflight import preflight  # noqa: F401 - re-exported
from .train_schedule import EMA, ema_model, lr_at, parse_interval  # noqa: F401 - re-exported
from .train_setup import build_model  # noqa: F401 - re-exported


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="run folder")
    ap.add_argument("--block-size", type=int, default=16)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup-frac", type=float, default=0.03)
    ap.add_argument("--warmup-steps", type=int, default=0,
                    help="also ramp the LR linearly over the first N steps (0 = off): a time-based warm-up alone "
                         "is a step or two when the budget is short and the first steps are slow")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock training budget (the LR schedule follows it)")
    ap.add_argument("--stop-at", type=float, default=None,
                    help="unix time at which training stops whatever the budget (then final eval + save)")
    ap.add_argument("--noise-interval", default="paper",
                    help="beta,omega | full (U[1e-3,1]) | paper (L'<=4: 0.45,0.95; else 0.3,0.8); ignored for L'=1")
    ap.add_argument("--search-interval", action="store_true", help="re-pick the interval by grid search at each eval")
    ap.add_argument("--final-search", action="store_true",
                    help="after the final eval, grid-search the interval on --eval-seqs held-out sequences (L' > 1) "
                         "and record it in the final_eval record (the training interval is not changed)")
    ap.add_argument("--final-search-step", type=float, default=0.05)
    ap.add_argument("--eval-every-min", type=float, default=5.0)
    ap.add_argument("--eval-seqs", type=int, default=64, help="held-out sequences used by the periodic eval")
    ap.add_argument("--eval-batch-size", type=int, default=16)
    ap.add_argument("--final-eval-seqs", type=int, default=0, help="0 = all held-out sequences")
    ap.add_argument("--final-eval-repeats", type=int, default=2)
    ap.add_argument("--init-from", default=None, help="checkpoint folder to start from (e.g. the L'=1 AR run)")
    ap.add_argument("--mask-row", choices=["keep", "mean"], default="keep",
                    help="with --init-from: 'mean' resets the [MASK] embedding to the mean of the other rows")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--no-state", action="store_true", help="do not write state.pt (no --resume possible)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu", help="auto | cpu | cuda[:i] (auto = cuda when available)")
    ap.add_argument("--bf16", action="store_true", help="CUDA: bf16 autocast for the forward pass and the loss")
    ap.add_argument("--preflight", action="store_true",
                    help="run the attention/bf16 preflight on any device (always done on cuda)")
    ap.add_argument("--attention", choices=["auto", "explicit", "sdpa"], default="auto",
                    help="forward_train attention: auto = sdpa on CUDA when torch has it (checked by the preflight), "
                         "explicit on the CPU")
    ap.add_argument("--data-dir", "--data", dest="data_dir", default=None,
                    help="corpus: a kjv.txt file (plain or xz) or a folder holding kjv.txt (default: the cache folder)")
    ap.add_argument("--log-every", type=int, default=20)
    return ap


def main(argv=None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
