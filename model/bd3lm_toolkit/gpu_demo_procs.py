"""The `gpu_demo` driver's control of the trainer subprocesses (a mixin of `Driver`): launching `bd3lm_toolkit.train`
in its own session, waiting with SIGTERM past the stop time and SIGKILL at the hard limit, progress lines from
the trainers' logs, and recording each run as it ends. Uses `Bookkeeping`'s `say` and `record_run`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import List

from .gpu_demo_runs import MODEL_DIR, Run, read_jsonl, tail_text


class ProcessControl:
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
