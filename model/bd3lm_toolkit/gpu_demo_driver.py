"""The `gpu_demo` driver: the demo recipe's phases (AR from scratch; AR continued + BD3 L' = 16 + BD3 L' = 4
concurrently; final evals, checkpoints, samples) under one hard wall-clock budget. What each phase does and
why: the module docstring of `gpu_demo.py`. The subprocess control, bookkeeping and final phase are mixins."""
from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from typing import Any, Dict, List, Optional

from .gpu_demo_final import FinalPhase
from .gpu_demo_procs import ProcessControl
from .gpu_demo_records import Bookkeeping
from .gpu_demo_runs import TRAIN_LOG, Run


class Driver(ProcessControl, Bookkeeping, FinalPhase):
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.t0 = time.time()
        self.deadline = self.t0 + args.total_minutes * 60 - args.safety_s
        self.out = os.path.abspath(args.out)
        os.makedirs(self.out, exist_ok=True)
        self.work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="bd3lm-gpu-demo-")
        os.makedirs(self.work, exist_ok=True)
        self.log_fh = open(os.path.join(self.out, TRAIN_LOG), "a")
        self.results: Dict[str, Any] = {"format": "bd3lm-gpu-demo", "version": 1, "errors": []}
        self.runs: Dict[str, Run] = {}

    # -- the command -----------------------------------------------------------------------------------------------
    def trainer_args(self, block_size: int, minutes: float, lr: float, seed: int, init_from: Optional[str],
                     eval_every_min: float, concurrent: int = 1) -> List[str]:
        a = self.args
        out = ["--block-size", str(block_size), "--minutes", f"{minutes}", "--lr", f"{lr}", "--seed", str(seed),
               "--batch-size", str(a.batch_size), "--ema", f"{a.ema}", "--warmup-steps", str(a.warmup_steps),
               "--warmup-frac", f"{a.warmup_frac}", "--min-lr-frac", f"{a.min_lr_frac}", "--log-every", str(a.log_every),
               "--eval-every-min", f"{eval_every_min}", "--eval-seqs", str(a.eval_seqs),
               "--eval-batch-size", str(a.eval_batch_size), "--final-eval-seqs", str(a.final_eval_seqs),
               "--final-eval-repeats", "2", "--no-state", "--device", self.device, "--preflight", "--attention", a.attention,
               "--data", self.corpus, "--context", str(a.context)]
        threads = a.threads or (max(1, (os.cpu_count() or 1) // concurrent) if concurrent > 1 else None)
        if threads:
            out += ["--threads", str(threads)]
        if not a.no_bf16 and self.device.startswith("cuda"):
            out.append("--bf16")
        if init_from:
            out += ["--init-from", init_from]
        else:
            out += ["--layers", str(a.layers), "--hidden", str(a.hidden), "--heads", str(a.heads)]
        if block_size > 1:
            out += ["--noise-interval", "paper", "--final-search", "--final-search-step", f"{a.search_step}"]
            if not a.no_search_interval:
                out.append("--search-interval")
        return out

    def prepare_corpus(self) -> None:
        from .data import read_corpus_bytes, split_stream, tokens_from_text
        raw = read_corpus_bytes(self.args.data)
        toks = tokens_from_text(raw)
        train, val = split_stream(toks, 0.05)
        if len(val) < self.args.context:
            raise SystemExit(f"{self.args.data}: corpus too small ({len(toks)} tokens) for context {self.args.context}")
        self.corpus = os.path.join(self.work, "kjv.txt")
        with open(self.corpus, "wb") as fh:
            fh.write(raw)
        self.results["corpus"] = {"source": self.args.data, "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
                                  "documents": int((toks == 256).sum()), "train_tokens": int(len(train)),
                                  "val_tokens": int(len(val))}
        self.say(f"corpus: {len(raw):,} bytes, {self.results['corpus']['documents']} books, "
                 f"{len(train):,} train / {len(val):,} held-out tokens")

    def run(self) -> int:
        import platform

        import torch

        a = self.args
        if a.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        else:
            self.device = a.device
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise SystemExit(f"--device {a.device}: torch {torch.__version__} sees no CUDA device")
        self.results.update({
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.t0)), "args": vars(a),
            "work": self.work, "device": self.device,
            "env": {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
                    "cpus": os.cpu_count()},
        })
        self.say(f"bd3lm gpu_demo: device {self.device}, torch {torch.__version__}, total budget {a.total_minutes:.2f} min "
                 f"(deadline in {self.remaining():.0f}s), work {self.work}, out {self.out}")
        self.prepare_corpus()
        self.write_results()

        # phase 1 ---------------------------------------------------------------------------------------------
        ar = Run("ar", 1, os.path.join(self.work, "ar"),
                 self.trainer_args(1, a.minutes_ar, a.lr_ar, 0, None, max(a.minutes_ar / 2, 0.05)))
        self.runs["ar"] = ar
        t1 = time.time()
        phase2_min = min(60.0, a.minutes_bd3 * 60 / 2)  # phase 1 may not eat more than half of phase 2
        hard1 = self.deadline - a.final_reserve_s - phase2_min
        stop1 = min(t1 + a.startup_s + a.minutes_ar * 60, hard1 - a.trainer_final_s)
        self.say(f"phase 1: AR (L'=1) from scratch, {a.minutes_ar} min training")
        self.launch(ar, stop1)
        self.wait([ar], stop1, hard1)
        self.results["phase1_s"] = round(time.time() - t1, 1)
        init = ar.ckpt if ar.has_checkpoint() else None
        if init is None:
            self.error("phase 1", RuntimeError("the AR run left no checkpoint: phase 2 starts from scratch"))

        # phase 2 ---------------------------------------------------------------------------------------------
        t2 = time.time()
        hard2 = self.deadline - a.final_reserve_s
        stop2 = min(t2 + a.startup_s + a.minutes_bd3 * 60, hard2 - a.trainer_final_s)
        lr2 = a.lr_ft if init else a.lr_ar
        ev_ar2 = max(a.minutes_bd3 / 3, 0.05)
        ev_bd3 = max(a.minutes_bd3 / 4, 0.05)
        for name, L, seed, ev in (("ar2", 1, 1, ev_ar2), ("b16", 16, 2, ev_bd3), ("b4", 4, 3, ev_bd3)):
            self.runs[name] = Run(name, L, os.path.join(self.work, name),
                                  self.trainer_args(L, a.minutes_bd3, lr2, seed, init, ev, concurrent=3), init_from=init)
        p2 = [self.runs[n] for n in ("ar2", "b16", "b4")]
        self.say(f"phase 2: AR continued, BD3 L'=16, BD3 L'=4 concurrently, {a.minutes_bd3} min training each "
                 f"(stop-at in {stop2 - time.time():.0f}s, hard limit in {hard2 - time.time():.0f}s)")
        for r in p2:
            try:
                self.launch(r, stop2)
            except Exception as exc:  # noqa: BLE001 - the other runs go on
                self.error(f"launch {r.name}", exc)
        self.wait(p2, stop2, hard2)
        self.results["phase2_s"] = round(time.time() - t2, 1)
        for r in p2:
            if r.proc is None:
                continue
            if r.rc is None:
                self.finish(r)
        self.write_logs()

        # final -----------------------------------------------------------------------------------------------
        for name in ("b16", "b4"):
            try:
                self.deliver_checkpoint(self.runs[name])
            except Exception as exc:  # noqa: BLE001
                self.error(f"checkpoint {name}", exc)
        for name in ("ar", "ar2", "b16", "b4"):
            try:
                self.ensure_eval(self.runs[name])
            except Exception as exc:  # noqa: BLE001
                self.error(f"eval {name}", exc)
        self.results["table"] = self.table()
        self.write_results()
        try:
            self.samples()
        except Exception as exc:  # noqa: BLE001
            self.error("samples", exc)
        self.write_logs()
        self.summary()
        ok = all(self.runs[n].has_checkpoint() for n in ("b16", "b4"))
        return 0 if ok else 1
