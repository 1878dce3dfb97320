"""The `gpu_demo` driver's bookkeeping (a mixin of `Driver`): progress lines in train.log, results.json (rewritten
after every step), the per-run records taken from each trainer's log, logs.jsonl, the results table and the
closing summary. Uses the driver's `t0`, `deadline`, `out`, `work`, `args`, `results` and `runs`."""
from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional

from .gpu_demo_runs import LOGS, RESULTS, Run, read_jsonl


class Bookkeeping:
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
