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
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

MODEL_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RESULTS = "results.json"
TRAIN_LOG = "train.log"
LOGS = "logs.jsonl"


@dataclass
class Run:
    """One trainer subprocess and what became of it."""
    name: str
    block_size: int
    dir: str
    args: List[str]
    init_from: Optional[str] = None
    proc: Optional[subprocess.Popen] = None
    started: float = 0.0
    ended: float = 0.0
    rc: Optional[int] = None
    signalled: List[str] = field(default_factory=list)
    out_fh: Any = None

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "log.jsonl")

    @property
    def ckpt(self) -> str:
        return os.path.join(self.dir, "checkpoint")

    def has_checkpoint(self) -> bool:
        return os.path.isfile(os.path.join(self.ckpt, "model.safetensors")) and \
            os.path.isfile(os.path.join(self.ckpt, "config.json"))


def read_jsonl(path: str) -> List[Dict]:
    out = []
    if not os.path.isfile(path):
        return out
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line cut by a kill
    return out


def tail_text(path: str, lines: int = 25) -> str:
    if not os.path.isfile(path):
        return ""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 16000))
        txt = fh.read().decode("utf-8", errors="replace")
    return "\n".join(txt.splitlines()[-lines:])


class Driver:
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

    # -- output ------------------------------------------------------------------------------------------------
    def say(self, msg: str) -> None:
        line = f"[{time.time() - self.t0:7.1f}s] {msg}"
        print(line, flush=True)
        self.log_fh.write(line + "\n")
        self.log_fh.flush()

    def error(self, where: str, exc: BaseException) -> None:
        self.results["errors"].append({"where": where, "error": repr(exc)[:1000]})
        self.say(f"ERROR {where}: {exc!r}")
        self.write_results()

    def write_results(self) -> None:
        self.results["wall_s"] = round(time.time() - self.t0, 1)
        path = os.path.join(self.out, RESULTS)
        with open(path + ".tmp", "w") as fh:
            json.dump(self.results, fh, indent=1)
        os.replace(path + ".tmp", path)

    def remaining(self) -> float:
        return self.deadline - time.time()

    # -- subprocesses --------------------------------------------------------------------------------------------
    def launch(self, run: Run, stop_at: float) -> None:
        os.makedirs(run.dir, exist_ok=True)
        cmd = [sys.executable, "-m", "bd3lm_toolkit.train", "--out", run.dir, *run.args, "--stop-at", f"{stop_at:.1f}"]
        env = dict(os.environ)
        env["PYTHONPATH"] = MODEL_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        run.out_fh = open(os.path.join(run.dir, "stdout.log"), "w")
        run.out_fh.write("$ " + " ".join(cmd) + "\n")
        run.out_fh.flush()
        run.started = time.time()
        run.proc = subprocess.Popen(cmd, stdout=run.out_fh, stderr=subprocess.STDOUT, env=env, cwd=MODEL_DIR,
                                    start_new_session=True)
        self.say(f"{run.name}: started pid {run.proc.pid} (L'={run.block_size}, init "
                 f"{'from ' + os.path.relpath(run.init_from, self.work) if run.init_from else 'scratch'}; "
                 f"stop-at in {stop_at - time.time():.0f}s)")

    def progress_line(self, run: Run) -> str:
        recs = read_jsonl(run.log_path)
        # training records only: preflight records carry a "loss" too, without step/lr/throughput
        last = next((r for r in reversed(recs) if "loss" in r and "step" in r and "tok_per_s" in r), None)
        ev = next((r for r in reversed(recs) if r.get("event") in ("eval", "final_eval")), None)
        pre = [r for r in recs if r.get("event") == "preflight" and r.get("ok") and "attn_impl" in r]
        s = f"{run.name}:"
        if last:
            s += (f" step {last['step']} loss {last['loss']:.4f} lr {last['lr']:.2e} {last.get('steps_per_s', 0):.1f} step/s "
                  f"{last['tok_per_s'] / 1e6:.2f}M tok/s train {last['elapsed_s']:.0f}s ({100 * last['progress']:.0f}%)")
        elif pre:
            s += f" preflight ok ({pre[-1]['attn_impl']}, bf16={pre[-1]['bf16']})"
        else:
            s += " starting"
        if ev:
            s += f" | {ev['event']} bpb {ev['val_bpb']}" + (f" interval {ev['interval']}" if ev.get("interval") else "")
        return s

    def wait(self, runs: List[Run], stop_at: float, kill_at: float) -> None:
        """Wait for the runs; SIGTERM once past stop_at + 2 s (they should have stopped by themselves), SIGKILL at kill_at."""
        last_progress = time.time()
        while True:
            live = [r for r in runs if r.proc is not None and r.proc.poll() is None]
            for r in runs:
                if r.proc is not None and r.rc is None and r.proc.poll() is not None:
                    self.finish(r)
            if not live:
                return
            now = time.time()
            if now >= kill_at:
                for r in live:
                    self.say(f"{r.name}: still running at the hard limit: SIGKILL")
                    r.signalled.append("SIGKILL")
                    self.signal(r, signal.SIGKILL)
            elif now >= stop_at + 2:
                for r in live:
                    if "SIGTERM" not in r.signalled:
                        self.say(f"{r.name}: past its stop time: SIGTERM (final eval + save, then exit)")
                        r.signalled.append("SIGTERM")
                        self.signal(r, signal.SIGTERM)
            if now - last_progress >= self.args.progress_every_s:
                last_progress = now
                for r in live:
                    try:
                        self.say(self.progress_line(r))
                    except Exception as e:  # a progress line must never end the run
                        self.say(f"{r.name}: (progress line failed: {e!r})")
            time.sleep(0.5)

    @staticmethod
    def signal(run: Run, sig: int) -> None:
        try:
            os.killpg(run.proc.pid, sig)  # the trainer is its own session: its whole group
        except (ProcessLookupError, PermissionError):
            try:
                run.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def finish(self, run: Run) -> None:
        run.rc = run.proc.returncode
        run.ended = time.time()
        if run.out_fh:
            run.out_fh.close()
            run.out_fh = None
        final = self.final_record(run)
        if run.rc == 0 and final and all(k in final for k in ("step", "tokens", "val_bpb", "bound")):
            self.say(f"{run.name}: done in {run.ended - run.started:.0f}s: {final['step']} steps, "
                     f"{final['tokens'] / 1e6:.1f}M tokens, val {final['val_bpb']:.4f} bits/byte ({final['bound']})"
                     + (f", stopped by {final['stopped']}" if final.get("stopped") else ""))
        else:
            self.say(f"{run.name}: FAILED rc={run.rc} after {run.ended - run.started:.0f}s; checkpoint "
                     f"{'present' if run.has_checkpoint() else 'missing'}; last output:\n"
                     + tail_text(os.path.join(run.dir, "stdout.log")))
        self.record_run(run)

    def kill_all(self) -> None:
        for r in self.runs.values():
            if r.proc is not None and r.proc.poll() is None:
                self.signal(r, signal.SIGKILL)

    # -- bookkeeping ----------------------------------------------------------------------------------------------
    @staticmethod
    def final_record(run: Run) -> Optional[Dict]:
        return next((r for r in reversed(read_jsonl(run.log_path)) if r.get("event") == "final_eval"), None)

    def record_run(self, run: Run) -> None:
        recs = read_jsonl(run.log_path)
        start = next((r for r in recs if r.get("event") == "start"), {})
        final = self.final_record(run)
        prog = [r for r in recs if "loss" in r and "step" in r and "tok_per_s" in r]  # training records only
        rec: Dict[str, Any] = {
            "block_size": run.block_size, "init_from": os.path.relpath(run.init_from, self.work) if run.init_from else None,
            "rc": run.rc, "signals": run.signalled, "wall_s": round((run.ended or time.time()) - run.started, 1),
            "checkpoint": run.has_checkpoint(), "params": start.get("params"), "device": start.get("device"),
            "gpu": start.get("gpu"), "torch": start.get("torch"), "attn_impl": start.get("attn_impl"),
            "bf16": start.get("bf16"), "start_interval": start.get("interval"),
            "preflight": [r for r in recs if r.get("event") == "preflight"],
            "evals": [r for r in recs if r.get("event") == "eval"],
            "last_progress": prog[-1] if prog else None,
            "mean_tok_per_s": round(sum(r["tok_per_s"] for r in prog) / len(prog), 1) if prog else None,
        }
        if final:
            rec["final_eval"] = {k: v for k, v in final.items() if k != "search"}
            if "search" in final:
                rec["search"] = final["search"]
        self.results.setdefault("runs", {})[run.name] = rec
        self.write_results()

    def write_logs(self) -> None:
        with open(os.path.join(self.out, LOGS + ".tmp"), "w") as fh:
            for name, run in self.runs.items():
                for r in read_jsonl(run.log_path):
                    fh.write(json.dumps({"run": name, **r}) + "\n")
        os.replace(os.path.join(self.out, LOGS + ".tmp"), os.path.join(self.out, LOGS))

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

    def deliver_checkpoint(self, run: Run) -> None:
        dst = os.path.join(self.out, run.name, "checkpoint")
        if not run.has_checkpoint():
            self.say(f"{run.name}: no checkpoint to deliver")
            return
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        os.makedirs(dst)
        for f in ("config.json", "model.safetensors"):
            shutil.copy2(os.path.join(run.ckpt, f), os.path.join(dst, f))
        self.results.setdefault("checkpoints", {})[run.name] = os.path.relpath(dst, self.out)

    def ensure_eval(self, run: Run) -> None:
        """A run that died or was killed has no final_eval: evaluate its last checkpoint here (same estimator)."""
        rec = self.results.setdefault("runs", {}).get(run.name)
        if rec is None and run.proc is None:
            return
        if rec and rec.get("final_eval"):
            return
        if not run.has_checkpoint():
            return
        if self.remaining() < self.args.final_reserve_s / 2:
            self.say(f"{run.name}: no final eval and no time left to run one")
            return
        import torch

        from .checkpoint import load_checkpoint
        from .data import load_kjv_tokens, split_stream, val_sequences
        from .objective import evaluate
        dev = torch.device(self.device)
        model = load_checkpoint(run.ckpt).to(dev)
        _, val = split_stream(load_kjv_tokens(self.corpus), 0.05)
        seqs = val_sequences(val, model.config.model_length)
        if self.args.final_eval_seqs > 0:
            seqs = seqs[: self.args.final_eval_seqs]
        ev = evaluate(model, seqs, run.block_size, model.config.mask_id, batch_size=self.args.eval_batch_size,
                      repeats=1 if run.block_size == 1 else 2)
        tr = model.config.training or {}
        rec = self.results["runs"].setdefault(run.name, {})
        rec["final_eval"] = {"by": "driver (the trainer left no final_eval)", "step": tr.get("steps"),
                             "tokens": tr.get("tokens"), "train_seconds": tr.get("train_seconds"),
                             "val_nll": round(ev["nll"], 5), "val_bpb": round(ev["bits_per_token"], 5),
                             "val_ppl": round(ev["ppl"], 4), "val_tokens": ev["tokens"],
                             "bound": "exact NLL" if run.block_size == 1 else "NELBO, t ~ U[1e-3, 1]",
                             "interval": tr.get("noise_interval")}
        self.say(f"{run.name}: driver eval of the last checkpoint: {ev['bits_per_token']:.4f} bits/byte")
        self.write_results()

    def table(self) -> List[Dict]:
        labels = {"ar": "AR from scratch (L'=1)", "ar2": "AR continued (L'=1)", "b16": "BD3-LM L'=16", "b4": "BD3-LM L'=4"}
        rows = []
        for name in ("ar", "ar2", "b16", "b4"):
            rec = self.results.get("runs", {}).get(name)
            f = (rec or {}).get("final_eval")
            if not f:
                rows.append({"run": name, "label": labels[name], "status": "no result"})
                continue
            rows.append({"run": name, "label": labels[name], "steps": f.get("step"), "tokens": f.get("tokens"),
                         "train_minutes": round((f.get("train_seconds") or 0) / 60, 2), "val_bpb": f.get("val_bpb"),
                         "val_ppl": f.get("val_ppl"), "bound": f.get("bound"), "interval": f.get("interval"),
                         "stopped": f.get("stopped"), "init_from": rec.get("init_from")})
        return rows

    def samples(self) -> None:
        import torch

        from .checkpoint import load_checkpoint
        from .data import decode_bytes, encode_bytes
        from .sampler import ReferenceSampler, SamplerOptions
        a = self.args
        if a.sample_threads:
            torch.set_num_threads(a.sample_threads)
        prompt = encode_bytes(a.prompt)
        out = self.results.setdefault("samples", {})
        self.results["sampling"] = {"prompt": a.prompt, "top_p": a.top_p, "max_new_tokens": a.sample_tokens,
                                    "device": "cpu", "sampler": "bd3lm_toolkit.sampler.ReferenceSampler"}
        plan = [("b16", a.samples), ("b4", a.samples),
                ("ar2" if self.runs["ar2"].has_checkpoint() else "ar", a.ar_samples)]
        for name, n in plan:
            run = self.runs[name]
            if n <= 0 or not run.has_checkpoint():
                continue
            model = load_checkpoint(run.ckpt)
            out[name] = []
            for i in range(n):
                if self.remaining() < 3:
                    self.say(f"samples: deadline near, {name} sample {i} skipped")
                    self.results["errors"].append({"where": f"samples {name}", "error": "skipped: deadline"})
                    break
                opts = SamplerOptions(top_p=a.top_p, max_new_tokens=a.sample_tokens, seed=i)
                res = ReferenceSampler(model, opts).generate(prompt)
                text = decode_bytes(res["tokens"][1:])
                out[name].append({"seed": i, "text": text, "stop_reason": res["stop_reason"],
                                  "generated": res["generated"], "seconds": round(res["seconds"], 2)})
                self.write_results()
            self.say(f"samples: {name}: {len(out[name])} done")

    def summary(self) -> None:
        self.say("=" * 100)
        self.say(f"{'run':28s} {'steps':>7s} {'tokens':>8s} {'min':>5s} {'bits/byte':>10s} {'ppl':>8s}  bound / interval")
        for r in self.results.get("table", []):
            if "val_bpb" not in r:
                self.say(f"{r['label']:28s} {r['status']}")
                continue
            self.say(f"{r['label']:28s} {r['steps']!s:>7} {(r['tokens'] or 0) / 1e6:>7.1f}M {r['train_minutes']:>5.2f} "
                     f"{r['val_bpb']:>10.4f} {r['val_ppl']:>8.3f}  {r['bound']}"
                     + (f" / trained U{r['interval']}" if r.get("interval") and r["interval"][0] < 1 else "")
                     + (f" (stopped: {r['stopped']})" if r.get("stopped") else ""))
        for name in ("b16", "b4"):
            s = self.results.get("runs", {}).get(name, {}).get("search")
            if s:
                self.say(f"grid search {name}: best U{s['best']} var {s['best_var']:.4f} (mean {s['best_mean']:.4f}); "
                         f"U[1e-3,1] var {s['full_var']:.4f}; trained U{s['trained']} var {s['trained_var']:.4f}")
        for name, ss in self.results.get("samples", {}).items():
            for s in ss[:1]:
                self.say(f"sample {name} seed {s['seed']}: " + json.dumps(s["text"][:240]))
        if self.results["errors"]:
            self.say(f"errors: {len(self.results['errors'])} (see results.json)")
        self.write_results()
        files = []
        for root, _, names in os.walk(self.out):
            for n in sorted(names):
                p = os.path.join(root, n)
                files.append((os.path.relpath(p, self.out), os.path.getsize(p)))
        self.say("files: " + ", ".join(f"{p} ({s / 1e6:.2f} MB)" for p, s in sorted(files)))
        self.say(f"total wall {time.time() - self.t0:.0f}s of {self.args.total_minutes * 60:.0f}s")


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
