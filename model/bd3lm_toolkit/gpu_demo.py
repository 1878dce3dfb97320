"""Retrain the demo models (kjv-bd3lm-b16, kjv-bd3lm-b4) on one GPU in a few minutes, end to end, one command.

  PYTHONPATH=model python3 -m bd3lm_toolkit.gpu_demo --data kjv.txt.xz --out OUT --minutes-ar 1.5 --minutes-bd3 3

Same architecture and corpus as the committed CPU demo (4 layers, hidden 192, 4 heads, context 256, byte vocab
258; byte-level KJV, last 5% held out); only the budget and the device change. The steps are `bd3lm_toolkit.train`
runs in subprocesses (each with its own log), so one failing run never takes the others' results with it:

  phase 1  AR (L' = 1) from scratch for --minutes-ar                                              -> work/ar
  phase 2  three concurrent runs on the same GPU, each --minutes-bd3, all initialised from phase 1's EMA checkpoint
           (from scratch if phase 1 left none): AR continued (L' = 1: the same compute as the BD3 runs, for a fair
           comparison), BD3-LM L' = 16 and BD3-LM L' = 4                                  -> work/ar2, work/b16, work/b4
  final    held-out bits/byte of every run (BD3: NELBO bound with t ~ U[1e-3, 1]; AR: exact NLL), computed by each
           trainer on its EMA weights on the GPU; the grid search of the clipped noise interval on the final BD3
           models (64 held-out sequences, step 0.05, lowest NELBO variance, plus U[1e-3, 1] and the trained
           interval); --samples samples per BD3 model (and --ar-samples from the AR) with the reference sampler
           (`sampler.py`, on the CPU: exactly the reference's draws) after the prompt --prompt.

Outputs in --out (7 files, flat enough to be copied back from a remote $OUT, which takes at most 8 files at most
two folders down): results.json (everything: runs, numbers, grid search, samples, errors), train.log (this
driver's progress lines), logs.jsonl (every run's log.jsonl records, each with a "run" key), and the EMA
checkpoints of the two BD3 models in the official HF layout, b16/checkpoint/{config.json,model.safetensors} and
b4/checkpoint/{...}. The run folders (per-run log.jsonl, stdout.log, the AR checkpoints) stay in --work.

Time. --total-minutes (default minutes-ar + minutes-bd3 + 1.5) is a hard wall-clock budget for the whole command.
Each trainer gets its training budget (--minutes: evaluations excluded; the LR schedule follows it) and an absolute
--stop-at after which it stops training at the next step and still runs its final evaluation and save; the driver
then sends SIGTERM (same effect) and, at the phase's hard limit, SIGKILL (the last periodic checkpoint is then
used). Phase 2's limits are clamped so that the final phase has --final-reserve-s seconds before the total budget
ends; samples are skipped when the deadline is near. results.json is rewritten after every step.

Hyperparameters (defaults) and why, for a 1.9M-parameter model on an H200 for a few minutes:
  * batch 256 sequences x 256 tokens (65k tokens/step; the x_t (+) x_0 pass doubles it to 512 positions): the model
    is so small that a step at batch 16 would be all Python and kernel-launch overhead (~600 launches/step); at 256
    the GPU work should dominate while still giving thousands of optimizer steps in a few minutes. (Estimate, not
    measured: no GPU was available when this was written; the logs report steps/s and tokens/s.)
  * AdamW, lr 2.5e-3 from scratch (small widths tolerate about 1/width-scaled rates: GPT-2 small uses 6e-4 at
    width 768), 1.5e-3 for the phase-2 fine-tunes (the CPU recipe also halved the rate for fine-tunes); warm-up
    over the first 100 steps and 2% of the time, cosine by time to 10%; gradient clipping 1.0; no weight decay
    (as the CPU recipe; 1.9M parameters cannot memorise the 3.9M-byte training stream).
  * EMA 0.999 (a horizon of ~1000 steps, well below the expected step count; the trainer ramps it in early).
  * bf16 autocast for the forward pass and the loss (parameters, EMA and optimizer state fp32), TF32 matmuls, fused
    scaled-dot-product attention with the three-part mask; each trainer's preflight checks SDPA against the
    explicit attention on the GPU and falls back (explicit, then fp32) rather than fail.
  * Noise interval: the paper's clipped schedule to start (L' = 16: U[0.3, 0.8]; L' = 4: U[0.45, 0.95]) re-picked by
    the trainer's grid search (`--search-interval`, step 0.1, 32 held-out sequences) at 1/4, 1/2 and 3/4 of the
    budget, as the paper does during training (the CPU demo's final search preferred U[0.5, 1.0] for L' = 16).
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import List, Optional

# The driver and its parts live in sibling modules (one job each); their names are re-exported here so that
# `gpu_demo.<name>` keeps working for callers.
from .gpu_demo_driver import Driver
from .gpu_demo_runs import LOGS, MODEL_DIR, RESULTS, TRAIN_LOG, Run, read_jsonl, tail_text  # noqa: F401


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bd3lm_toolkit.gpu_demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="kjv.txt (plain or xz-compressed), books separated by form-feed lines")
    ap.add_argument("--out", required=True, help="output folder (results.json, train.log, logs.jsonl, b16/, b4/)")
    ap.add_argument("--work", default=None, help="run folders (default: a new folder under the temp dir)")
    ap.add_argument("--minutes-ar", type=float, default=1.5, help="phase 1 training budget")
    ap.add_argument("--minutes-bd3", type=float, default=3.0, help="phase 2 training budget of each run")
    ap.add_argument("--total-minutes", type=float, default=None, help="hard budget (default minutes-ar + minutes-bd3 + 1.5)")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr-ar", type=float, default=2.5e-3, help="phase 1 (from scratch)")
    ap.add_argument("--lr-ft", type=float, default=1.5e-3, help="phase 2 (initialised from the AR)")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--warmup-frac", type=float, default=0.02)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--no-bf16", action="store_true", help="CUDA: train in fp32 (TF32) instead of bf16 autocast")
    ap.add_argument("--attention", choices=["auto", "explicit", "sdpa"], default="auto")
    ap.add_argument("--no-search-interval", action="store_true", help="keep the paper's interval during phase 2")
    ap.add_argument("--search-step", type=float, default=0.05, help="final grid search step")
    ap.add_argument("--eval-seqs", type=int, default=64, help="held-out sequences for periodic evals and the grid search")
    ap.add_argument("--eval-batch-size", type=int, default=256)
    ap.add_argument("--final-eval-seqs", type=int, default=0, help="0 = the whole held-out set")
    ap.add_argument("--log-every", type=int, default=50, help="trainer progress line (and loss sync) every N steps")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads per trainer (default: 2 on cuda)")
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--samples", type=int, default=3, help="samples per BD3 model")
    ap.add_argument("--ar-samples", type=int, default=1, help="samples from the AR model, for comparison")
    ap.add_argument("--sample-tokens", type=int, default=200)
    ap.add_argument("--sample-threads", type=int, default=4)
    ap.add_argument("--prompt", default="And God said")
    ap.add_argument("--top-p", type=float, default=0.9)
    ap.add_argument("--startup-s", type=float, default=45.0, help="allowance for a trainer's start (imports, CUDA, data)")
    ap.add_argument("--trainer-final-s", type=float, default=20.0, help="allowance for a trainer's final eval + save")
    ap.add_argument("--final-reserve-s", type=float, default=20.0, help="time kept for the final phase (samples, files)")
    ap.add_argument("--safety-s", type=float, default=5.0, help="margin before the total budget")
    ap.add_argument("--progress-every-s", type=float, default=15.0)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.total_minutes is None:
        args.total_minutes = args.minutes_ar + args.minutes_bd3 + 1.5
    if args.threads is None and args.device != "cpu":
        args.threads = 2
    drv = Driver(args)

    def on_term(signum, frame) -> None:  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    rc = 1
    try:
        rc = drv.run()
    except KeyboardInterrupt as exc:
        drv.error("driver", exc)
    except SystemExit as exc:
        drv.error("driver", exc)
        rc = exc.code if isinstance(exc.code, int) else 2
    except Exception as exc:  # noqa: BLE001 - keep whatever was written
        drv.error("driver", exc)
    finally:
        drv.kill_all()
        try:
            drv.write_logs()
        except Exception:  # noqa: BLE001
            pass
        drv.results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        drv.results["exit_code"] = rc
        drv.write_results()
    return rc


if __name__ == "__main__":
    sys.exit(main())
