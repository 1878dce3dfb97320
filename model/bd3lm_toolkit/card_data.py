"""What the demo cards are built from: where the committed training logs are, the facts about the run that are
not in them, loading them (`load_training`) and one row per training stage (`stage_rows`). No torch needed."""
from __future__ import annotations

import json
import os
from typing import Dict, List

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_TRAINING = os.path.join(REPO, "models", "kjv-bd3lm-b16", "training")
PACKAGES = {16: "kjv-bd3lm-b16", 4: "kjv-bd3lm-b4"}
PAPER_INTERVAL = {16: [0.3, 0.8], 4: [0.45, 0.95]}
SAMPLE_PROMPTS = ["And God said", "", "In the beginning"]
SAMPLE_SEEDS = [0, 1, 2]
ENGINE_PROMPT = "And God said"

# Facts about this run that are not in its logs (told by whoever ran it).
RUN_NOTES = {
    "phase2_shared": "during stage 2 the GPU and the CPU were also used by an engine benchmark (WebGPU and CPU "
                     "execution providers), so its steps/s are lower than the GPU allows",
    "continuation_where": "on the same H200 right after the gpu_demo run, two concurrent processes",
}
# The packages these replaced: same architecture and recipe on a CPU (commit 6b7415d).
CPU_HISTORY = ("History: the previous packages (same architecture and recipe, batch 16, trained for ~1 h on 2 busy "
               "CPU cores, ~2.9M tokens per BD3 model) reached AR continued 2.685 / L' = 4 2.998 / L' = 16 3.133 "
               "bits/byte.")
CPU_TOKENS = 2.9e6  # 0.93M (AR from scratch) + ~1.97M (BD3 fine-tune)


def read_jsonl(path: str) -> List[Dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_training(training: str) -> Dict:
    """The records the card is built from; KeyError/FileNotFoundError name what is missing."""
    with open(os.path.join(training, "results.json")) as fh:
        results = json.load(fh)
    cont = {}
    for L in PACKAGES:
        recs = read_jsonl(os.path.join(training, f"c{L}.log.jsonl"))
        start = next(r for r in recs if r.get("event") == "start")
        final = next(r for r in recs if r.get("event") == "final_eval")
        progress = [r for r in recs if "step" in r and "event" not in r]
        cont[L] = {"start": start, "final": final, "progress": progress,
                   "config": os.path.join(training, f"c{L}.config.json")}
    measured_path = os.path.join(training, "measured.json")
    measured = {}
    if os.path.isfile(measured_path):
        with open(measured_path) as fh:
            measured = json.load(fh)
    return {"dir": training, "results": results, "cont": cont, "measured": measured}


# ---------------------------------------------------------------------------------------------------- sections

def stage_rows(tr: Dict) -> List[Dict]:
    """One dict per training run, in order: stage, label, L', init, lr, minutes, steps, tokens, final eval."""
    runs = tr["results"]["runs"]
    rows = []
    labels = {"ar": "AR from scratch", "ar2": "AR continued", "b16": "BD3-LM L' = 16", "b4": "BD3-LM L' = 4"}
    for key, stage in (("ar", 1), ("ar2", 2), ("b16", 2), ("b4", 2)):
        r = runs[key]
        f = r["final_eval"]
        rows.append({"key": key, "stage": stage, "label": labels[key], "L": r["block_size"],
                     "lr": _lr(tr, key), "init": "scratch" if not r.get("init_from") else "stage 1",
                     "minutes": f["train_seconds"] / 60, "steps": f["step"], "tokens": f["tokens"], "final": f,
                     "attn": r.get("attn_impl"), "start_interval": r.get("start_interval"), "evals": r.get("evals", []),
                     "search": r.get("search")})
    for L in PACKAGES:
        c = tr["cont"][L]
        f = c["final"]
        rows.append({"key": f"c{L}", "stage": 3, "label": f"BD3-LM L' = {L}", "L": L, "lr": c["start"]["args"]["lr"],
                     "init": "stage 2", "minutes": f["train_seconds"] / 60, "steps": f["step"], "tokens": f["tokens"],
                     "final": f, "attn": c["start"].get("attn_impl"), "start_interval": f.get("interval"),
                     "evals": [], "search": f.get("search")})
    return rows


def _lr(tr: Dict, key: str) -> float:
    for rec in read_jsonl(os.path.join(tr["dir"], "logs.jsonl")):
        if rec.get("run") == key and rec.get("event") == "start":
            return rec["args"]["lr"]
    a = tr["results"]["args"]
    return a["lr_ar"] if key == "ar" else a["lr_ft"]
