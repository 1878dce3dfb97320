"""The `gpu_demo` driver's final phase (a mixin of `Driver`): copying the BD3 checkpoints into --out, evaluating a
run that left no final_eval (killed or failed) from its last checkpoint, and the reference-sampler samples.
torch and the model code are imported only here, when needed, so the driver itself starts without them."""
from __future__ import annotations

import os
import shutil

from .gpu_demo_runs import Run


class FinalPhase:
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
